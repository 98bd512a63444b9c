"""What training records: each run's history rows, per-step metrics and divergence (saved with
every checkpoint), and ``FitResult``, the outcome of ``fit``, with its per-seed views."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from jaxnets.state import Batch, TrainState
from jaxnets.stats import Dist, dist
from jaxnets.steps import evaluate


class Divergence(NamedTuple):
    """Where training first produced a non-finite loss or parameters."""

    epoch: int
    step: int
    reason: str


class FitResult(NamedTuple):
    """The outcome of ``fit``: final state, per-epoch rows, per-step metrics, divergence.

    For a stacked state (several runs), ``history`` holds one list of rows per run, each of
    ``steps``' arrays has a leading run axis and ``diverged`` one entry per run; ``run(k)``
    gives run k alone, as ``fit`` of that run by itself would.
    """

    state: TrainState
    history: list[dict[str, float]] | list[list[dict[str, float]]]
    steps: dict[str, np.ndarray]
    diverged: Divergence | None | tuple[Divergence | None, ...]
    data_path: str = ""  # where the training data lived (on device or streamed) and why

    def run(self, k: int) -> FitResult:
        """Run ``k`` of a stacked result: its state, its rows (up to its divergence, if it stopped
        there), its steps and its divergence."""
        history = self.history[k]
        trained = max(len(h) for h in self.history)
        steps = {n: v[k][: v.shape[1] // max(trained, 1) * len(history)] for n, v in self.steps.items()}
        return FitResult(self.state.run(k), history, steps, self.diverged[k], self.data_path)

    def per_run(self) -> list[FitResult]:
        """Each run's result: ``[self]`` for a single run."""
        return [self] if self.state.runs is None else [self.run(k) for k in range(self.state.runs)]

    def curve(self, column: str) -> np.ndarray:
        """A history column as (runs, epochs), nan after a run's last recorded epoch."""
        rows = [r.history for r in self.per_run()]
        longest = max(len(h) for h in rows)
        return np.array([[row[column] for row in h] + [np.nan] * (longest - len(h)) for h in rows], float)

    def first(self, column: str) -> Dist:
        """A history column's value at the first epoch, over the runs."""
        return dist([r.history[0][column] if r.history else np.nan for r in self.per_run()])

    def last(self, column: str) -> Dist:
        """A history column's value at each run's last recorded epoch, over the runs."""
        return dist([r.history[-1][column] if r.history else np.nan for r in self.per_run()])

    def evaluate(self, data: Batch, batch_size: int = 1000) -> dict[str, Dist]:
        """``evaluate_runs`` of the final state(s)."""
        return evaluate_runs(self.state, data, batch_size)

    def rows(self, seed: int) -> list[dict[str, Any]]:
        """The history as one table, each row with its run's seed (run k has seed ``seed + k``)."""
        return [{"seed": seed + k, **row} for k, r in enumerate(self.per_run()) for row in r.history]

    def divergences(self, name: str, seed: int) -> dict[str, Divergence | None]:
        """Each run's divergence under its name: ``name`` for a single run, ``name (seed s)``
        for the runs of several seeds (see ``run_name``)."""
        runs = self.per_run()
        return {run_name(name, seed + k, len(runs)): r.diverged for k, r in enumerate(runs)}


def evaluate_runs(state: TrainState, data: Batch, batch_size: int = 1000) -> dict[str, Dist]:
    """``steps.evaluate``, each metric as a distribution over the runs of the state (of one value
    for a single run)."""
    return {k: dist(np.reshape(v, -1)) for k, v in evaluate(state, data, batch_size).items()}


def run_name(name: str, seed: int, seeds: int) -> str:
    """How a run of one of several seeds is named in results: "raw (seed 3)"."""
    return name if seeds == 1 else f"{name} (seed {seed})"


class Record:
    """What the runs have done so far: each run's history rows and divergence, the per-step
    metrics (a leading run axis), which runs have stopped; saved with each checkpoint and
    restored from it. A single run is recorded as one run of one."""

    def __init__(self, runs: int, saved: dict[str, Any] | None = None):
        saved = saved or {}
        self.history: list[list[dict[str, float]]] = saved.get("history", [[] for _ in range(runs)])
        self.steps: dict[str, list[np.ndarray]] = {k: [v] for k, v in saved.get("steps", {}).items()}
        self.diverged = [Divergence(**d) if d else None for d in saved.get("diverged", [None] * runs)]
        self.stopped: list[bool] = saved.get("stopped", [False] * runs)
        self.reader: dict[str, Any] | None = saved.get("reader")  # the streaming path's position

    def add(self, rows: list[dict[str, float]], step_metrics: dict[str, np.ndarray]) -> None:
        for run, row in enumerate(rows):
            if not self.stopped[run]:
                self.history[run].append(row)
        for name, values in step_metrics.items():
            self.steps.setdefault(name, []).append(np.asarray(values))

    def step_arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v, axis=-1) for k, v in self.steps.items()}

    def saved(self) -> dict[str, Any]:
        return {
            "history": self.history,
            "steps": self.step_arrays(),
            "diverged": [d._asdict() if d else None for d in self.diverged],
            "stopped": self.stopped,
            "reader": self.reader,
        }
