"""Checks: one number of ours beside the notes' figure, the bar ours must meet, and whether it
does. Each helper writes the bar's text from the threshold it tests, so the two cannot disagree::

    at_least("B8 test accuracy", ours, 0.975, notes=0.9805)   # bar "≥ 0.975"

Ours may be a distribution over seeds (``stats.Dist``): the bar then applies to its mean, and
the notes' figure is placed in it (inside [min, max]? its z-score), so a reader sees whether the
notes' one draw is typical of ours.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from experiments.harness import stats
from experiments.harness.stats import Dist

NO_FIGURE = "(no figure)"


@dataclass(frozen=True)
class Check:
    """One reported number: ours, the notes' (a number, a list, or words), the bar in words, and
    whether ours meets it."""

    name: str
    ours: Any
    notes: Any
    bar: str
    passed: bool
    placement: Any = None  # where the notes' figure falls in our distribution(s), see ``stats.placement``

    def __post_init__(self) -> None:
        if self.placement is None:
            object.__setattr__(self, "placement", _placement(self.notes, self.ours))

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Check:
        # The placement is worked out again from ours and the notes: a hand-edited or foreign
        # file's own cannot break a report.
        return cls(d["name"], _from_json(d["ours"]), d["notes"], str(d["bar"]), bool(d["passed"]))


def _from_json(value: Any) -> Any:
    """Distributions back from their JSON form, in lists too."""
    if stats.is_dist_json(value):
        return stats.from_json(value)
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _placement(notes: Any, ours: Any) -> Any:
    """The notes' figure placed in our distribution (a list of placements for lists), where ours
    is a distribution of two or more seeds and the notes give a number."""
    if isinstance(ours, Dist) and _number(notes) and ours.n >= 2:
        return stats.placement(float(notes), ours)
    if isinstance(ours, list | tuple) and isinstance(notes, list | tuple) and len(ours) == len(notes):
        places = [_placement(n, o) for n, o in zip(notes, ours, strict=True)]
        return places if any(p is not None for p in places) else None
    return None


def value(ours: Any) -> Any:
    """What a bar is tested on: the mean of a distribution, else the number itself."""
    return ours.mean if isinstance(ours, Dist) else ours


def _each(ours: Any, test: Callable[[float], bool]) -> bool:
    """``test`` holds for ``ours`` (a distribution's mean), or for every entry of a list."""
    values = ours if isinstance(ours, Sequence) and not isinstance(ours, str) else [ours]
    values = [value(v) for v in values]
    return all(v is not None and not (isinstance(v, float) and math.isnan(v)) and test(v) for v in values)


def at_least(name: str, ours: Any, bar: float, notes: Any = NO_FIGURE) -> Check:
    """Ours (each of ours, for a list) ≥ ``bar``."""
    return Check(name, ours, notes, f"≥ {bar:g}", _each(ours, lambda v: v >= bar))


def at_most(name: str, ours: Any, bar: float, notes: Any = NO_FIGURE) -> Check:
    """Ours (each of ours, for a list) ≤ ``bar``."""
    return Check(name, ours, notes, f"≤ {bar:g}", _each(ours, lambda v: v <= bar))


def below(name: str, ours: Any, bar: float, notes: Any = NO_FIGURE) -> Check:
    """Ours (each of ours, for a list) < ``bar``."""
    return Check(name, ours, notes, f"< {bar:g}", _each(ours, lambda v: v < bar))


def above(name: str, ours: Any, bar: float, notes: Any = NO_FIGURE) -> Check:
    """Ours (each of ours, for a list) > ``bar``."""
    return Check(name, ours, notes, f"> {bar:g}", _each(ours, lambda v: v > bar))


def between(name: str, ours: Any, low: float, high: float, notes: Any = NO_FIGURE) -> Check:
    """``low`` ≤ ours ≤ ``high`` (each of ours, for a list)."""
    return Check(name, ours, notes, f"within {low:g} to {high:g}", _each(ours, lambda v: low <= v <= high))


def within(name: str, ours: float, target: float, tolerance: float, notes: Any = NO_FIGURE) -> Check:
    """|ours − ``target``| < ``tolerance``."""
    return Check(
        name,
        ours,
        notes,
        f"|ours − {target:.6g}| < {tolerance:g}",
        _each(ours, lambda v: abs(v - target) < tolerance),
    )


def equal(name: str, ours: Any, expected: Any, notes: Any = NO_FIGURE) -> Check:
    """Ours equals ``expected`` exactly (every seed's value, for a distribution)."""
    passed = all(v == expected for v in ours.values) if isinstance(ours, Dist) else ours == expected
    return Check(name, ours, notes, f"= {expected}", passed)


def _finite(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def greater(name: str, a: Any, b: Any, labels: tuple[str, str], notes: Any = NO_FIGURE) -> Check:
    """Ours ``a`` > ``b`` (distributions: their means), shown as [a, b]; ``labels`` name them."""
    va, vb = value(a), value(b)
    return Check(name, [a, b], notes, f"{labels[0]} > {labels[1]}", _finite(va) and _finite(vb) and va > vb)


def less(name: str, a: Any, b: Any, labels: tuple[str, str], notes: Any = NO_FIGURE) -> Check:
    """Ours ``a`` < ``b`` (distributions: their means), shown as [a, b]; ``labels`` name them."""
    va, vb = value(a), value(b)
    return Check(name, [a, b], notes, f"{labels[0]} < {labels[1]}", _finite(va) and _finite(vb) and va < vb)


def falls(
    name: str, first: Any, last: Any, by: float = 1.0, every_seed: bool = False, notes: Any = NO_FIGURE
) -> Check:
    """``last`` < ``first`` / ``by`` (a fall by more than ``by`` times), on the means, or with
    ``every_seed`` seed by seed (two distributions over the same seeds); shown as [first, last]."""
    pairs = zip(first.values, last.values, strict=True) if every_seed else [(value(first), value(last))]
    passed = all(_finite(f) and _finite(l_) and l_ < f / by for f, l_ in pairs)
    bar = "falls" + (f" > {by:g}x" if by != 1 else "") + (", every seed" if every_seed else "")
    return Check(name, [first, last], notes, bar, passed)


def rises(name: str, before: Any, after: Any, notes: Any = NO_FIGURE) -> Check:
    """``after`` > ``before`` (distributions: their means); shown as [before, after]."""
    vb, va = value(before), value(after)
    return Check(name, [before, after], notes, "rises", _finite(vb) and _finite(va) and va > vb)


def falls_every_epoch(name: str, curves: np.ndarray, notes: Any = NO_FIGURE) -> Check:
    """Each seed's curve (a row of ``curves``) falls from every epoch to the next; shown as its
    first and last epochs over the seeds."""
    passed = bool(np.all(np.diff(curves, axis=1) < 0))
    shown = [stats.dist(curves[:, 0]), stats.dist(curves[:, -1])]
    return Check(name, shown, notes, "falls every epoch, every seed", passed)


def reported(name: str, ours: Any, notes: Any = NO_FIGURE) -> Check:
    """Ours exists (not None, not NaN): an event the run must report, such as a divergence."""
    return Check(name, ours, notes, "reported", _finite(value(ours)))


def all_of(name: str, ours: Any, parts: Sequence[Check], notes: Any = NO_FIGURE) -> Check:
    """Several bars at once: passes when every part does; the bar names each part's number and
    its bar ("accuracy ≤ 0.75 and loss > 0.69")."""
    bar = " and ".join(f"{p.name} {p.bar}" for p in parts)
    return Check(name, ours, notes, bar, all(p.passed for p in parts))


def compared(name: str, ours: Any, notes: Any) -> Check:
    """A number the notes report that no bar applies to (it depends on the random draw), shown
    beside ours and, for a distribution over seeds, placed in it. It never fails."""
    return Check(name, ours, notes, "none (compared only)", True)
