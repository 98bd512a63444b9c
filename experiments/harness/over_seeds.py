"""A fit's numbers as the reports give them: each a distribution over its seeds (``stats.Dist``),
its history as one table with a seed column, its divergences under the runs' names. A single run
counts as one seed."""

from __future__ import annotations

from typing import Any

import numpy as np

from experiments.harness.stats import Dist, dist
from jaxnets.loop import seed_plus
from jaxnets.record import Divergence, FitResult


def curve(fitted: FitResult, column: str) -> np.ndarray:
    """A history column as (runs, epochs), nan after a run's last recorded epoch."""
    return np.atleast_2d(np.asarray(fitted.history.get(column, np.empty((0,))), float))


def first(fitted: FitResult, column: str) -> Dist:
    """A history column's value at the first epoch, over the runs."""
    return dist([r.history[column][0] if r.rows else np.nan for r in fitted.per_run()])


def last(fitted: FitResult, column: str) -> Dist:
    """A history column's value at each run's last recorded epoch, over the runs."""
    return dist([r.history[column][-1] if r.rows else np.nan for r in fitted.per_run()])


def run_name(name: str, seed: int, seeds: int) -> str:
    """How a run of one of several seeds is named in results: "raw (seed 3)"."""
    return name if seeds == 1 else f"{name} (seed {seed})"


def rows(fitted: FitResult, seed: int) -> list[dict[str, Any]]:
    """The history as one table, each row with its run's seed (run k has seed ``seed + k``)."""
    return [{"seed": seed_plus(seed, k), **row} for k, r in enumerate(fitted.per_run()) for row in r.rows]


def divergences(fitted: FitResult, name: str, seed: int) -> dict[str, Divergence | None]:
    """Each run's divergence under its name: ``name`` for a single run, ``name (seed s)``
    for the runs of several seeds (see ``run_name``)."""
    runs = fitted.per_run()
    return {run_name(name, seed_plus(seed, k), len(runs)): r.diverged for k, r in enumerate(runs)}
