"""The notes' numbers as a lab declares them: data keyed by the name of the check, each the metric
of ours it is compared with (a path into what the lab's ``run`` returned), the bar ours must meet,
written as it is shown, and the notes' figure::

    NOTES = {
        "B8 test accuracy": ("test/B8 Xavier/accuracy", "≥ 0.975", 0.9805),
        "B9 test accuracy vs B7": (("test/B9 He/accuracy", "test/B7 normal(0,1)/accuracy"), "B9 > B7", None),
        "B7 cost, epoch 1 → last": ("fits/B7 normal(0,1)/train_loss", "falls > 50x", [129.38, 0.786]),
        "B7 cost at epoch 1": ("fits/B7 normal(0,1)/train_loss/1", "from 12.9 to 1294", 129.38),
    }

A path goes through the returned dict by its keys ("test/B8 Xavier/accuracy", and a list's index:
"valid_accuracy/-1"); ``fits/<run>/<column>``
is a column of a fit's history, one curve per seed, and ``fits/<run>/<column>/<epoch>`` its value
at one epoch (from 1) over the seeds. The bars (on the mean, for a distribution over
seeds; on each entry of a list):

- ``≥ x``, ``≤ x``, ``> x``, ``< x``, ``= x`` (x a number, ``True`` or ``False``); ``from a to b``
  (both included); ``x ± t``;
- ``A > B``, ``A < B`` for a pair of paths, named A and B in the bar;
- ``falls``, ``falls > 50x`` (the last below the first ÷ 50), ``falls, every seed``, ``rises``,
  ``falls every epoch``: a curve's first and last epochs, or a pair of paths (first, last);
- ``reported`` (a number, not nan: an event the run must report), ``none`` (compared only: it
  depends on the random draw);
- a list of bars for a tuple of paths: every part must hold.

A path the run did not return (a run that other settings leave out) is a check that is not met,
saying so.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from experiments.harness import checks
from experiments.harness.checks import NO_FIGURE, Check
from experiments.harness.stats import dist
from jaxnets.errors import InputError
from jaxnets.record import FitResult

Note = tuple[Any, Any, Any]  # (path or paths, bar or bars, the notes' figure)
_COMPARE = re.compile(r"^(≥|≤|>|<|=)\s*(\S+)$")
_PAIR = re.compile(r"^(.+?) (>|<) (.+)$")
_RANGE = re.compile(r"^from (\S+) to (\S+)$")
_NEAR = re.compile(r"^(\S+) ± (\S+)$")
_FALLS = re.compile(r"^falls(?: > (\S+)x)?(, every seed)?$")


def checks_of(
    notes: Mapping[str, Note], returned: Mapping[str, Any], fits: Mapping[str, FitResult]
) -> list[Check]:
    """Each note as a ``Check`` of the metrics ``returned`` (distributions over seeds already)
    and the ``fits``, its bar shown as it is written."""
    return [_check(name, *note, returned, fits) for name, note in notes.items()]


def _check(name: str, paths: Any, bar: Any, figure: Any, metrics: Mapping, fits: Mapping) -> Check:
    figure = NO_FIGURE if figure is None else figure
    if isinstance(bar, list | tuple):  # several parts, every one must hold
        parts = [_check(_label(p), p, b, None, metrics, fits) for p, b in zip(paths, bar, strict=True)]
        check = checks.all_of(name, [p.ours for p in parts], parts, figure)
        return dataclasses.replace(check, bar=" and ".join(f"{p.name} {p.bar}" for p in parts))
    try:
        many = isinstance(paths, list | tuple)
        ours = [_at(p, metrics, fits) for p in paths] if many else _at(paths, metrics, fits)
    except KeyError as missing:  # a run these settings leave out (--quick's fewer learning rates, …)
        return Check(
            name, None, figure, f"{bar} (not measured: no {missing.args[0]} at these settings)", False
        )
    return dataclasses.replace(_bar(name, ours, bar, figure), bar=bar)


def _bar(name: str, ours: Any, bar: str, figure: Any) -> Check:
    if bar == "none":
        return checks.compared(name, _shown(ours), figure)
    if bar == "reported":
        return checks.reported(name, _shown(ours), figure)
    if m := _COMPARE.match(bar):
        op, x = m.groups()
        value = {"True": True, "False": False}.get(x, None)
        if op == "=":
            return checks.equal(name, _shown(ours), float(x) if value is None else value, figure)
        test = {"≥": checks.at_least, "≤": checks.at_most, ">": checks.above, "<": checks.below}[op]
        return test(name, _shown(ours), float(x), figure)
    if m := _RANGE.match(bar):
        return checks.between(name, _shown(ours), float(m.group(1)), float(m.group(2)), figure)
    if m := _NEAR.match(bar):
        return checks.within(name, _shown(ours), float(m.group(1)), float(m.group(2)), figure)
    if m := _FALLS.match(bar):
        first, last = _pair(ours, bar)
        by = float(m.group(1) or 1)
        return checks.falls(name, first, last, by=by, every_seed=bool(m.group(2)), notes=figure)
    if m := _PAIR.match(bar):
        a, b = _pair(ours, bar)
        compare = checks.greater if m.group(2) == ">" else checks.less
        return compare(name, a, b, (m.group(1), m.group(3)), figure)
    if bar == "rises":
        return checks.rises(name, *_pair(ours, bar), figure)
    if bar == "falls every epoch":
        return checks.falls_every_epoch(name, np.atleast_2d(np.asarray(ours, float)), figure)
    raise InputError(f"the bar {bar!r} of {name!r} is not one of notes.py's (≥ x, from a to b, falls, …)")


def _label(path: str) -> str:
    """What a part of a check is called in its bar: the last key of its path."""
    return path.rsplit("/", 1)[-1]


def _at(path: str, metrics: Mapping, fits: Mapping) -> Any:
    """The value at ``path``: through the metrics' keys, or a fit's history column (runs, epochs)."""
    keys = path.split("/")
    if keys[0] == "fits":
        if keys[1] not in fits:
            raise KeyError(path)
        curve = np.atleast_2d(np.asarray(fits[keys[1]].history[keys[2]], float))
        return curve if len(keys) == 3 else dist(curve[:, int(keys[3]) - 1])  # (its epoch, from 1)
    value: Any = metrics
    for key in keys:
        if isinstance(value, list) and key.lstrip("-").isdigit() and -len(value) <= int(key) < len(value):
            value = value[int(key)]  # an entry of a list (a curve's epoch, from 0; -1 the last)
        elif isinstance(value, Mapping) and key in value:
            value = value[key]
        else:
            raise KeyError(path)
    return value


def _pair(ours: Any, bar: str) -> tuple[Any, Any]:
    """(first, last): a pair of values as given, or a curve's first and last epochs over its seeds."""
    if isinstance(ours, list) and len(ours) == 2:
        return ours[0], ours[1]
    if isinstance(ours, np.ndarray) and ours.ndim == 2:
        last = [row[np.isfinite(row)][-1] if np.isfinite(row).any() else np.nan for row in ours]
        return dist(ours[:, 0]), dist(last)
    raise InputError(f"the bar {bar!r} needs two values or a curve, got {type(ours).__name__}")


def _shown(ours: Any) -> Any:
    """A curve shown as each seed's last epoch; anything else as it is."""
    if isinstance(ours, np.ndarray) and ours.ndim == 2:
        return _pair(ours, "")[1]
    return ours
