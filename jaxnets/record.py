"""What training records: each run's history rows, per-step metrics and divergence (saved with
every checkpoint), and ``FitResult``, the outcome of ``fit``, with a view of each run."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from jaxnets.state import TrainState


class Divergence(NamedTuple):
    """Where training first produced a non-finite loss or parameters."""

    epoch: int
    step: int
    reason: str


class RunResult(NamedTuple):
    """One run of a ``FitResult``: its state, its history rows (up to its divergence, if it
    stopped there), its per-step metrics and its divergence (None where it stayed finite)."""

    state: TrainState
    history: list[dict[str, float]]
    steps: dict[str, np.ndarray]
    diverged: Divergence | None


class FitResult(NamedTuple):
    """The outcome of ``fit``, one shape for one run or many: the final state (a single run's,
    or stacked runs'), one list of history rows per run, the per-step metrics with a leading run
    axis, one divergence (or None) per run, and where the data lived. ``run(k)`` is run k alone,
    as ``fit`` of that run by itself gives it; ``run(0)`` is a single run's."""

    state: TrainState
    history: list[list[dict[str, float]]]
    steps: dict[str, np.ndarray]
    diverged: tuple[Divergence | None, ...]
    data_path: str = ""  # where the training data lived (on device or streamed) and why

    def run(self, k: int) -> RunResult:
        """Run ``k``: its state, rows, steps (those of the epochs it recorded) and divergence."""
        history = self.history[k]
        trained = max(len(h) for h in self.history)
        steps = {n: v[k][: v.shape[1] // max(trained, 1) * len(history)] for n, v in self.steps.items()}
        state = self.state if self.state.runs is None else self.state.run(k)
        return RunResult(state, history, steps, self.diverged[k])

    def per_run(self) -> list[RunResult]:
        """Each run's result, in run order."""
        return [self.run(k) for k in range(len(self.history))]

    def curve(self, column: str) -> np.ndarray:
        """A history column as (runs, epochs), nan after a run's last recorded epoch."""
        longest = max(len(h) for h in self.history)
        return np.array(
            [[row[column] for row in h] + [np.nan] * (longest - len(h)) for h in self.history], float
        )


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

    def add(self, row: dict[str, Any], step_metrics: dict[str, np.ndarray]) -> None:
        """An epoch: its row (one value per run) and its per-step metrics, (runs, steps) each.
        Each run that goes on records its own row; the steps are kept for every run."""
        self.epoch_row, self.epoch_steps = row, step_metrics
        self.epoch_rows = [
            {k: v if k in ("epoch", "time_s") else float(v[run]) for k, v in row.items()}
            for run in range(len(self.history))
        ]
        for run, run_row in enumerate(self.epoch_rows):
            if not self.stopped[run]:
                self.history[run].append(run_row)
        for name, values in step_metrics.items():
            self.steps.setdefault(name, []).append(np.asarray(values))

    def step_arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v, axis=-1) for k, v in self.steps.items()}

    def result(self, state: TrainState, data_path: str) -> FitResult:
        return FitResult(state, self.history, self.step_arrays(), tuple(self.diverged), data_path)

    @property
    def done(self) -> bool:
        """Whether every run has stopped."""
        return all(self.stopped)

    def saved(self) -> dict[str, Any]:
        return {
            "history": self.history,
            "steps": self.step_arrays(),
            "diverged": [d._asdict() if d else None for d in self.diverged],
            "stopped": self.stopped,
            "reader": self.reader,
        }
