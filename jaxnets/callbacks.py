"""Callbacks for ``fit``'s ``on_epoch``: stop early on a validation metric, print an epoch table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from tqdm.auto import tqdm

from jaxnets.parallel import is_key, to_host
from jaxnets.state import TrainState


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
) -> Callable[..., None]:
    """An ``on_epoch`` callback for ``fit`` that prints one row per epoch, as fastai's
    ``Learner.fit`` does: epoch, the chosen history columns (their mean over the runs of a
    stacked state), and the epoch's time. Printed with ``tqdm.write``, so the rows go above the
    progress bar instead of breaking it."""
    header = ["epoch", *columns, "time"]
    widths = [max(len(h), 10) for h in header]
    printed = []

    def callback(epoch: int, state: TrainState, row: dict[str, float]) -> None:
        if not printed:  # the first epoch this run trains (later than 1 after a restore)
            printed.append(epoch)
            print_fn("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        cells = [
            str(epoch),
            *(f"{np.mean(row[c]):.6f}" if c in row else "-" for c in columns),  # mean over runs
            f"{row['time_s']:.2f}s",
        ]
        print_fn("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))

    return callback
