"""What training records: each run's history rows, per-step metrics and divergence (saved with
every checkpoint), and ``FitResult``, the outcome of ``fit``: its history by column, one value per
epoch (a leading run axis for stacked runs), and a view of each run."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from jaxnets.state import TrainState


class Divergence(NamedTuple):
    """Where training first produced a non-finite loss or parameters."""

    epoch: int
    step: int
    reason: str


class FitResult(NamedTuple):
    """The outcome of ``fit``, by the run-axis rule (docs/library.md): for a single run, each
    history column has one value per epoch (``history["train_loss"]``, as Keras' ``History``),
    each per-step metric one per step, and ``diverged`` is one ``Divergence`` or None; for N
    stacked runs each has a leading axis of N (a run's epochs after it stopped are nan) and
    ``diverged`` one entry per run. ``rows`` holds the same history as rows (a list of dicts,
    one list per run when stacked). ``run(k)`` is run k alone, as a single run's result."""

    state: TrainState
    history: dict[str, np.ndarray]
    rows: list[dict[str, float]] | list[list[dict[str, float]]]
    steps: dict[str, np.ndarray]
    diverged: Divergence | None | tuple[Divergence | None, ...]
    data_path: str = ""  # where the training data lived (on device or streamed) and why

    @property
    def runs(self) -> int | None:
        """The number of stacked runs, None for a single run (as ``TrainState.runs``)."""
        return self.state.runs

    def run(self, k: int) -> FitResult:
        """Run ``k`` alone: its state, its epochs (up to where it stopped), its steps and its
        divergence, as ``fit`` of that run by itself gives them (``run(0)`` of a single run is
        the result itself)."""
        if self.runs is None:
            if k != 0:
                raise IndexError(f"a single run's result has run 0 only, not {k}")
            return self
        rows = self.rows[k]
        trained = len(self.history["epoch"][0]) if "epoch" in self.history else 0
        steps = {n: v[k][: v.shape[1] // max(trained, 1) * len(rows)] for n, v in self.steps.items()}
        history = {c: v[k][: len(rows)] for c, v in self.history.items()}
        return FitResult(self.state.run(k), history, rows, steps, self.diverged[k], self.data_path)

    def per_run(self) -> list[FitResult]:
        """Each run's result, in run order (``[self]`` for a single run)."""
        return [self.run(k) for k in range(self.runs or 1)]


def columns(rows: list[list[dict[str, Any]]]) -> dict[str, np.ndarray]:
    """History rows of each run as columns, (runs, epochs), nan after a run's last row."""
    longest = max((len(r) for r in rows), default=0)
    names = list(dict.fromkeys(k for run in rows for row in run for k in row))
    return {
        name: np.array(
            [[row.get(name, np.nan) for row in run] + [np.nan] * (longest - len(run)) for run in rows], float
        )
        for name in names
    }


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
        """The record as a ``FitResult`` of ``state``, by the run-axis rule."""
        history, steps = columns(self.history), self.step_arrays()
        if state.runs:
            return FitResult(state, history, self.history, steps, tuple(self.diverged), data_path)
        return FitResult(
            state,
            {k: v[0] for k, v in history.items()},
            self.history[0],
            {k: v[0] for k, v in steps.items()},
            self.diverged[0],
            data_path,
        )

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
