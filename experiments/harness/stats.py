"""Numbers over seeds: a statistical result is a distribution (one value per seed), reported as
mean ± sd (n), with the notes' single figure placed in it."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Dist:
    """One metric's values over seeds, in seed order. Non-finite values (a diverged seed) are
    kept in ``values`` but left out of the summary, whose ``n`` counts the finite ones."""

    values: tuple[float, ...]

    @property
    def finite(self) -> np.ndarray:
        v = np.asarray(self.values, float)
        return v[np.isfinite(v)]

    @property
    def n(self) -> int:
        return int(self.finite.size)

    @property
    def mean(self) -> float:
        return float(self.finite.mean()) if self.n else float("nan")

    @property
    def sd(self) -> float | None:
        """The sample standard deviation (n − 1), None for fewer than two values."""
        return float(self.finite.std(ddof=1)) if self.n >= 2 else None

    @property
    def min(self) -> float:
        return float(self.finite.min()) if self.n else float("nan")

    @property
    def max(self) -> float:
        return float(self.finite.max()) if self.n else float("nan")

    def to_json(self) -> dict[str, Any]:
        return {
            "values": list(self.values),
            "mean": self.mean,
            "sd": self.sd,
            "min": self.min,
            "max": self.max,
            "n": self.n,
        }

    def __format__(self, spec: str) -> str:
        spec = spec or ".4g"
        if self.sd is None:
            return format(self.mean, spec) + ("" if len(self.values) == 1 else f" (n={self.n})")
        return f"{format(self.mean, spec)} ± {format(self.sd, spec)} (n={self.n})"

    def __str__(self) -> str:
        return format(self, "")


def dist(values: Iterable[Any] | np.ndarray) -> Dist:
    """A ``Dist`` of ``values`` (numbers, 0-d arrays, or a 1-D array with one value per seed)."""
    return Dist(tuple(float(v) for v in np.ravel(np.asarray(list(values), float))))


def is_dist_json(value: Any) -> bool:
    """Whether ``value`` is a ``Dist`` in its JSON form."""
    return isinstance(value, dict) and {"values", "mean", "sd", "n"} <= value.keys()


def from_json(value: dict[str, Any]) -> Dist:
    return Dist(tuple(float(v) for v in value["values"]))


def placement(notes: float, ours: Dist) -> dict[str, Any]:
    """Where the notes' figure falls in our distribution: inside [min, max]? and its z-score
    (notes − mean)/sd (None with fewer than two seeds)."""
    sd = ours.sd
    return {
        "notes": notes,
        "inside": bool(ours.min <= notes <= ours.max),
        "z": None if not sd else (notes - ours.mean) / sd,
    }


def typical(place: dict[str, Any]) -> bool | None:
    """The notes' figure is typical of our distribution: |z| ≤ 2 (None when z is unknown)."""
    z = place.get("z")
    return None if z is None or math.isnan(z) else abs(z) <= 2
