"""The jitted steps: one optimizer step, one evaluation, predictions, and a whole epoch as one
compiled call (``lax.scan`` over shuffled batches), each a pure function of a ``TrainState``.

    state, metrics = train_step(state, (x_batch, y_batch))
    metrics = eval_step(state, (x_test, y_test))
"""

from __future__ import annotations

from functools import partial

import chex
import jax
import jax.numpy as jnp

from jaxnets import losses
from jaxnets.errors import InputError
from jaxnets.metrics import Metrics
from jaxnets.parallel import Mesh, constrain_batch, mesh_of, replicate
from jaxnets.state import Batch, TrainState, apply, check_batch, check_inputs, variables


def _train_step(state: TrainState, batch: Batch, rng: jax.Array | None = None) -> tuple[TrainState, Metrics]:
    x, y = check_batch(batch, state)
    if rng is None:
        rng = jax.random.fold_in(state.key, state.step)

    def loss_of(params):
        outputs, updates = apply(
            state, variables(state, params), x, train=True, rngs={"dropout": rng}, mutable=["batch_stats"]
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
    """Model outputs for ``x`` in evaluation mode."""
    return apply(state, variables(state, state.params), check_inputs(x, state), train=False)


def check_batch_size(batch_size: int, n: int) -> None:
    """A batch size from 1 to ``n`` (the data set's size), or an error saying so."""
    if not 0 < batch_size <= n:
        raise InputError(
            f"batch size {batch_size} does not fit a data set of {n} examples: use a batch size from 1 to {n}"
        )


def epoch_batches(n: int, key: jax.Array, batch_size: int, shuffle: bool = True) -> jax.Array:
    """The example indices of one epoch's batches, (n // batch_size, batch_size): a permutation
    drawn with ``key`` (or 0..n-1), the last partial batch dropped."""
    check_batch_size(batch_size, n)
    steps = n // batch_size
    order = jax.random.permutation(key, n) if shuffle else jnp.arange(n)
    return order[: steps * batch_size].reshape(steps, batch_size)


@partial(jax.jit, static_argnames=("batch_size", "shuffle", "mesh"), donate_argnames=("state",))
def train_epoch(
    state: TrainState,
    data: Batch,
    key: jax.Array,
    batch_size: int,
    shuffle: bool = True,
    mesh: Mesh | None = None,
) -> tuple[TrainState, Metrics]:
    """One epoch as one compiled call: shuffle with ``key``, drop the last partial batch, scan.
    With a ``mesh``, each batch is split over its devices (data parallel; pass state and data
    replicated on it, see ``jaxnets.parallel``).

    Returns the new state and per-step metrics (arrays of length ``len(data) // batch_size``).
    """
    x, y = check_batch(data, state)
    batches = epoch_batches(x.shape[0], key, batch_size, shuffle)

    def step_on(state: TrainState, idx: jax.Array) -> tuple[TrainState, Metrics]:
        return _train_step(state, constrain_batch((x[idx], y[idx]), mesh))

    state, metrics = jax.lax.scan(step_on, state, batches)
    chex.assert_tree_shape_prefix(metrics, (batches.shape[0],))
    return state, metrics


def evaluate(state: TrainState, data: Batch, batch_size: int = 1000) -> dict[str, float]:
    """Mean metrics over the whole of ``data`` (every example, remainder included), split over
    the devices of the mesh the state is replicated on, if any."""
    mesh = mesh_of(state.params)
    x, y = data if mesh is None else replicate(data, mesh)
    n = len(x)
    totals: dict[str, jax.Array] = {}
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        for name, value in eval_step(state, (x[start:stop], y[start:stop]), mesh).items():
            totals[name] = totals.get(name, 0.0) + value * (stop - start)
    return {name: float(total) / n for name, total in jax.device_get(totals).items()}
