"""The jitted steps: one optimizer step, one evaluation, predictions, and a whole epoch as one
compiled call (``lax.scan`` over shuffled batches), each a pure function of a ``TrainState``.

    state, metrics = train_step(state, (x_batch, y_batch))
    metrics = eval_step(state, (x_test, y_test))

A state of several stacked runs (``create_train_states``: one per seed) trains as one program:
every step here vmaps over its run axis (the data shared, each run with its own keys) and gives
one value per run. Evaluation over a whole data set is ``jaxnets.evaluation``.
"""

from __future__ import annotations

from functools import partial

import chex
import jax
import jax.numpy as jnp

from jaxnets import losses
from jaxnets.batch import as_pair, check_batch, check_inputs
from jaxnets.errors import InputError
from jaxnets.metrics import Metrics
from jaxnets.parallel import Mesh, constrain_batch
from jaxnets.state import Batch, TrainState, apply, as_key, check_optimizer, run_keys, variables


def _step(state: TrainState, batch: Batch, rng: jax.Array | None = None) -> tuple[TrainState, Metrics]:
    """One optimizer step of a single run (of a stacked state, one run as vmap sees it)."""
    x, y = check_batch(batch, state)
    check_optimizer(state)
    if state.batch_stats and x.shape[0] == 1:
        raise InputError(
            "BatchNorm in training normalises each feature over the batch, and over a batch of one "
            "example every feature becomes 0 (the net trains to chance; PyTorch refuses it too): "
            "use batches of at least 2 examples"
        )
    rng = jax.random.fold_in(state.key, state.step) if rng is None else as_key(rng, "rng")

    # The first stream (dropout) draws from the step's key, any other from a key folded from it.
    rngs = {name: rng if i == 0 else jax.random.fold_in(rng, i) for i, name in enumerate(state.rng_streams)}

    def loss_of(params):
        outputs, updates = apply(
            state, variables(state, params), x, train=True, rngs=rngs, mutable=["batch_stats"]
        )
        loss = batch_mean(state.loss_fn(outputs, y), "loss_fn", x.shape[0])
        total = loss + state.l2 * losses.l2_penalty(params) if state.l2 else loss
        return total, (loss, outputs, updates)

    (_, (loss, outputs, updates)), grads = jax.value_and_grad(loss_of, has_aux=True)(state.params)
    new_state = state.apply_gradients(grads=grads, batch_stats=updates.get("batch_stats", state.batch_stats))
    return new_state, {"loss": loss, **_means(state.metrics_fn(outputs, y), x.shape[0])}


def batch_mean(values: jax.Array, what: str, n: int) -> jax.Array:
    """A batch's loss or metric: the mean of its one value per example (optax's losses), or the
    value itself where ``what`` gave the batch's number already (a scalar)."""
    values = jnp.asarray(values)
    if values.ndim and values.shape[0] != n:
        raise InputError(
            f"{what} returned values of shape {values.shape} for a batch of {n} examples: return one value "
            f"per example (shape ({n},), as optax's losses do) or the batch's mean (a scalar)"
        )
    return jnp.mean(values)


def _means(metrics: Metrics, n: int) -> Metrics:
    return {k: batch_mean(v, f"metrics_fn's {k!r}", n) for k, v in metrics.items()}


def _train_step(state: TrainState, batch: Batch, rng: jax.Array | None = None) -> tuple[TrainState, Metrics]:
    if rng is None:
        return per_run(state, lambda s: _step(s, batch))
    return per_run(state, lambda s, r: _step(s, batch, r), run_keys(state, rng))


train_step = jax.jit(_train_step, donate_argnums=0)
train_step.__doc__ = """One optimizer step on ``batch = (inputs, targets)``: returns ``(state, metrics)``.

BatchNorm uses (and updates) batch statistics; dropout is on, with key ``rng`` or, by default,
``fold_in(state.key, state.step)``. Metrics (``loss`` and ``state.metrics_fn``'s) are the batch's
means, before the update. A stacked state steps every run on the same batch (each with its own
key; ``rng``: one per run) and gives one value per run. The input state is donated: use the
returned one.
"""


@partial(jax.jit, static_argnames=("mesh",))
def eval_step(state: TrainState, batch: Batch, mesh: Mesh | None = None) -> Metrics:
    """The batch's mean metrics in evaluation mode (BN running averages, no dropout); no state
    change; one value per run for a stacked state. With a ``mesh`` (see ``jaxnets.parallel``),
    the batch is split over its devices."""
    x, y = constrain_batch(check_batch(batch, state), mesh)

    def one(state: TrainState) -> Metrics:
        outputs = apply(state, variables(state, state.params), x, train=False)
        n = x.shape[0]
        return {
            "loss": batch_mean(state.loss_fn(outputs, y), "loss_fn", n),
            **_means(state.metrics_fn(outputs, y), n),
        }

    return per_run(state, one)


@jax.jit
def predict(state: TrainState, x: jax.Array) -> jax.Array:
    """Model outputs for ``x`` in evaluation mode (one set per run for a stacked state)."""
    x = check_inputs(x, state)
    return per_run(state, lambda s: apply(s, variables(s, s.params), x, train=False))


def per_run(state: TrainState, fn, *per_run_args: jax.Array):
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
    return epoch_order(n, as_key(key), shuffle)[: steps * batch_size].reshape(steps, batch_size)


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
    key = run_keys(state, key)
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

    state, metrics = per_run(state, epoch, key)
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
    data = jax.tree.map(jnp.asarray, tuple(as_pair(data)))  # on the device once, not at every step
    n = len(data[0])
    check_batch_size(batch_size, n)
    steps, rest = divmod(n, batch_size)
    orders = _orders(state, run_keys(state, key), n, shuffle)  # (runs, n) for a stacked state, else (n,)
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
    return per_run(state, lambda _, k: epoch_order(n, k, shuffle), key)


@partial(jax.jit, static_argnames=("mesh",), donate_argnames=("state",))
def _batch_step(
    state: TrainState, data: Batch, batches: jax.Array, i: jax.Array, mesh: Mesh | None
) -> tuple[TrainState, Metrics]:
    """The optimizer step on batch ``i`` of ``batches`` (example indices; one set per run)."""
    x, y = as_pair(data)
    return per_run(state, lambda s, b: _step_on_rows(s, b[i], x=x, y=y, mesh=mesh), batches)


def _step_on_rows(
    state: TrainState, idx: jax.Array, *, x: jax.Array, y: jax.Array, mesh: Mesh | None
) -> tuple[TrainState, Metrics]:
    """The optimizer step on rows ``idx`` of ``(x, y)``, split over ``mesh``: one step of an epoch,
    scanned (``train_epoch``) or looped (``loop_epoch``)."""
    return _step(state, constrain_batch((x[idx], y[idx]), mesh))


@partial(jax.jit, static_argnames=("steps",), donate_argnames=("state",))
def train_full_batch(state: TrainState, data: Batch, steps: int) -> tuple[TrainState, Metrics]:
    """``steps`` optimizer steps on the whole of ``data`` in one compiled scan, as the labs'
    ``for step in range(10001)``; vmapped over the runs of a stacked state (many seeds of a
    small problem at once). Returns the state and each step's metrics (before its update)."""
    batch = check_batch(data, state)

    def run(state: TrainState) -> tuple[TrainState, Metrics]:
        return jax.lax.scan(lambda s, _: _step(s, batch), state, length=steps)

    return per_run(state, run)
