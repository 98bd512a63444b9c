"""The epoch loop: ``fit`` trains a ``TrainState`` (one run, or N seeds as one program) for some
epochs, evaluates after each one, records the history (``jaxnets.record``, fastai's
``Recorder``), stops at a divergence, saves checkpoints to go on after a stop, and calls back
after each epoch (``jaxnets.callbacks``); ``train_model`` starts it from a seed."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn
from tqdm.auto import tqdm

from jaxnets import losses
from jaxnets import stream as stream_
from jaxnets.checkpoint import Checkpointer, describe
from jaxnets.errors import InputError
from jaxnets.metrics import MetricsFn, no_metrics
from jaxnets.parallel import Mesh, data_mesh, replicate, runs_mesh, shard_runs, to_host
from jaxnets.record import Divergence, FitResult, Record
from jaxnets.state import (
    Batch,
    TrainState,
    check_data,
    create_train_state,
    create_train_states,
    module_of,
)
from jaxnets.steps import check_batch_size, evaluate, train_epoch
from jaxnets.stream import Source

OnEpoch = Callable[[int, TrainState, dict[str, Any]], "bool | None"]


def fit(
    state: TrainState,
    train: Batch | Source,
    epochs: int,
    batch_size: int,
    key: jax.Array,
    valid: Batch | Source | None = None,
    shuffle: bool = True,
    stop_on_divergence: bool = True,
    progress: bool | None = None,
    desc: str = "train",
    on_epoch: OnEpoch | None = None,
    mesh: Mesh | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    stream: bool | None = None,
    checkpoint_every: int = 1,
    drop_last: bool = True,
) -> FitResult:
    """Train for ``epochs`` epochs; evaluate on ``valid`` after each one.

    History rows hold ``epoch`` (1-based), ``train_<metric>`` (mean of the epoch's steps, each
    measured before its update, as the labs print it), ``valid_<metric>`` and ``time_s``. Metrics
    reach the host once per epoch. A non-finite loss or parameter is recorded in ``diverged``; the
    run stops there unless ``stop_on_divergence`` is False. ``on_epoch(epoch, state, row)`` is
    called after each epoch; returning True stops the run (see ``early_stopping``).
    Each epoch's last partial batch is dropped unless ``drop_last=False`` (PyTorch's and fastai's
    ``DataLoader`` default; data held on the devices only). ``progress=None`` shows a bar on a
    terminal only. Training is data parallel over ``mesh``
    (default: all local devices): state and data are replicated on it and each batch is split
    over its devices.

    A stacked state (``create_train_states``, N seeds) takes one key per run in ``key`` and
    trains all runs as one program, split over the devices run by run (``parallel.shard_runs``;
    default mesh: ``parallel.runs_mesh``). Each run keeps its own rows and divergence; a run that
    diverges stops recording there (its arrays go on in the program, apart from the others),
    and the loop stops once every run has. ``on_epoch`` then gets one value per run in ``row``.

    The data sets live on the devices (each epoch one compiled scan) where they fit in their
    memory; a larger one, or any ``stream.Source``, is streamed: read from the host by a Grain
    loader a batch at a time, with the same batches and the same numbers (``jaxnets.stream``;
    ``stream=True/False`` to choose). ``FitResult.data_path`` says which and why.

    With ``checkpoint_dir``, the state and the run so far are saved there after every
    ``checkpoint_every``-th epoch and after the last one (see ``jaxnets.checkpoint``), and a run
    that finds a checkpoint there goes on from it, to the same result as if it had never stopped;
    one that had finished returns at once. A stop loses at most the epochs since the last save
    (on an accelerator, where an epoch takes milliseconds, saving every epoch would dominate).
    Callbacks keep no saved state: ``on_epoch`` sees only the epochs trained after a restore.
    """
    if epochs < 0:
        raise InputError(f"epochs must be >= 0, got {epochs}")
    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1:
        raise InputError(
            f"checkpoint_every must be a whole number of epochs >= 1, got {checkpoint_every!r} "
            "(checkpoint_dir=None saves none)"
        )
    train = tuple(train) if stream_.is_arrays(train) else stream_.as_source(train)
    if valid is not None:
        valid = tuple(valid) if stream_.is_arrays(valid) else stream_.as_source(valid)
    check_data(state, _sample(train), "the training data")
    if valid is not None:
        check_data(state, _sample(valid), "the validation data")
    check_batch_size(batch_size, len(train[0]) if isinstance(train, tuple) else len(train))
    runs = state.runs
    if runs and jnp.shape(key) != (runs,):
        raise InputError(
            f"a state of {runs} stacked runs needs {runs} keys (one per run), got shape {jnp.shape(key)}"
        )
    if runs:
        mesh = runs_mesh(runs) if mesh is None else mesh
        state, key = shard_runs((state, key), mesh, copy=True)  # train_epoch donates the state
    else:
        mesh = data_mesh() if mesh is None else mesh
        state = replicate(state, mesh, copy=True)  # train_epoch donates it; the caller's stays usable
    streamed, data_path = stream_.choose(train, stream, mesh)
    if streamed and not drop_last:
        raise InputError(
            f"drop_last=False trains on data held on the devices, and this data set is streamed "
            f"({data_path}): pass arrays that fit, or drop the last partial batch"
        )
    if streamed and runs:
        raise InputError(
            f"{runs} stacked runs train on data held on the devices, and this data set is streamed "
            f"({data_path}): train the seeds one at a time, or pass arrays that fit"
        )
    train = stream_.as_source(train) if streamed else replicate(train, mesh)
    if valid is not None:  # arrays go on the devices with the training data; a Source is streamed
        valid = (
            replicate(valid, mesh) if isinstance(valid, tuple) and not streamed else stream_.as_source(valid)
        )
    saver = nullcontext()
    if checkpoint_dir is not None:
        saver = Checkpointer(checkpoint_dir, _signature(state, train, batch_size, shuffle, key, drop_last))
    with saver as saver:
        done, record = 0, Record(runs or 1)
        if saver is not None and (restored := saver.restore(state)):
            done, state, saved = restored
            record = Record(runs or 1, saved)
            if done > epochs:
                raise InputError(
                    f"the checkpoint in {checkpoint_dir} is at epoch {done}, past the {epochs} asked for"
                )
        todo = [] if all(record.stopped) else range(done + 1, epochs + 1)
        disable = (None if progress is None else not progress) if jax.process_index() == 0 else True
        with tqdm(todo, desc=desc, initial=done, total=epochs, disable=disable, leave=False) as bar:
            for epoch in bar:
                state, step_metrics, row, record.reader = _epoch(
                    state, train, valid, key, epoch, batch_size, shuffle, mesh, drop_last
                )
                rows = [
                    {k: v if k in ("epoch", "time_s") else float(v[run]) for k, v in row.items()}
                    for run in range(runs or 1)
                ]
                record.add(rows, step_metrics)
                bar.set_postfix(loss=f"{np.mean(row['train_loss']):.4g}")
                diverged = _divergences(epoch, step_metrics["loss"], state)
                for run, d in enumerate(diverged):
                    if record.diverged[run] is None and d is not None:
                        record.diverged[run] = d
                        record.stopped[run] = stop_on_divergence
                if not all(record.stopped) and on_epoch is not None:
                    if on_epoch(epoch, state, row if runs else rows[0]):
                        record.stopped = [True] * len(record.stopped)
                last = epoch == epochs or all(record.stopped)
                if saver is not None and (epoch % checkpoint_every == 0 or last):
                    saver.save(epoch, state, record.saved())
                if all(record.stopped):
                    break
    steps = record.step_arrays()
    if runs:
        return FitResult(state, record.history, steps, tuple(record.diverged), data_path)
    single_steps = {k: v[0] for k, v in steps.items()}
    return FitResult(state, record.history[0], single_steps, record.diverged[0], data_path)


def _sample(data: Batch | Source) -> Batch:
    """``data`` itself (arrays), or a few rows of a source to check against the model."""
    return data if isinstance(data, tuple) else data[np.arange(min(len(data), 2))]


def _epoch(
    state: TrainState,
    train: Batch | Source,
    valid: Batch | Source | None,
    key: jax.Array,
    epoch: int,
    batch_size: int,
    shuffle: bool,
    mesh: Mesh,
    drop_last: bool = True,
) -> tuple[TrainState, dict[str, np.ndarray], dict[str, Any], dict[str, Any] | None]:
    """Train one epoch and measure it: the state, the per-step metrics as (runs, steps) arrays (a
    single run is a run of one), the epoch's row with one value per run (``train_<metric>``
    the mean of its steps, ``valid_<metric>`` on ``valid``) and its wall time, and for streamed
    data where its reader stopped."""
    start = time.perf_counter()
    reader = None
    if not isinstance(train, tuple):
        epoch_key = jax.random.fold_in(key, epoch)
        state, step_metrics, position = stream_.train_epoch(
            state, train, epoch_key, batch_size, shuffle, mesh
        )
        reader = {"epoch": epoch, "position": position}
    elif state.runs:
        epoch_key = jax.vmap(jax.random.fold_in, (0, None))(key, epoch)
        state, step_metrics = train_epoch(state, train, epoch_key, batch_size, shuffle, drop_last=drop_last)
    else:
        epoch_key = jax.random.fold_in(key, epoch)
        state, step_metrics = train_epoch(state, train, epoch_key, batch_size, shuffle, mesh, drop_last)
    runs = state.runs or 1
    step_metrics = {k: np.asarray(v).reshape(runs, -1) for k, v in to_host(step_metrics).items()}
    row: dict[str, Any] = {"epoch": epoch}
    row.update({f"train_{k}": v.mean(axis=-1) for k, v in step_metrics.items()})
    if valid is not None:
        measured = evaluate(state, valid) if isinstance(valid, tuple) else stream_.evaluate(state, valid)
        row.update({f"valid_{k}": np.reshape(v, -1) for k, v in measured.items()})
    row["time_s"] = time.perf_counter() - start
    return state, step_metrics, row, reader


def _signature(
    state: TrainState, train: Batch | Source, batch_size: int, shuffle: bool, key: jax.Array, drop_last: bool
) -> dict[str, Any]:
    """What a checkpoint must share with the run that continues it: the data (its size and a
    fingerprint of its contents), the batching, the keys, the number of runs, and what the model,
    the optimizer and the loss are (their definitions and settings, not just their arrays' shapes)."""
    return {
        "examples": len(train[0]) if isinstance(train, tuple) else len(train),
        "data": np.asarray(to_host(_data_fingerprint(*train))).tolist()
        if isinstance(train, tuple)
        else stream_.fingerprint(train),
        "batch_size": batch_size,
        "shuffle": shuffle,
        **({} if drop_last else {"drop_last": False}),  # (absent where True: earlier checkpoints stay valid)
        "key": np.asarray(to_host(jax.random.key_data(key))).tolist(),
        "runs": state.runs,
        "model": describe(module_of(state)),
        "optimizer": describe(state.tx),
        "loss": describe((state.loss_fn, state.metrics_fn, state.l2)),
    }


@jax.jit
def _data_fingerprint(x: jax.Array, y: jax.Array) -> jax.Array:
    """Sums of the inputs and targets, plain and weighted by a fixed pattern: other contents of
    the same size give other numbers."""

    def sums(a: jax.Array) -> jax.Array:
        flat = a.reshape(-1).astype(jnp.float32)
        return jnp.stack([flat.sum(), (flat * jnp.sin(jnp.arange(flat.size, dtype=jnp.float32))).sum()])

    return jnp.concatenate([sums(x), sums(y)])


@jax.jit
def _finite_per_run(params: Any) -> jax.Array:
    """Whether each run's parameters are all finite: one bool per leading-axis entry."""
    leaves = jax.tree_util.tree_leaves(params)
    return jnp.stack([jnp.all(jnp.isfinite(x.reshape(x.shape[0], -1)), axis=1) for x in leaves]).all(0)


def _divergences(epoch: int, step_losses: np.ndarray, state: TrainState) -> list[Divergence | None]:
    """Each run's first non-finite loss this epoch, or else non-finite parameters after it."""
    steps_per_epoch = step_losses.shape[-1]
    params = state.params if state.runs else jax.tree.map(lambda a: a[None], state.params)
    finite = to_host(_finite_per_run(params))
    found: list[Divergence | None] = []
    for losses_, params_ok in zip(step_losses, finite, strict=True):
        bad = np.flatnonzero(~np.isfinite(losses_))
        if bad.size:
            found.append(Divergence(epoch, (epoch - 1) * steps_per_epoch + int(bad[0]) + 1, "loss"))
        elif not params_ok:
            found.append(Divergence(epoch, epoch * steps_per_epoch, "params"))
        else:
            found.append(None)
    return found


def seed_keys(seeds: Sequence[int]) -> jax.Array:
    """One PRNG key per seed, stacked: ``seed_keys([3, 4])[k]`` is ``jax.random.key(3 + k)``."""
    return jax.vmap(jax.random.key)(jnp.asarray(seeds, jnp.uint32))


def seeded_state(
    model: nn.Module,
    tx: optax.GradientTransformation,
    example_input: jax.Array,
    seed: int,
    seeds: int = 1,
    loss_fn: losses.Loss = losses.cross_entropy,
    metrics_fn: MetricsFn = no_metrics,
    l2: float = 0.0,
) -> tuple[TrainState, jax.Array]:
    """The state a run of ``seed`` starts from and its data (shuffle) key: the seed's key split
    into one for the parameters and dropout and one for shuffling. With ``seeds`` > 1, the
    seeds ``seed, seed + 1, …`` stacked (``create_train_states``), with one data key per run."""
    if seeds == 1:
        init_key, data_key = jax.random.split(jax.random.key(seed))
        return create_train_state(model, tx, example_input, init_key, loss_fn, metrics_fn, l2), data_key
    init_keys, data_keys = jax.vmap(jax.random.split, out_axes=1)(seed_keys(range(seed, seed + seeds)))
    return create_train_states(model, tx, example_input, init_keys, loss_fn, metrics_fn, l2), data_keys


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
    seeds: int = 1,
    **fit_kwargs: Any,
) -> FitResult:
    """Initialise ``model`` from ``seed`` (``seeded_state``) and ``fit`` it; ``batch_size=None``
    is full batch. With ``seeds`` > 1, the seeds ``seed, seed + 1, …`` train as one program (a
    stacked state), run k as the single run of seed ``seed + k`` would."""
    x, y = jnp.asarray(train[0]), jnp.asarray(train[1])
    state, data_key = seeded_state(model, tx, x[:1], seed, seeds, loss_fn, metrics_fn, l2)
    return fit(state, (x, y), epochs, batch_size or len(x), data_key, **fit_kwargs)
