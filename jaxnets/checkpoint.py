"""Checkpoints of a training run, with Orbax, so that a stopped run goes on where it stopped.

``fit(..., checkpoint_dir=...)`` saves after every epoch the state (every array field of the
``TrainState`` pytree: params, batch_stats, opt_state, step, PRNG key, and any field a subclass
adds) and the run's record (history, per-step metrics, divergence, whether it has stopped).
Restoring both and training on gives the same parameters and history, bit for bit, as a run that
never stopped: each epoch's shuffle comes from ``fold_in(key, epoch)`` and each step's dropout
from ``fold_in(state.key, state.step)``, both restored.

Saving is asynchronous (Orbax writes while the next epoch trains) and atomic (it writes into a
temporary folder and renames it when complete), so a run killed at any moment leaves the last
complete checkpoint; only the latest one is kept. A Ctrl-C (KeyboardInterrupt) that arrives while
Orbax starts a save or closes waits for that call to end: Python raises it between any two
bytecodes, and raised inside Orbax's ``save`` it left Orbax's threads waiting for a signal that
never came, and the process hanging at exit.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import dataclasses
import functools
import hashlib
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from flax import linen as nn

from jaxnets.errors import InputError
from jaxnets.parallel import is_key, to_host
from jaxnets.state import module_of


def _to_its_end(call: Callable[[], Any]) -> Any:
    """``call()`` run to its end, its result or error returned or raised here: in a thread of its
    own, so that a KeyboardInterrupt raised meanwhile (in this thread) comes after it ends."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # leaving it waits for the call
        return pool.submit(call).result()


def saved_fields(state: Any) -> dict[str, Any]:
    """The fields of a state dataclass that are pytree nodes (what training changes), as arrays
    (PRNG keys as raw key data): derived from the class, so a field added later is saved too."""
    fields = {
        f.name: getattr(state, f.name)
        for f in dataclasses.fields(state)
        if f.metadata.get("pytree_node", True)
    }
    return jax.tree.map(lambda a: jax.random.key_data(a) if is_key(a) else jnp.asarray(a), fields)


def _with_fields(like: Any, arrays: dict[str, Any]) -> Any:
    """``like`` with its saved fields replaced by ``arrays`` (key data wrapped back into keys)."""
    fields = saved_fields(like)
    originals = {f.name: getattr(like, f.name) for f in dataclasses.fields(like) if f.name in fields}
    restored = jax.tree.map(
        lambda new, old: jax.random.wrap_key_data(new, impl=jax.random.key_impl(old)) if is_key(old) else new,
        arrays,
        originals,
    )
    return like.replace(**restored)


def describe(obj: Any, depth: int = 0) -> str:
    """A stable text of what a model, optimizer, schedule or loss is: its fields, or its code's
    name and the values its closure holds (a learning rate, β1, a schedule's steps), so that two
    runs whose arrays merely have the same shapes are told apart."""
    if depth > 8:
        return "…"
    if isinstance(obj, nn.Module):
        return repr(obj)
    if obj is None or isinstance(obj, bool | int | float | str):
        return repr(obj)
    if isinstance(obj, np.ndarray | jax.Array | np.generic):
        data = np.asarray(obj)
        return f"array{list(data.shape)}:{hashlib.sha1(data.tobytes()).hexdigest()[:12]}"
    if isinstance(obj, tuple | list):
        return "(" + ", ".join(describe(o, depth + 1) for o in obj) + ")"
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{k}: {describe(v, depth + 1)}" for k, v in obj.items()) + "}"
    if isinstance(obj, functools.partial):
        return "partial" + describe((obj.func, obj.args, obj.keywords), depth + 1)
    if callable(obj):
        fn = getattr(obj, "__func__", obj)  # a bound method's function
        owner = getattr(obj, "__self__", None)
        cells = [c.cell_contents for c in getattr(fn, "__closure__", None) or () if _filled(c)]
        name = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"
        inner = [describe(v, depth + 1) for v in cells]
        if isinstance(owner, nn.Module):
            inner.insert(0, repr(owner))
        return f"{name}[{', '.join(inner)}]"
    fields = getattr(obj, "_asdict", None)  # a NamedTuple, such as an optax transformation
    if fields is not None:
        return f"{type(obj).__qualname__}{describe(fields(), depth + 1)}"
    return type(obj).__qualname__


def describe_optimizer(tx: Any, params: Any, steps: int = 3) -> str:
    """What an optimizer does, told by doing it: the updates it makes in ``steps`` steps from fixed
    gradients on a small stand-in of ``params`` (same tree, four numbers per leaf), to 6 digits.
    Two optimizers that step alike (a learning rate, β1, a schedule's first steps, a mask by
    parameter name) read alike, whatever their closures hold."""
    leaves, tree = jax.tree_util.tree_flatten(params)
    probe = jax.tree_util.tree_unflatten(
        tree, [np.linspace(-1.0, 1.0, 4, dtype=np.float32) * (i + 1) for i in range(len(leaves))]
    )
    try:
        opt_state, steps_made = tx.init(probe), []
        for t in range(steps):
            grads = jax.tree.map(lambda p, t=t: np.sin(p * (t + 2)), probe)
            updates, opt_state = tx.update(grads, opt_state, probe)
            steps_made += [f"{float(v):.6g}" for u in jax.tree.leaves(updates) for v in np.ravel(u)]
    except Exception as e:  # an optimizer that cannot step a stand-in: its type names it
        return f"{type(tx).__qualname__} (not probed: {type(e).__name__})"
    return f"{type(tx).__qualname__}:{hashlib.sha1(' '.join(steps_made).encode()).hexdigest()[:16]}"


def run_signature(
    state: Any, train: Any, batch_size: int, shuffle: bool, key: jax.Array, drop_last: bool
) -> dict[str, Any]:
    """What a checkpoint must share with the run that continues it: the data (its size and a
    fingerprint of its contents, from its ``feed``), the batching, the keys, the number of runs,
    and what the model, the optimizer and the loss are (not just their arrays' shapes)."""
    return {
        "examples": len(train),
        "data": train.fingerprint(),
        "batch_size": batch_size,
        "shuffle": shuffle,
        **({} if drop_last else {"drop_last": False}),  # (absent where True: earlier checkpoints stay valid)
        "key": np.asarray(to_host(jax.random.key_data(key))).tolist(),
        "runs": state.runs,
        "model": describe(module_of(state)),
        "optimizer": describe_optimizer(state.tx, state.params),
        "loss": describe((state.loss_fn, state.metrics_fn, state.l2)),
    }


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
        return True
    except ValueError:  # an empty cell
        return False


def _layout(arrays: dict[str, Any]) -> dict[str, str]:
    """Each array's path, dtype and shape: what a checkpoint must share with the state it restores."""
    flat = jax.tree_util.tree_flatten_with_path(arrays)[0]
    return {jax.tree_util.keystr(path): f"{np.dtype(a.dtype).name}{list(np.shape(a))}" for path, a in flat}


class Checkpointer:
    """The checkpoints of one training run in ``directory``, described by ``signature`` (data
    size, batch size, key, …), which a saved run must share to be continued. Use it as a context
    manager: leaving it waits for the save in flight."""

    def __init__(self, directory: str | os.PathLike, signature: dict[str, Any]):
        self.directory = os.path.abspath(directory)
        if os.path.exists(self.directory) and not os.path.isdir(self.directory):
            raise InputError(
                f"the checkpoint folder {self.directory} is a file: name a folder for the checkpoints"
            )
        options = ocp.CheckpointManagerOptions(max_to_keep=1, create=True, enable_async_checkpointing=True)
        self.signature = signature
        try:
            self.manager = ocp.CheckpointManager(self.directory, options=options)
        except (OSError, ValueError) as e:
            raise _damaged(self.directory, e) from None

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            _to_its_end(self.manager.close)  # waits for the save in flight
            return
        # Left on an error (Ctrl-C, SIGTERM, a full disk): that error is what to report. The save
        # in flight is still waited for, but what it fails with, and Orbax's thread tracebacks
        # about it, are not added on top (an unfinished save is never taken for a checkpoint).
        absl = logging.getLogger("absl")
        level = absl.level
        absl.setLevel(logging.CRITICAL)
        try:
            with contextlib.suppress(Exception):
                _to_its_end(self.manager.close)
        finally:
            absl.setLevel(level)

    def save(self, epoch: int, state: Any, record: dict[str, Any]) -> None:
        """Save ``state`` and ``record`` (``steps``: per-step metric arrays; the rest: JSON values)
        as the checkpoint of ``epoch``. Host copies are taken first, so the state may be donated
        to the next epoch while Orbax writes in the background."""
        arrays = jax.tree.map(np.array, to_host(saved_fields(state)))
        steps = {k: np.array(v) for k, v in record["steps"].items()}
        # A deep copy: Orbax writes in the background while the caller goes on appending to
        # the same history lists, and the checkpoint of this epoch must hold this epoch's record.
        meta = copy.deepcopy(
            {
                **{k: v for k, v in record.items() if k != "steps"},
                "signature": self.signature,
                "layout": _layout(arrays),
            }
        )
        args = ocp.args.Composite(
            state=ocp.args.StandardSave(arrays),
            steps=ocp.args.StandardSave(steps),
            meta=ocp.args.JsonSave(meta),
        )
        _to_its_end(lambda: self.manager.save(epoch, args=args))

    def restore(self, like: Any) -> tuple[int, Any, dict[str, Any]] | None:
        """The latest checkpoint as ``(epoch, state, record)``, or None when there is none.

        ``like`` is a fresh state of the same model and optimizer (its arrays give the structure,
        shapes and device placement). A checkpoint of another run (another signature or array
        layout) is refused: a folder is never continued by a different run.
        """
        epoch = self.manager.latest_step()
        if epoch is None:
            return None
        where = self.directory
        try:
            meta = self.manager.restore(epoch, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta
        except Exception as e:  # a truncated or damaged checkpoint
            raise _damaged(where, e) from None
        saved_signature = meta.pop("signature", None)
        if saved_signature != self.signature:
            differ = sorted(
                k
                for k in {**self.signature, **(saved_signature or {})}
                if (saved_signature or {}).get(k) != self.signature.get(k)
            )
            raise InputError(
                f"the checkpoint in {where} belongs to another run (its {', '.join(differ)} differ from "
                f"this run's): delete that folder to start afresh, or use another one"
            )
        wanted = saved_fields(like)
        saved, expected = meta.pop("layout"), _layout(wanted)
        if saved != expected:
            diff = sorted(set(saved.items()) ^ set(expected.items()))[:2]
            raise InputError(
                f"the checkpoint in {where} does not fit this model and optimizer (they differ in "
                f"{', '.join(f'{k} {v}' for k, v in diff)}): delete that folder to start afresh, or use "
                f"another one"
            )
        target = jax.tree.map(ocp.utils.to_shape_dtype_struct, wanted)
        try:
            restored = self.manager.restore(
                epoch,
                args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(target), steps=ocp.args.StandardRestore()
                ),
            )
        except Exception as e:
            raise _damaged(where, e) from None
        steps = {k: np.asarray(v) for k, v in restored.steps.items()}
        return epoch, _with_fields(like, dict(restored.state)), {**meta, "steps": steps}


def _damaged(where: str, error: Exception) -> InputError:
    reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
    return InputError(
        f"the checkpoint in {where} is damaged or unreadable ({type(error).__name__}: {reason}): "
        f"delete that folder to start afresh (from the command line: run without --resume)"
    )


def latest_epoch(directory: str | os.PathLike) -> int | None:
    """The epoch of the latest complete checkpoint in ``directory``, if any (for messages). Read
    from the folder's step names alone, with no ``CheckpointManager`` (whose set-up is a
    collective of every process of a job: a process that stopped alone must not enter one)."""
    for _ in range(20):
        if not os.path.isdir(directory):
            return None
        try:
            found = ocp.path.step.latest_step_metadata(directory, ocp.path.step.standard_name_format())
        except FileNotFoundError:  # a save in flight removed a checkpoint while it was listed
            time.sleep(0.05)
            continue
        return None if found is None else found.step
    return None
