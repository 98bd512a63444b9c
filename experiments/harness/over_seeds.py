"""A fit's numbers as the reports give them: each a distribution over its seeds (``stats.Dist``),
its history as one table with a seed column, its divergences under the runs' names."""

from __future__ import annotations

from typing import Any

import numpy as np

from experiments.harness.stats import Dist, dist
from jaxnets.record import Divergence, FitResult
from jaxnets.state import Batch, TrainState
from jaxnets.steps import evaluate as evaluate_state


def first(fitted: FitResult, column: str) -> Dist:
    """A history column's value at the first epoch, over the runs."""
    return dist([h[0][column] if h else np.nan for h in fitted.history])


def last(fitted: FitResult, column: str) -> Dist:
    """A history column's value at each run's last recorded epoch, over the runs."""
    return dist([h[-1][column] if h else np.nan for h in fitted.history])


def evaluate(fitted: FitResult | TrainState, data: Batch, *, batch_size: int = 1000) -> dict[str, Dist]:
    """``steps.evaluate`` of the final state(s), each metric over the runs (one value for a single run)."""
    state = fitted.state if isinstance(fitted, FitResult) else fitted
    return {k: dist(np.reshape(v, -1)) for k, v in evaluate_state(state, data, batch_size=batch_size).items()}


def run_name(name: str, seed: int, seeds: int) -> str:
    """How a run of one of several seeds is named in results: "raw (seed 3)"."""
    return name if seeds == 1 else f"{name} (seed {seed})"


def rows(fitted: FitResult, seed: int) -> list[dict[str, Any]]:
    """The history as one table, each row with its run's seed (run k has seed ``seed + k``)."""
    return [{"seed": seed + k, **row} for k, h in enumerate(fitted.history) for row in h]


def divergences(fitted: FitResult, name: str, seed: int) -> dict[str, Divergence | None]:
    """Each run's divergence under its name: ``name`` for a single run, ``name (seed s)``
    for the runs of several seeds (see ``run_name``)."""
    runs = len(fitted.diverged)
    return {run_name(name, seed + k, runs): d for k, d in enumerate(fitted.diverged)}
