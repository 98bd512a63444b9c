"""The jitted steps: one optimizer step, one evaluation, predictions, and a whole epoch as one
compiled call (``lax.scan`` over shuffled batches), each a pure function of a ``TrainState``.

    state, metrics = train_step(state, (x_batch, y_batch))
    metrics = eval_step(state, (x_test, y_test))

A state of several stacked runs (``create_train_states``: one per seed) trains as one program:
``train_epoch``, ``train_full_batch``, ``evaluate`` and ``predict`` vmap over its run axis (the
data shared, each run with its own shuffle key), and return per-run results.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxnets import losses
from jaxnets.batch import as_pair, check_batch, check_data, check_inputs
from jaxnets.errors import InputError
from jaxnets.metrics import Metrics, batch_values
from jaxnets.parallel import Mesh, constrain_batch, mesh_of, replicate, to_host
from jaxnets.state import Batch, TrainState, apply, check_optimizer, variables


def _train_step(state: TrainState, batch: Batch, rng: jax.Array | None = None) -> tuple[TrainState, Metrics]:
    x, y = check_batch(batch, state)
    check_optimizer(state)
    if state.batch_stats and x.shape[0] == 1:
        raise InputError(
            "BatchNorm in training normalises each feature over the batch, and over a batch of one "
            "example every feature becomes 0 (the net trains to chance; PyTorch refuses it too): "
            "use batches of at least 2 examples"
        )
    if rng is None:
        rng = jax.random.fold_in(state.key, state.step)

    # The first stream (dropout) draws from the step's key, any other from a key folded from it.
    rngs = {name: rng if i == 0 else jax.random.fold_in(rng, i) for i, name in enumerate(state.rng_streams)}

    def loss_of(params):
        outputs, updates = apply(
            state, variables(state, params), x, train=True, rngs=rngs, mutable=["batch_stats"]
        )
        loss = state.loss_fn(outputs, y)
        total = loss + state.l2 * losses.l2_penalty(params) if state.l2 else loss
        return total, (loss, outputs, updates)

    (_, (loss, outputs, updates)), grads = jax.value_and_grad(loss_of, has_aux=True)(state.params)
    new_state = state.apply_gradients(grads=grads, batch_stats=updates.get("batch_stats", state.batch_stats))
    return new_state, {"loss": loss, **state.metrics_fn(outputs, y)}


train_step = jax.jit(_train_step, donate_argnums=0)
train_step.__doc__ = """One optimizer step on ``batch = (inputs, targets)``: returns ``(state, metrics)``.

BatchNorm uses (and updates) batch statistics; dropout is on, with key ``rng`` or, by default,
``fold_in(state.key, state.step)``. Metrics (``loss`` and ``state.metrics_fn``'s) are those of the
batch before the update. The input state is donated: use the returned one.
"""


@partial(jax.jit, static_argnames=("mesh",))
def eval_step(state: TrainState, batch: Batch, mesh: Mesh | None = None) -> Metrics:
    """Metrics of ``batch`` in evaluation mode (BN running averages, no dropout); no state change.
    With a ``mesh`` (see ``jaxnets.parallel``), the batch is split over its devices."""
    x, y = constrain_batch(check_batch(batch, state), mesh)
    outputs = apply(state, variables(state, state.params), x, train=False)
    return {"loss": state.loss_fn(outputs, y), **state.metrics_fn(outputs, y)}


@jax.jit
def predict(state: TrainState, x: jax.Array) -> jax.Array:
    """Model outputs for ``x`` in evaluation mode (one set per run for a stacked state)."""
    x = check_inputs(x, state)
    return _per_run(state, lambda s: apply(s, variables(s, s.params), x, train=False))


def _per_run(state: TrainState, fn, *per_run_args: jax.Array):
    """``fn(state, *per_run_args)``, vmapped over the run axis of a stacked state."""
    return jax.vmap(fn)(state, *per_run_args) if state.runs else fn(state, *per_run_args)


def check_batch_size(batch_size: int, n: int) -> None:
    """A batch size from 1 to ``n`` (the data set's size), or an error saying so."""
    if not 0 < batch_size <= n:
        raise InputError(
            f"batch size {batch_size} does not fit a data set of {n} examples: use a batch size from 1 to {n}"
        )


def epoch_order(n: int, key: jax.Array, shuffle: bool = True) -> jax.Array:
    """The order of one epoch's ``n`` examples: a permutation drawn with ``key``, or 0..n-1."""
    return jax.random.permutation(key, n) if shuffle else jnp.arange(n)


def epoch_batches(n: int, key: jax.Array, batch_size: int, shuffle: bool = True) -> jax.Array:
    """The example indices of one epoch's batches, (n // batch_size, batch_size): a permutation
    drawn with ``key`` (or 0..n-1), the last partial batch dropped."""
    check_batch_size(batch_size, n)
    steps = n // batch_size
    return epoch_order(n, key, shuffle)[: steps * batch_size].reshape(steps, batch_size)


_EPOCH_STATICS = ("batch_size", "shuffle", "mesh", "drop_last", "unroll")


@partial(jax.jit, static_argnames=_EPOCH_STATICS, donate_argnames=("state",))
def train_epoch(
    state: TrainState,
    data: Batch,
    key: jax.Array,
    *,
    batch_size: int,
    shuffle: bool = True,
    mesh: Mesh | None = None,
    drop_last: bool = True,
    unroll: int = 1,
) -> tuple[TrainState, Metrics]:
    """One epoch as one compiled call: shuffle with ``key``, scan over the full batches, and with
    ``drop_last=False`` one more step on the last partial batch (PyTorch's and fastai's
    ``DataLoader`` default, which the fastai labs use). With a ``mesh``, each batch is split over
    its devices (data parallel; pass state and data replicated on it, see ``jaxnets.parallel``).
    A stacked state takes one key per run. ``unroll``: steps per iteration of the compiled loop
    (``lax.scan``'s; more is a larger program, compiled for longer).

    Returns the new state and per-step metrics (arrays of length ``len(data) // batch_size``, plus
    one for a partial batch kept, after a leading run axis for a stacked state).
    """
    x, y = check_batch(data, state)
    check_batch_size(batch_size, x.shape[0])
    steps, rest = divmod(x.shape[0], batch_size)
    last = rest > 0 and not drop_last

    def epoch(state: TrainState, key: jax.Array) -> tuple[TrainState, Metrics]:
        step_on = partial(_step_on_rows, x=x, y=y, mesh=mesh)

        order = epoch_order(x.shape[0], key, shuffle)
        batches = order[: steps * batch_size].reshape(steps, batch_size)
        state, metrics = jax.lax.scan(step_on, state, batches, unroll=unroll)
        if last:
            state, metrics_last = step_on(state, order[steps * batch_size :])
            metrics = jax.tree.map(
                lambda m, m_last: jnp.concatenate([m, m_last[None]]), metrics, metrics_last
            )
        return state, metrics

    state, metrics = _per_run(state, epoch, key)
    chex.assert_tree_shape_suffix(metrics, (steps + last,))
    return state, metrics


def loop_epoch(
    state: TrainState,
    data: Batch,
    key: jax.Array,
    *,
    batch_size: int,
    shuffle: bool = True,
    mesh: Mesh | None = None,
    drop_last: bool = True,
) -> tuple[TrainState, Metrics]:
    """``train_epoch`` as a loop on the host over one compiled step (the state donated, nothing
    brought to the host): the same batches, keys and numbers, for where a step runs slower inside
    a compiled loop than called on its own (convolutions on XLA:CPU, see ``fit``'s ``epoch_as``)."""
    n = len(as_pair(data)[0])
    check_batch_size(batch_size, n)
    steps, rest = divmod(n, batch_size)
    orders = _orders(state, key, n, shuffle)  # (runs, n) for a stacked state, else (n,)
    batches = orders[..., : steps * batch_size].reshape(*orders.shape[:-1], steps, batch_size)
    collected = []
    for i in range(steps):
        state, metrics = _batch_step(state, data, batches, i, mesh)
        collected.append(metrics)
    if rest and not drop_last:
        state, metrics = _batch_step(state, data, orders[..., None, steps * batch_size :], 0, mesh)
        collected.append(metrics)
    return state, jax.tree.map(lambda *m: jnp.stack(m, -1), *collected)


@partial(jax.jit, static_argnames=("n", "shuffle"))
def _orders(state: TrainState, key: jax.Array, n: int, shuffle: bool) -> jax.Array:
    """Each run's order of the epoch's examples, as ``train_epoch`` draws it."""
    return _per_run(state, lambda _, k: epoch_order(n, k, shuffle), key)


@partial(jax.jit, static_argnames=("mesh",), donate_argnames=("state",))
def _batch_step(
    state: TrainState, data: Batch, batches: jax.Array, i: jax.Array, mesh: Mesh | None
) -> tuple[TrainState, Metrics]:
    """The optimizer step on batch ``i`` of ``batches`` (example indices; one set per run)."""
    x, y = as_pair(data)
    return _per_run(state, lambda s, b: _step_on_rows(s, b[i], x=x, y=y, mesh=mesh), batches)


def _step_on_rows(
    state: TrainState, idx: jax.Array, *, x: jax.Array, y: jax.Array, mesh: Mesh | None
) -> tuple[TrainState, Metrics]:
    """The optimizer step on rows ``idx`` of ``(x, y)``, split over ``mesh``: one step of an epoch,
    scanned (``train_epoch``) or looped (``loop_epoch``)."""
    return _train_step(state, constrain_batch((x[idx], y[idx]), mesh))


@partial(jax.jit, static_argnames=("steps",), donate_argnames=("state",))
def train_full_batch(state: TrainState, data: Batch, steps: int) -> tuple[TrainState, Metrics]:
    """``steps`` optimizer steps on the whole of ``data`` in one compiled scan, as the labs'
    ``for step in range(10001)``; vmapped over the runs of a stacked state (many seeds of a
    small problem at once). Returns the state and each step's metrics (before its update)."""
    batch = check_batch(data, state)

    def run(state: TrainState) -> tuple[TrainState, Metrics]:
        return jax.lax.scan(lambda s, _: _train_step(s, batch), state, length=steps)

    return _per_run(state, run)


def evaluate(
    state: TrainState, data: Batch, *, batch_size: int = 1000, batch_mean: bool = False, checked: bool = True
) -> dict[str, Any]:
    """Mean metrics over the whole of ``data`` (every example, remainder included), split over
    the devices of the mesh the state is replicated on, if any: floats, or for a stacked state
    one value per run (NumPy arrays). ``batch_mean``: the mean of the batches' metrics, each
    batch counting once (the fastai book's ``validate_epoch``), instead of each example.
    ``data`` is checked first (``batch.check_data``: shapes, and labels that are class ids);
    ``checked=False`` skips that for data checked already (``fit``'s validation set, each epoch)."""
    mesh = mesh_of(state.params)
    data = as_pair(data)
    if checked:
        check_data(state, data, "the evaluated data")
    x, y = data if mesh is None else replicate(data, mesh)
    starts = range(0, len(x), batch_size)
    batches = ((x[i : i + batch_size], y[i : i + batch_size]) for i in starts)
    return mean_metrics(state, batches, mesh, weighted=not batch_mean)


def mean_metrics(
    state: TrainState, batches: Iterable[Batch], mesh: Mesh | None = None, weighted: bool = True
) -> dict[str, Any]:
    """Mean metrics over ``batches`` (each weighted by its size, or with ``weighted=False`` each
    counting once; each split over ``mesh`` if given): what ``evaluate`` and the streaming path's
    evaluation report."""
    collected, sizes = [], []
    for batch in batches:
        collected.append(_eval_runs(state, batch) if state.runs else eval_step(state, batch, mesh))
        sizes.append(len(batch[0]))
    per_batch = (
        {k: np.stack([m[k] for m in to_host(collected)], -1) for k in collected[0]} if collected else {}
    )
    weights = np.asarray(sizes, np.float64) if weighted else np.ones(len(sizes))
    means = {
        k: (batch_values(k, v, np.asarray(sizes)) * weights).sum(-1) / weights.sum()
        for k, v in per_batch.items()
    }
    return means if state.runs else {k: float(v) for k, v in means.items()}


@jax.jit
def _eval_runs(state: TrainState, batch: Batch) -> Metrics:
    """``eval_step`` of each run of a stacked state on the same batch."""
    return jax.vmap(lambda s: eval_step.__wrapped__(s, batch))(state)
