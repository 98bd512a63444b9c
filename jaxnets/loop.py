"""The epoch loop: ``fit`` trains a ``TrainState`` (one run, or N seeds as one program) for some
epochs, evaluates after each one, records the history (``jaxnets.record``, fastai's
``Recorder``) and calls back after each epoch (``jaxnets.callbacks``: divergence, the user's
``on_epoch``, checkpoints, the progress bar); ``train_model`` starts it from a seed.

History rows hold ``epoch`` (1-based), ``train_<metric>`` (mean of the epoch's steps, each
measured before its update, as the labs print it), ``valid_<metric>`` and ``time_s``. Metrics
reach the host once per epoch. ``progress=None`` shows a bar on a terminal only.

Training is data parallel over ``mesh`` (default: every device of every process): state and data are
replicated on it and each batch is split over its devices. A stacked state
(``create_train_states``, N seeds) takes one key per run and trains all runs as one program,
split over the devices run by run (``parallel.place``). Each run keeps its own rows and
divergence; a run that diverges stops recording there (its arrays go on in the program, apart
from the others), and the loop stops once every run has; ``on_epoch`` then gets one value per
run in ``row``.

The data sets live on the devices (each epoch one compiled scan, or for convolutions on CPU a
loop of the compiled step: ``epoch_as``, ``feed.epoch_strategy``) where they fit in their memory;
a larger one, or any ``stream.Source``, is streamed: read from the host by a Grain loader a
batch at a time, with the same batches and the same numbers (``jaxnets.feed``;
``stream=True/False`` to choose); ``FitResult.data_path`` says which and why. Each epoch's last
partial batch is dropped unless ``drop_last=False`` (PyTorch's and fastai's ``DataLoader``
default; data held on the devices only).

With ``checkpoint_dir``, the state and the run so far are saved there after every
``checkpoint_every``-th epoch and after the last one (``jaxnets.checkpoint``), and a run that
finds a checkpoint there goes on from it, to the same result as if it had never stopped; one that
had finished returns at once. A stop loses at most the epochs since the last save (on an
accelerator, where an epoch takes milliseconds, saving every epoch would dominate). Callbacks
keep no saved state: ``on_epoch`` sees only the epochs trained after a restore.
"""

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

from jaxnets import callbacks, losses, parallel
from jaxnets.batch import as_pair
from jaxnets.checkpoint import Checkpointer, run_signature
from jaxnets.errors import InputError, whole_number
from jaxnets.feed import Feed, checked, feeds
from jaxnets.metrics import MetricsFn, batch_values, no_metrics, step_sizes
from jaxnets.parallel import Mesh, place, to_host
from jaxnets.record import FitResult, Record
from jaxnets.state import (
    Batch,
    TrainState,
    create_train_state,
    create_train_states,
    run_count,
    run_keys,
)
from jaxnets.steps import check_batch_size
from jaxnets.stream import Source, device_memory, is_arrays, read_rows

OnEpoch = Callable[[int, TrainState, dict[str, Any]], "bool | None"]


def fit(
    state: TrainState,
    train: Batch | Source,
    *,
    epochs: int,
    batch_size: int | None = None,
    key: jax.Array,
    valid: Batch | Source | None = None,
    shuffle: bool = True,
    drop_last: bool = True,
    on_epoch: OnEpoch | None = None,
    stop_on_divergence: bool = True,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    mesh: Mesh | None = None,
    stream: bool | None = None,
    epoch_as: str | int | None = None,
    progress: bool | None = None,
    desc: str = "train",
) -> FitResult:
    """Train for ``epochs`` epochs of batches of ``batch_size`` (None: the whole data set, one
    step an epoch), evaluating on ``valid`` after each one; returns the ``FitResult``, its
    history by column (``result.history["train_loss"]``, one value per epoch; per run for a
    stacked state). ``key`` is the shuffle key (``jax.random.key`` or ``PRNGKey``), one per run
    for stacked runs. ``on_epoch(epoch, state, row)`` is called after each epoch (True stops the
    run); a non-finite loss or parameter is recorded per run and stops that run unless
    ``stop_on_divergence`` is False; with ``checkpoint_dir`` the run is saved every
    ``checkpoint_every`` epochs and resumed from there. ``epoch_as`` ("scan", "loop", or steps
    to unroll; None: chosen for the backend and model, ``feed.epoch_strategy``) says how an
    epoch over data on the devices runs. See the module's docstring."""
    epochs = whole_number("epochs", epochs, 0)
    checkpoint_every = whole_number("checkpoint_every", checkpoint_every, 1)
    key = run_keys(state, key)
    train, valid = checked(state, train, "the training data"), checked(state, valid, "the validation data")
    n = len(train[0]) if isinstance(train, tuple) else len(train)
    batch_size = n if batch_size is None else whole_number("batch_size", batch_size, 1)
    check_batch_size(batch_size, n)
    state, key, mesh = place(state, key, mesh)
    train, valid = feeds(state, train, valid, mesh, stream, drop_last, epoch_as)
    with _saver(checkpoint_dir, state, train, batch_size, shuffle, key, drop_last) as saver:
        done, state, record = _restore(saver, state, epochs)
        after_epoch = [
            callbacks.divergence(stop_on_divergence),
            callbacks.user(on_epoch),
            callbacks.saving(saver, epochs, checkpoint_every),
        ]
        with callbacks.progress_bar(done, epochs, progress, desc) as bar:
            for epoch in range(done + 1, epochs + 1) if not record.done else ():
                state, step_metrics, row, record.reader = _epoch(
                    state, train, valid, key, epoch, batch_size, shuffle
                )
                record.add(row, step_metrics)
                for callback in (bar, *after_epoch):
                    callback(epoch, state, record)
                if record.done:
                    break
    return record.result(state, train.path)


def _saver(checkpoint_dir: str | os.PathLike | None, *signature_of: Any) -> Checkpointer | nullcontext:
    """The run's checkpoints (none without a folder), signed by what a run that continues them
    must share (``checkpoint.run_signature``)."""
    if checkpoint_dir is None:
        return nullcontext()
    return Checkpointer(checkpoint_dir, run_signature(*signature_of))


def _restore(saver: Checkpointer | None, state: TrainState, epochs: int) -> tuple[int, TrainState, Record]:
    """Where the run starts: epoch 0 with a fresh record, or the saved epoch, state and record."""
    if saver is None or not (restored := saver.restore(state)):
        return 0, state, Record(run_count(state))
    done, state, saved = restored
    if done > epochs:
        raise InputError(
            f"the checkpoint in {saver.directory} is at epoch {done}, past the {epochs} asked for"
        )
    return done, state, Record(run_count(state), saved)


def _epoch(
    state: TrainState,
    train: Feed,
    valid: Feed | None,
    key: jax.Array,
    epoch: int,
    batch_size: int,
    shuffle: bool,
) -> tuple[TrainState, dict[str, np.ndarray], dict[str, Any], dict[str, Any] | None]:
    """Train one epoch and measure it: the state, the per-step metrics as (runs, steps) arrays (a
    single run is a run of one), the epoch's row with one value per run (``train_<metric>``
    the mean of its steps, ``valid_<metric>`` on ``valid``) and its wall time, and for streamed
    data where its reader stopped."""
    start = time.perf_counter()
    # One key per epoch, folded from the run's key (each run's own, for stacked runs).
    fold = jax.random.fold_in if key.ndim == 0 else jax.vmap(jax.random.fold_in, (0, None))
    state, metrics, position = train.train_epoch(state, fold(key, epoch), batch_size, shuffle)
    step_metrics = {k: np.asarray(v).reshape(run_count(state), -1) for k, v in to_host(metrics).items()}
    row: dict[str, Any] = {"epoch": epoch}
    sizes = step_sizes(len(train), batch_size, max((v.shape[-1] for v in step_metrics.values()), default=0))
    row.update({f"train_{k}": batch_values(k, v, sizes).mean(-1) for k, v in step_metrics.items()})
    if valid is not None:
        row.update({f"valid_{k}": np.reshape(v, -1) for k, v in valid.evaluate(state).items()})
    row["time_s"] = time.perf_counter() - start
    return state, step_metrics, row, None if position is None else {"epoch": epoch, "position": position}


MAX_SEED = 2**32 - 1  # JAX's keys hold 32 bits


def seed_keys(seeds: Sequence[int]) -> jax.Array:
    """One PRNG key per seed, stacked: ``seed_keys([3, 4])[k]`` is ``jax.random.key(3 + k)``.
    Seeds are taken modulo 2**32, so the seeds ``seed + k`` after the largest wrap around to 0."""
    wrapped = np.asarray([int(s) % (MAX_SEED + 1) for s in seeds], np.uint32)
    return jax.vmap(jax.random.key)(jnp.asarray(wrapped))


# What one run of a stacked program holds in memory while it trains, in units of its state: the
# state, its gradients and updates, and the optimizer's working copies (measured bound, not exact).
STATE_COPIES = 4


def check_seeds_fit(seeds: int, make_state: Callable[[jax.Array], TrainState]) -> None:
    """Say before anything is allocated when ``seeds`` runs as one program cannot fit: their
    states alone (``STATE_COPIES`` times the size of one, from its shapes) against the memory of
    all devices; ``InputError`` with how many do fit, otherwise."""
    one = jax.eval_shape(make_state, jax.random.key(0))
    per_run = STATE_COPIES * sum(
        a.size * a.dtype.itemsize for a in jax.tree.leaves(one) if hasattr(a, "dtype")
    )
    memory, where = device_memory(parallel.data_mesh())
    memory *= jax.device_count()
    if per_run * seeds > memory:
        fit_ = max(1, memory // per_run)
        devices = f" × {jax.device_count()} devices" if jax.device_count() > 1 else ""
        raise InputError(
            f"{seeds} seeds as one program need about {per_run * seeds / 2**30:,.1f} GB for their states "
            f"alone, more than there is ({memory / 2**30:,.1f} GB: {where}{devices}): about {fit_:,} fit "
            f"at once; train them in parts (seeds={fit_}, then from seed + {fit_}, …)"
        )


def seed_plus(seed: int, k: int) -> int:
    """The ``k``-th seed after ``seed``, modulo 2**32 (as ``seed_keys`` takes them)."""
    return (seed + k) % (MAX_SEED + 1)


def check_seeds(seed: Any, seeds: Any) -> None:
    """A seed JAX can take whole (0 to 2**32 - 1; larger ones would be cut silently) and at least
    one run; ``InputError`` otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed <= MAX_SEED:
        raise InputError(f"seed must be a whole number from 0 to {MAX_SEED} (2**32 - 1), got {seed!r}")
    if isinstance(seeds, bool) or not isinstance(seeds, int | np.integer) or seeds < 1:
        raise InputError(f"seeds must be a whole number of runs, at least 1, got {seeds!r}")


def seeded_state(
    model: nn.Module,
    tx: optax.GradientTransformation,
    example_input: jax.Array,
    *,
    seed: int,
    seeds: int = 1,
    loss_fn: losses.Loss = losses.cross_entropy,
    metrics_fn: MetricsFn = no_metrics,
    l2: float = 0.0,
    rng_streams: tuple[str, ...] = ("dropout",),
) -> tuple[TrainState, jax.Array]:
    """The state a run of ``seed`` starts from and its data (shuffle) key: the seed's key split
    into one for the parameters and dropout and one for shuffling. With ``seeds`` > 1, the
    seeds ``seed, seed + 1, …`` stacked (``create_train_states``), with one data key per run."""
    check_seeds(seed, seeds)
    if seeds == 1:
        init_key, data_key = jax.random.split(jax.random.key(seed))
        state = create_train_state(
            model,
            tx,
            example_input,
            init_key,
            loss_fn=loss_fn,
            metrics_fn=metrics_fn,
            l2=l2,
            rng_streams=rng_streams,
        )
        return state, data_key
    check_seeds_fit(seeds, lambda k: create_train_state(model, tx, example_input, k, loss_fn=loss_fn))
    init_keys, data_keys = jax.vmap(jax.random.split, out_axes=1)(seed_keys(range(seed, seed + seeds)))
    states = create_train_states(
        model,
        tx,
        example_input,
        init_keys,
        loss_fn=loss_fn,
        metrics_fn=metrics_fn,
        l2=l2,
        rng_streams=rng_streams,
    )
    return states, data_keys


def train_model(
    model: nn.Module,
    tx: optax.GradientTransformation,
    train: Batch | Source,
    *,
    epochs: int,
    batch_size: int | None = None,
    seed: int = 0,
    seeds: int = 1,
    loss_fn: losses.Loss = losses.cross_entropy,
    metrics_fn: MetricsFn = no_metrics,
    l2: float = 0.0,
    rng_streams: tuple[str, ...] = ("dropout",),
    **fit_kwargs: Any,
) -> FitResult:
    """Initialise ``model`` from ``seed`` (``seeded_state``) and ``fit`` it: ``train``,
    ``epochs``, ``batch_size`` (None: the whole data set) and ``fit_kwargs`` as ``fit`` takes
    them. With ``seeds`` > 1, the seeds ``seed, seed + 1, …`` train as one program (a stacked
    state), run k as the single run of seed ``seed + k`` would."""
    train = as_pair(train)
    example = train[0][:1] if is_arrays(train) else read_rows(train, np.arange(1))[0]
    state, data_key = seeded_state(
        model,
        tx,
        example,
        seed=seed,
        seeds=seeds,
        loss_fn=loss_fn,
        metrics_fn=metrics_fn,
        l2=l2,
        rng_streams=rng_streams,
    )
    return fit(state, train, epochs=epochs, batch_size=batch_size, key=data_key, **fit_kwargs)
