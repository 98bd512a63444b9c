"""Every setting of an experiment reachable from the command line: ``--set NAME=VALUE`` for any
field of its ``Config``, ``--config FILE`` (TOML) for several at once, and ``--help`` listing them
with the notes' defaults.

A config file holds settings for the experiments named on the command line at its top, and
settings for one experiment under its id or name (applied only when that experiment runs)::

    epochs = 3            # every experiment named on the command line
    [A1]
    k = 30                # A1 only

Later wins: the notes' defaults, ``--quick``'s reductions, the file, then ``--set`` and the flags.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import tomllib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from experiments.harness import limits
from experiments.harness.contract import Experiment
from jaxnets.errors import InputError

# Where the data is and how many seeds: taken by every run, ignored by those without data or randomness.
IGNORABLE = ("data_dir", "seeds")


def kinds(experiment: Experiment) -> dict[str, Any]:
    """Each setting's type, from the ``Config``'s annotations ("k" → int)."""
    return typing.get_type_hints(experiment.config)


def _type_name(kind: Any) -> str:
    return getattr(kind, "__name__", None) if isinstance(kind, type) else str(kind).replace("typing.", "")


def _convert(value: Any, kind: Any) -> Any:
    """``value`` as a ``kind`` (int, float, bool, str, ``X | None``, ``tuple[X, ...]``), or
    ``ValueError``. Whole floats are ints (1e3), a single value is a one-tuple."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            with_option = _try(value, option)
            if with_option is not _FAIL:
                return with_option
        raise ValueError
    if origin is tuple:
        items = value if isinstance(value, list | tuple) else [value]
        inner = args[0] if len(args) == 2 and args[1] is Ellipsis else None
        if inner is None:
            if len(items) != len(args):
                raise ValueError
            return tuple(_convert(v, a) for v, a in zip(items, args, strict=True))
        return tuple(_convert(v, inner) for v in items)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError
    if kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ValueError
    if kind is str:
        if isinstance(value, str):
            return value
        raise ValueError
    raise ValueError


_FAIL = object()


def _try(value: Any, kind: Any) -> Any:
    try:
        return _convert(value, kind)
    except ValueError:
        return _FAIL


# Floats that are no Python literal: ``--set lr=inf`` is the float inf (which the rules refuse).
_NOT_FINITE = {f"{sign}{word}" for sign in ("", "+", "-") for word in ("inf", "infinity", "nan")}


def _literal(text: str) -> Any:
    """What ``--set`` text stands for: a Python literal (30, 1e-3, (64, 64), None, true), inf or
    nan, else the text."""
    if text.lower() in ("none", "null"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.strip().lower() in _NOT_FINITE:
        return float(text)
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def _unknown(experiment: Experiment, name: str) -> InputError:
    fields = sorted(kinds(experiment))
    close = difflib.get_close_matches(name, fields, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return InputError(
        f"experiment {experiment.id} has no setting {name!r}{hint}; its settings are: {', '.join(fields)} "
        f"(python -m experiments {experiment.id} --help lists them with their defaults)"
    )


def value(experiment: Experiment, name: str, raw: Any, where: str) -> Any:
    """Setting ``name`` of ``experiment`` from ``raw`` (text from ``--set``, or a TOML value),
    converted to the setting's type; ``InputError`` naming ``where`` it came from and what the
    setting takes, otherwise. (Its value is checked with the whole config: ``limits.check``.)"""
    kind = kinds(experiment).get(name)
    if kind is None:
        raise _unknown(experiment, name)
    converted = _try(_literal(raw) if isinstance(raw, str) else raw, kind)
    if converted is _FAIL and isinstance(raw, str):  # text that reads as a literal: a folder named 123
        converted = _try(raw, kind)
    if converted is _FAIL:
        raise InputError(
            f"{where}: {experiment.id}'s {name} is {_type_name(kind)}, and {raw!r} is not one "
            f"(its default: {getattr(experiment.config(), name)!r})"
        )
    return converted


def parse_sets(texts: Sequence[str]) -> dict[str, str]:
    """``["k=30", "theta0=0.4"]`` → ``{"k": "30", "theta0": "0.4"}`` (values converted later, for
    each experiment); ``InputError`` for text that is not NAME=VALUE or a name set twice."""
    out: dict[str, str] = {}
    for text in texts:
        name, sep, raw = text.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name.isidentifier():
            raise InputError(f"--set {text!r}: write NAME=VALUE, e.g. --set k=30")
        if name in out and out[name] != raw.strip():
            raise InputError(f"--set {name} is given twice ({out[name]!r} and {raw.strip()!r}): give it once")
        out[name] = raw.strip()
    return out


def read_file(path: Path) -> dict[str, Any]:
    """A config file's contents (TOML); ``InputError`` where it cannot be read or parsed."""
    try:
        return tomllib.loads(path.read_text())
    except OSError as e:
        raise InputError(f"--config {path}: cannot read it ({e.strerror or e})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"--config {path} is not TOML: {e}") from None


def from_file(
    contents: Mapping[str, Any], experiment: Experiment, path: Path | str = "the config file"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The values a config file sets for ``experiment``: its top-level keys (for every experiment
    run) and the keys of the experiment's own table (by id, single id or name). Two of its tables
    that set one of its settings to different values are an ``InputError``, as two ``--set`` are."""
    own = {n.lower().replace("-", "_") for n in (experiment.id, experiment.name, *experiment.ids)}
    top = {k: v for k, v in contents.items() if not isinstance(v, dict)}
    table: dict[str, Any] = {}
    source: dict[str, str] = {}
    for key, raw in contents.items():
        if isinstance(raw, dict) and key.lower().replace("-", "_") in own:
            for name, setting in raw.items():
                if name in table and table[name] != setting:
                    raise InputError(
                        f"--config {path}: tables [{source[name]}] and [{key}] are both {experiment.id}'s, "
                        f"and set {name} to {table[name]!r} and {setting!r}: give it once"
                    )
                table[name], source[name] = setting, key
    return top, table


def check_file_tables(contents: Mapping[str, Any], path: Path, known: Callable[[str], Any]) -> None:
    """Every table of a config file names an experiment (``known`` raises ``InputError`` otherwise)."""
    for key, raw in contents.items():
        if isinstance(raw, dict):
            try:
                known(key)
            except InputError as e:
                raise InputError(f"--config {path}: table [{key}]: {e}") from None


def describe(experiment: Experiment, flags: Mapping[str, str]) -> str:
    """An experiment's settings for ``--help``: name, type, the notes' default, its flag and
    ``--quick``'s value where it has them."""
    defaults = dataclasses.asdict(experiment.config())
    rows = [(n, _type_name(k), repr(defaults[n])) for n, k in kinds(experiment).items()]
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [
        f"{experiment.id} ({experiment.name}): {experiment.title}",
        f"  {experiment.description}",
        "",
        "its settings (the notes' defaults), each settable with --set NAME=VALUE or in a --config FILE:",
    ]
    for name, kind, default in rows:
        extra = [f"also {flags[name]}"] if name in flags else []
        if name in experiment.quick:
            extra.append(f"--quick: {experiment.quick[name]!r}")
        line = f"  {name:<{width[0]}}  {kind:<{width[1]}}  {default:<{width[2]}}"
        lines.append((line + (f"  ({'; '.join(extra)})" if extra else "")).rstrip())
    return "\n".join(lines)


def make_config(
    experiment: Experiment,
    overrides: dict[str, Any],
    strict: bool,
    quick: bool = False,
    flags: Mapping[str, str] | None = None,
) -> Any:
    """The experiment's default config (its ``quick`` reduction with ``quick``) with the given
    overrides; with ``strict``, an override the experiment has no setting for is an error, which
    names it by its flag in ``flags`` (setting → flag) where it has one."""
    fields = {f.name for f in dataclasses.fields(experiment.config)}
    # The data folder says where data is, not how to run: experiments without data ignore it, and
    # experiments without randomness ignore the number of seeds (the CLI says so).
    unknown = [k for k in overrides if k not in fields and k not in IGNORABLE]
    if strict and unknown:
        named = ", ".join((flags or {}).get(k, k) for k in unknown)
        raise InputError(
            f"experiment {experiment.id} takes no {named}; its settings are: {', '.join(sorted(fields))}"
        )
    base = dataclasses.replace(experiment.config(), **(experiment.quick if quick else {}))
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if k in fields})


def configure(
    experiment: Experiment,
    flag_values: Mapping[str, Any],
    sets: Mapping[str, str],
    file: tuple[Path, Mapping[str, Any]] | None,
    *,
    strict: bool,
    quick: bool,
    flags: Mapping[str, str],
) -> Any:
    """The config ``experiment`` runs with: the notes' defaults, ``--quick``'s reductions, the
    config ``file`` (its path and contents), ``--set``'s ``sets``, then the flags' values. With
    ``strict`` (experiments named one by one) a setting the experiment lacks is an error; with
    ``all`` it applies where the experiment has it. Every value is checked by its setting's rule
    (``limits``), and an error names where the value came from."""
    fields = kinds(experiment)
    chosen: dict[str, Any] = {}
    where: dict[str, str] = {}
    if file is not None:
        path, contents = file
        top, table = from_file(contents, experiment, path)
        for name, raw in [*top.items(), *table.items()]:
            if name in fields:
                where[name] = f"--config {path}"
                chosen[name] = value(experiment, name, raw, where[name])
            elif name not in IGNORABLE and (strict or name in table):
                raise InputError(f"--config {path}: {_unknown(experiment, name)}")
    for name, raw in sets.items():
        if name in fields:
            where[name] = f"--set {name}={raw}"
            chosen[name] = value(experiment, name, raw, where[name])
        elif name not in IGNORABLE and strict:
            raise _unknown(experiment, name)
    for name, flagged in flag_values.items():
        if name in sets and chosen.get(name, flagged) != flagged:
            raise InputError(f"{name} is set twice, by {flags[name]} and by --set: give it once")
        where[name] = flags.get(name, name)
    config = make_config(experiment, {**chosen, **flag_values}, strict, quick, flags)
    limits.check(experiment, config, where)
    return config


def check_names(
    experiments: Sequence[Experiment], sets: Mapping[str, str], file: tuple[Path, Mapping] | None
) -> None:
    """With ``all``, a ``--set`` or top-level config name that no experiment has is a typo: say so."""
    everyone = set().union(*(kinds(e) for e in experiments), IGNORABLE)
    names = [*sets, *(k for k, v in (file[1] if file else {}).items() if not isinstance(v, dict))]
    for name in names:
        if name not in everyone:
            close = difflib.get_close_matches(name, sorted(everyone), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(f"no experiment has a setting {name!r}{hint}")
