"""Checks: one number of ours beside the notes' figure, the bar ours must meet, and whether it
does. Each helper writes the bar's text from the threshold it tests, so the two cannot disagree::

    at_least("B8 test accuracy", ours, 0.975, notes=0.9805)   # bar "≥ 0.975"
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Check:
        return cls(d["name"], d["ours"], d["notes"], str(d["bar"]), bool(d["passed"]))


def _each(ours: Any, test: Callable[[float], bool]) -> bool:
    """``test`` holds for ``ours``, or for every entry when ``ours`` is a list."""
    values = ours if isinstance(ours, Sequence) and not isinstance(ours, str) else [ours]
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
    """Ours equals ``expected`` exactly."""
    return Check(name, ours, notes, f"= {expected}", ours == expected)


def holds(name: str, ours: Any, condition: str, passed: bool, notes: Any = NO_FIGURE) -> Check:
    """A relation the numbers must satisfy that no single threshold states (``"B8 > B7"``):
    ``condition`` says it in words, ``passed`` is its value."""
    return Check(name, ours, notes, condition, bool(passed))
