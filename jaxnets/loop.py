"""The epoch loop: ``fit`` trains a ``TrainState`` for some epochs, evaluates after each one,
records the history (fastai's ``Recorder``), stops at a divergence, saves checkpoints to go on
after a stop, and calls back after each epoch (early stopping, an epoch table)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn
from tqdm.auto import tqdm

from jaxnets import losses
from jaxnets.checkpoint import Checkpointer
from jaxnets.errors import InputError
from jaxnets.metrics import MetricsFn, no_metrics
from jaxnets.parallel import Mesh, data_mesh, replicate
from jaxnets.state import Batch, TrainState, check_batch, create_train_state
from jaxnets.steps import check_batch_size, evaluate, train_epoch

OnEpoch = Callable[[int, TrainState, dict[str, float]], "bool | None"]


class Divergence(NamedTuple):
    """Where training first produced a non-finite loss or parameters."""

    epoch: int
    step: int
    reason: str


class FitResult(NamedTuple):
    """The outcome of ``fit``: final state, per-epoch rows, per-step metrics, divergence."""

    state: TrainState
    history: list[dict[str, float]]
    steps: dict[str, np.ndarray]
    diverged: Divergence | None


class _Record:
    """What a run has done so far: history rows, per-step metrics, its divergence, and whether it
    has stopped; saved with each checkpoint and restored from it."""

    def __init__(self, saved: dict[str, Any] | None = None):
        saved = saved or {}
        self.history: list[dict[str, float]] = saved.get("history", [])
        self.steps: dict[str, list[np.ndarray]] = {k: [v] for k, v in saved.get("steps", {}).items()}
        self.diverged = Divergence(**saved["diverged"]) if saved.get("diverged") else None
        self.stopped: bool = saved.get("stopped", False)

    def add(self, row: dict[str, float], step_metrics: dict[str, np.ndarray]) -> None:
        self.history.append(row)
        for name, values in step_metrics.items():
            self.steps.setdefault(name, []).append(np.asarray(values))

    def step_arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) for k, v in self.steps.items()}

    def saved(self) -> dict[str, Any]:
        diverged = self.diverged._asdict() if self.diverged else None
        return {
            "history": self.history,
            "steps": self.step_arrays(),
            "diverged": diverged,
            "stopped": self.stopped,
        }


def fit(
    state: TrainState,
    train: Batch,
    epochs: int,
    batch_size: int,
    key: jax.Array,
    valid: Batch | None = None,
    shuffle: bool = True,
    stop_on_divergence: bool = True,
    progress: bool | None = None,
    desc: str = "train",
    on_epoch: OnEpoch | None = None,
    mesh: Mesh | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
) -> FitResult:
    """Train for ``epochs`` epochs; evaluate on ``valid`` after each one.

    History rows hold ``epoch`` (1-based), ``train_<metric>`` (mean of the epoch's steps, each
    measured before its update, as the labs print it), ``valid_<metric>`` and ``time_s``. Metrics
    reach the host once per epoch. A non-finite loss or parameter is recorded in ``diverged``; the
    run stops there unless ``stop_on_divergence`` is False. ``on_epoch(epoch, state, row)`` is
    called after each epoch; returning True stops the run (see ``early_stopping``).
    ``progress=None`` shows a bar on a terminal only. Training is data parallel over ``mesh``
    (default: all local devices): state and data are replicated on it and each batch is split
    over its devices.

    With ``checkpoint_dir``, the state and the run so far are saved there after every epoch
    (see ``jaxnets.checkpoint``), and a run that finds a checkpoint there goes on from it, to
    the same result as if it had never stopped; one that had finished returns at once. Callbacks
    keep no saved state: ``on_epoch`` sees only the epochs trained after a restore.
    """
    if epochs < 0:
        raise InputError(f"epochs must be >= 0, got {epochs}")
    x, _ = check_batch(train, state)
    check_batch_size(batch_size, len(x))
    mesh = data_mesh() if mesh is None else mesh
    state = replicate(state, mesh, copy=True)  # train_epoch donates it; the caller's stays usable
    train, valid = replicate((train, valid), mesh)
    signature = {
        "examples": len(x),
        "batch_size": batch_size,
        "shuffle": shuffle,
        "key": np.asarray(jax.random.key_data(key)).tolist(),
    }
    with Checkpointer(checkpoint_dir, signature) if checkpoint_dir is not None else nullcontext() as saver:
        done, record = 0, _Record()
        if saver is not None and (restored := saver.restore(state)):
            done, state, saved = restored
            record = _Record(saved)
            if done > epochs:
                raise InputError(
                    f"the checkpoint in {checkpoint_dir} is at epoch {done}, past the {epochs} asked for"
                )
        todo = [] if record.stopped else range(done + 1, epochs + 1)
        disable = None if progress is None else not progress
        with tqdm(todo, desc=desc, initial=done, total=epochs, disable=disable, leave=False) as bar:
            for epoch in bar:
                start = time.perf_counter()
                state, step_metrics = train_epoch(
                    state, train, jax.random.fold_in(key, epoch), batch_size, shuffle, mesh
                )
                step_metrics = jax.device_get(step_metrics)
                row: dict[str, float] = {"epoch": epoch}
                row.update({f"train_{k}": float(np.mean(v)) for k, v in step_metrics.items()})
                if valid is not None:
                    row.update({f"valid_{k}": v for k, v in evaluate(state, valid).items()})
                row["time_s"] = time.perf_counter() - start
                record.add(row, step_metrics)
                bar.set_postfix(loss=f"{row['train_loss']:.4g}")
                if record.diverged is None:
                    record.diverged = _divergence(epoch, step_metrics["loss"], state)
                    record.stopped = record.diverged is not None and stop_on_divergence
                if not record.stopped and on_epoch is not None:
                    record.stopped = bool(on_epoch(epoch, state, row))
                if saver is not None:
                    saver.save(epoch, state, record.saved())
                if record.stopped:
                    break
    return FitResult(state, record.history, record.step_arrays(), record.diverged)


@jax.jit
def _all_finite(tree: Any) -> jax.Array:
    return jnp.all(jnp.array([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]))


def _divergence(epoch: int, step_losses: np.ndarray, state: TrainState) -> Divergence | None:
    steps_per_epoch = len(step_losses)
    bad = np.flatnonzero(~np.isfinite(step_losses))
    if bad.size:
        return Divergence(epoch, (epoch - 1) * steps_per_epoch + int(bad[0]) + 1, "loss")
    if not bool(_all_finite(state.params)):
        return Divergence(epoch, epoch * steps_per_epoch, "params")
    return None


def train_model(
    model: nn.Module,
    tx: optax.GradientTransformation,
    train: Batch,
    epochs: int,
    batch_size: int | None = None,
    seed: int = 0,
    loss_fn: losses.Loss = losses.cross_entropy,
    metrics_fn: MetricsFn = no_metrics,
    l2: float = 0.0,
    **fit_kwargs: Any,
) -> FitResult:
    """Initialise ``model`` from ``seed`` and ``fit`` it; ``batch_size=None`` is full batch.

    The seed's key is split into one for the parameters and dropout and one for shuffling.
    """
    x, y = jnp.asarray(train[0]), jnp.asarray(train[1])
    init_key, data_key = jax.random.split(jax.random.key(seed))
    state = create_train_state(model, tx, x[:1], init_key, loss_fn, metrics_fn, l2)
    return fit(state, (x, y), epochs, batch_size or len(x), data_key, **fit_kwargs)


def early_stopping(patience: int, metric: str = "valid_loss") -> Callable[..., bool]:
    """An ``on_epoch`` callback for ``fit``: stop once ``metric`` has not improved for
    ``patience`` epochs. Its ``best`` dict holds the best epoch, value and (host copy) state."""
    best: dict[str, Any] = {"epoch": 0, "value": float("inf"), "state": None}

    def callback(epoch: int, state: TrainState, row: dict[str, float]) -> bool:
        if best["state"] is None or row[metric] < best["value"]:  # the first epoch, even if nan
            best.update(epoch=epoch, value=row[metric], state=jax.device_get(state))
        return epoch - best["epoch"] >= patience

    callback.best = best
    return callback


def epoch_table(
    columns: tuple[str, ...] = ("train_loss", "valid_loss", "valid_accuracy"),
    print_fn: Callable[[str], None] = print,
) -> Callable[..., None]:
    """An ``on_epoch`` callback for ``fit`` that prints one row per epoch, as fastai's
    ``Learner.fit`` does: epoch, the chosen history columns, and the epoch's time."""
    header = ["epoch", *columns, "time"]
    widths = [max(len(h), 10) for h in header]
    printed = []

    def callback(epoch: int, state: TrainState, row: dict[str, float]) -> None:
        if not printed:  # the first epoch this run trains (later than 1 after a restore)
            printed.append(epoch)
            print_fn("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        cells = [
            str(epoch),
            *(f"{row[c]:.6f}" if c in row else "-" for c in columns),
            f"{row['time_s']:.2f}s",
        ]
        print_fn("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))

    return callback


def histories(runs: dict[str, list[dict[str, Any]]], tag: str = "run") -> list[dict[str, Any]]:
    """Several runs' history rows in one list (one table), each row tagged with its run's name
    under ``tag``: ``{"run": "raw", "epoch": 1, ...}``."""
    return [{tag: name, **row} for name, rows in runs.items() for row in rows]
