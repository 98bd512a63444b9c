"""Checkpoints of a training run, with Orbax, so that a stopped run goes on where it stopped.

``fit(..., checkpoint_dir=...)`` saves after every epoch the state (params, batch_stats,
opt_state, step, RNG key) and the run's record (history, per-step metrics, divergence, whether
it has stopped). Restoring both and training on gives the same parameters and history, bit for
bit, as a run that never stopped: each epoch's shuffle comes from ``fold_in(key, epoch)`` and each
step's dropout from ``fold_in(state.key, state.step)``, both restored.

Saving is asynchronous (Orbax writes while the next epoch trains) and atomic (it writes into a
temporary folder and renames it when complete), so a run killed at any moment leaves the last
complete checkpoint; only the latest one is kept.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxnets.errors import InputError

# Orbax logs every save and restore at INFO/WARNING through absl; a run's output is ours to print.
logging.getLogger("absl").setLevel(logging.ERROR)


def open_manager(directory: str | os.PathLike) -> ocp.CheckpointManager:
    """An Orbax manager for ``directory`` (created if missing) keeping the latest checkpoint.
    Close it (``manager.close()``) to wait for a save in flight."""
    options = ocp.CheckpointManagerOptions(max_to_keep=1, create=True, enable_async_checkpointing=True)
    return ocp.CheckpointManager(os.path.abspath(directory), options=options)


def _arrays(state: Any) -> dict[str, Any]:
    """The arrays of a ``TrainState`` that training changes (the key as raw key data)."""
    return {
        "params": state.params,
        "batch_stats": state.batch_stats,
        "opt_state": state.opt_state,
        "step": state.step,
        "key": jax.random.key_data(state.key),
    }


def _layout(arrays: dict[str, Any]) -> dict[str, str]:
    """Each array's path, dtype and shape: what a checkpoint must share with the state it restores."""
    flat = jax.tree_util.tree_flatten_with_path(arrays)[0]
    return {jax.tree_util.keystr(path): f"{np.dtype(a.dtype).name}{list(np.shape(a))}" for path, a in flat}


@contextlib.contextmanager
def _interrupt_after() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) until the block is done, then deliver it: a save is never cut
    in half by a KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            if callable(previous):
                previous(signal.SIGINT, None)
            else:
                raise KeyboardInterrupt


def save(manager: ocp.CheckpointManager, epoch: int, state: Any, record: dict[str, Any]) -> None:
    """Save ``state`` and ``record`` (``steps``: per-step metric arrays; the rest: JSON values) as
    the checkpoint of ``epoch``. Host copies are taken first, so the state may be donated to the
    next epoch while Orbax writes in the background."""
    arrays = jax.tree.map(np.array, jax.device_get(_arrays(state)))
    steps = {k: np.array(v) for k, v in record["steps"].items()}
    meta = {**{k: v for k, v in record.items() if k != "steps"}, "layout": _layout(arrays)}
    with _interrupt_after():
        manager.save(
            epoch,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(arrays),
                steps=ocp.args.StandardSave(steps),
                meta=ocp.args.JsonSave(meta),
            ),
        )


def restore(
    manager: ocp.CheckpointManager, like: Any, signature: dict[str, Any]
) -> tuple[int, Any, dict[str, Any]] | None:
    """The latest checkpoint as ``(epoch, state, record)``, or None when there is none.

    ``like`` is a fresh state of the same model and optimizer (its arrays give the structure,
    shapes and device placement); ``signature`` describes the run (data size, batch size, …) and
    must equal the one saved, so a folder is never continued by a different run.
    """
    epoch = manager.latest_step()
    if epoch is None:
        return None
    where = manager.directory
    meta = manager.restore(epoch, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta
    if meta.get("signature") != signature:
        raise InputError(
            f"the checkpoint in {where} belongs to another run ({meta.get('signature')}, not "
            f"{signature}): delete that folder to start afresh, or use another one"
        )
    saved, wanted = meta.pop("layout"), _layout(_arrays(like))
    if saved != wanted:
        diff = sorted(set(saved.items()) ^ set(wanted.items()))[:2]
        raise InputError(
            f"the checkpoint in {where} does not fit this model and optimizer (they differ in "
            f"{', '.join(f'{k} {v}' for k, v in diff)}): delete that folder to start afresh, or use "
            f"another one"
        )
    target = jax.tree.map(ocp.utils.to_shape_dtype_struct, _arrays(like))
    restored = manager.restore(
        epoch,
        args=ocp.args.Composite(state=ocp.args.StandardRestore(target), steps=ocp.args.StandardRestore()),
    )
    arrays = dict(restored.state)
    key = jax.random.wrap_key_data(arrays.pop("key"), impl=jax.random.key_impl(like.key))
    state = like.replace(**arrays, key=key)
    steps = {k: np.asarray(v) for k, v in restored.steps.items()}
    return epoch, state, {**meta, "steps": steps}


def latest_epoch(directory: str | os.PathLike) -> int | None:
    """The epoch of the latest complete checkpoint in ``directory``, if any (for messages)."""
    if not os.path.isdir(directory):
        return None
    manager = ocp.CheckpointManager(os.path.abspath(directory))
    try:
        return manager.latest_step()
    finally:
        manager.close()
