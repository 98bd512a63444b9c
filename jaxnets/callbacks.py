"""What runs after each epoch of ``fit``: the user's ``on_epoch`` callbacks (stop early on a
validation metric, print an epoch table) and the loop's own, each ``(epoch, state, record)``:
report a divergence, call the user's, save a checkpoint, move the progress bar."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from jaxnets.parallel import is_key, to_host
from jaxnets.record import Divergence, Record
from jaxnets.state import TrainState, with_run_axis

AfterEpoch = Callable[[int, TrainState, Record], None]


def early_stopping(patience: int, metric: str = "valid_loss") -> Callable[..., bool]:
    """An ``on_epoch`` callback for ``fit``: stop once ``metric`` has not improved for
    ``patience`` epochs. Its ``best`` dict holds the best epoch, value and (host copy) state;
    for a stacked state, each run's own (arrays over runs), and the run stops once every run
    has gone ``patience`` epochs without improving."""
    best: dict[str, Any] = {"epoch": 0, "value": float("inf"), "state": None}

    def callback(epoch: int, state: TrainState, row: dict[str, Any]) -> bool:
        value = np.asarray(row[metric], float)
        host = to_host(state)
        if best["state"] is None:  # the first epoch, even if nan
            improved = np.ones(value.shape, bool)
            best.update(state=host, value=value, epoch=np.full(value.shape, epoch))
        else:
            improved = value < best["value"]
            best["state"] = jax.tree.map(lambda b, s: _where_runs(improved, s, b), best["state"], host)
        best["value"] = np.where(improved, value, best["value"])
        best["epoch"] = np.where(improved, epoch, best["epoch"])
        if state.runs is None:
            best.update(value=float(best["value"]), epoch=int(best["epoch"]))
        return bool(np.all(epoch - np.asarray(best["epoch"]) >= patience))

    callback.best = best
    return callback


def _where_runs(take: np.ndarray, new: Any, old: Any) -> Any:
    """``new`` for the runs where ``take`` holds (one flag per run, or one for a single run)."""
    if take.ndim == 0:
        return new if take else old
    if is_key(new):
        return new  # the state's key never changes in training
    return np.where(take.reshape(-1, *([1] * (np.ndim(new) - 1))), new, old)


def epoch_table(
    columns: tuple[str, ...] = ("train_loss", "valid_loss", "valid_accuracy"),
    print_fn: Callable[[str], None] = tqdm.write,
    title: str | None = None,
) -> Callable[..., None]:
    """An ``on_epoch`` callback for ``fit`` that prints one row per epoch, as fastai's
    ``Learner.fit`` does: epoch, the chosen history columns (their mean over the runs of a
    stacked state), and the epoch's time, under ``title`` if given. Printed with ``tqdm.write``,
    so the rows go above the progress bar instead of breaking it."""
    header = ["epoch", *columns, "time"]
    widths = [max(len(h), 10) for h in header]
    printed = []

    def callback(epoch: int, state: TrainState, row: dict[str, float]) -> None:
        if not printed:  # the first epoch this run trains (later than 1 after a restore)
            printed.append(epoch)
            if title is not None:
                print_fn(title)
            print_fn("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        cells = [
            str(epoch),
            *(f"{np.mean(row[c]):.6f}" if c in row else "-" for c in columns),  # mean over runs
            f"{row['time_s']:.2f}s",
        ]
        print_fn("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))

    return callback


def divergence(stop: bool) -> AfterEpoch:
    """Record each run's first non-finite loss of the epoch, or else non-finite parameters after
    it; with ``stop``, that run stops there."""

    def callback(epoch: int, state: TrainState, record: Record) -> None:
        losses = record.epoch_steps["loss"]
        finite = to_host(_finite_per_run(with_run_axis(state, state.params)))
        for run, (step_losses, params_ok) in enumerate(zip(losses, finite, strict=True)):
            bad = np.flatnonzero(~np.isfinite(step_losses))
            if record.diverged[run] is not None or (params_ok and not bad.size):
                continue
            steps = step_losses.shape[-1]
            if bad.size:
                record.diverged[run] = Divergence(epoch, (epoch - 1) * steps + int(bad[0]) + 1, "loss")
            else:
                record.diverged[run] = Divergence(epoch, epoch * steps, "params")
            record.stopped[run] = stop

    return callback


@jax.jit
def _finite_per_run(params: Any) -> jax.Array:
    """Whether each run's parameters are all finite: one bool per leading-axis entry."""
    leaves = jax.tree_util.tree_leaves(params)
    return jnp.stack([jnp.all(jnp.isfinite(x.reshape(x.shape[0], -1)), axis=1) for x in leaves]).all(0)


def user(on_epoch: Callable[[int, TrainState, dict[str, Any]], bool | None] | None) -> AfterEpoch:
    """The user's ``on_epoch(epoch, state, row)`` while some run goes on (``row``: one value per
    run for stacked runs); its True stops every run."""

    def callback(epoch: int, state: TrainState, record: Record) -> None:
        if on_epoch is None or record.done:
            return
        if on_epoch(epoch, state, record.epoch_row if state.runs else record.epoch_rows[0]):
            record.stopped = [True] * len(record.stopped)

    return callback


def saving(saver: Any, epochs: int, every: int) -> AfterEpoch:
    """Save the state and the record every ``every``-th epoch and after the last one (the
    ``epochs``-th, or where every run has stopped); nothing without a ``saver``."""

    def callback(epoch: int, state: TrainState, record: Record) -> None:
        if saver is not None and (epoch % every == 0 or epoch == epochs or record.done):
            saver.save(epoch, state, record.saved())

    return callback


@contextlib.contextmanager
def progress_bar(done: int, epochs: int, show: bool | None, desc: str) -> Iterator[AfterEpoch]:
    """A progress bar over the epochs, with the last epoch's mean training loss; ``show=None``
    shows it on a terminal only, and only process 0 of a multi-process job shows one."""
    on_terminal = getattr(sys.stderr, "isatty", lambda: False)()
    show = (on_terminal if show is None else show) and jax.process_index() == 0
    if not show:
        yield lambda epoch, state, record: None
        return
    with _Bar(desc=desc, initial=done, total=epochs, leave=False) as bar:

        def callback(epoch: int, state: TrainState, record: Record) -> None:
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(record.epoch_row['train_loss']):.4g}")

        yield callback


class _Bar(tqdm):
    """tqdm without its monitor thread (a bar is updated once an epoch: nothing to watch for)."""

    monitor_interval = 0
