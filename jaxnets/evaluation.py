"""Evaluation over a whole data set: the mean of every metric over every example, each batch one
call of a compiled program, the data's rows gathered inside it (no op-by-op slicing of arrays
that may span several processes' devices).

Where the loss and the metrics give one value per example (optax's losses, ``jaxnets.losses``
and ``jaxnets.metrics``), every batch has the same size, the last one padded and its padding
masked out: one compiled program per model and batch size, whatever the data set's size, and
exact means. Where one gives the batch's number (a scalar), the batches are the data's own (the
last one smaller, a second program) and their numbers are weighted by their sizes.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnets.batch import as_pair, check_batch, check_data
from jaxnets.errors import InputError, whole_number
from jaxnets.losses import per_example
from jaxnets.metrics import Metrics
from jaxnets.parallel import Mesh, constrain_batch, mesh_of, replicate, to_host
from jaxnets.state import Batch, TrainState, apply, one_run, variables
from jaxnets.steps import eval_step, per_run


def evaluate(
    state: TrainState, data: Batch, *, batch_size: int = 1000, batch_mean: bool = False, checked: bool = True
) -> dict[str, Any]:
    """Mean metrics over the whole of ``data`` (every example, the last partial batch included),
    split over the devices of the mesh the state is placed on, if any: floats, or for a stacked
    state one value per run (NumPy arrays). ``batch_mean``: the mean of the batches' means, each
    batch counting once (the fastai book's ``validate_epoch``), instead of each example.
    ``data`` is checked first (``batch.check_data``: shapes, and labels that are class ids);
    ``checked=False`` skips that for data checked already (``fit``'s validation set)."""
    placed = mesh_of(state.params)
    mesh = None if state.runs else placed  # (stacked runs are split over the devices run by run)
    data = as_pair(data)
    if checked:
        check_data(state, data, "the evaluated data")
    size = whole_number("batch_size", batch_size, 1)
    x, y = data if placed is None else replicate(data, placed)
    n = len(x)
    masked = gives_one_per_example(state, x, y)
    batches = (
        (_rows((x, y), start, size if masked else min(size, n - start)), min(size, n - start))
        for start in range(0, n, size)
    )
    return mean_over(state, batches, mesh, masked=masked, batch_mean=batch_mean)


def gives_one_per_example(state: TrainState, x: Any, y: Any) -> bool:
    """Whether the state's loss and metrics give one value per example for batches of inputs like
    ``x`` and targets like ``y`` (so that a padded batch can be masked): tried on batches of 2 and
    3 rows, shapes only, nothing computed; found once per model, loss and shapes."""
    run = one_run(state)
    leaves, tree = jax.tree.flatten(run.params)
    key = (run.apply_fn, run.loss_fn, run.metrics_fn, tree, tuple((a.shape, a.dtype) for a in leaves))
    key += (tuple(jnp.shape(x)[1:]), jnp.result_type(x), tuple(jnp.shape(y)[1:]), jnp.result_type(y))
    try:
        if key not in _FOUND:
            _FOUND[key] = _one_per_example(run, *key[-4:])
        return _FOUND[key]
    except TypeError:  # something unhashable in the key
        return _one_per_example(run, *key[-4:])


_FOUND: dict[tuple, bool] = {}


def _one_per_example(state: TrainState, x_shape: tuple, x_dtype: Any, y_shape: tuple, y_dtype: Any) -> bool:
    def values(state: TrainState, x: jax.Array, y: jax.Array) -> Metrics:
        outputs = apply(state, variables(state, state.params), x, train=False)
        return {"loss": state.loss_fn(outputs, y), **state.metrics_fn(outputs, y)}

    for n in (2, 3):
        rows = jax.ShapeDtypeStruct((n, *x_shape), x_dtype), jax.ShapeDtypeStruct((n, *y_shape), y_dtype)
        shapes = jax.eval_shape(values, state, *rows)
        if not all(len(v.shape) >= 1 and v.shape[0] == n for v in shapes.values()):
            return False
    return True


def mean_over(
    state: TrainState,
    batches: Iterable[tuple[Batch, int]],
    mesh: Mesh | None = None,
    *,
    masked: bool = True,
    batch_mean: bool = False,
) -> dict[str, Any]:
    """The means over ``batches``, each ``(batch, count)``: its first ``count`` rows are the data
    (the rest, padding, masked out, where ``masked``); each row counts once, or with
    ``batch_mean`` each batch. The results reach the host once, at the end."""
    results, counts = [], []
    for batch, count in batches:
        if masked:
            results.append(_batch_sums(state, batch, jnp.asarray(count, jnp.int32), mesh))
        else:
            results.append(eval_step(state, batch, mesh))
        counts.append(count)
    if not results:
        raise InputError("there is nothing to evaluate: the data holds no examples")
    counts = np.asarray(counts, np.float64)
    host = to_host(results)
    out = {}
    for name in host[0]:
        values = np.stack([np.asarray(r[name], np.float64) for r in host], -1)  # (…runs, batches)
        means = values / counts if masked else values  # each batch's mean
        out[name] = means.mean(-1) if batch_mean else (means * counts).sum(-1) / counts.sum()
    return out if state.runs else {k: float(v) for k, v in out.items()}


@partial(jax.jit, static_argnames=("size",))
def _rows(data: Batch, start: int, size: int) -> Batch:
    """Rows ``start … start + size - 1`` of ``data``, those past its end repeating its last row
    (padding, masked out by ``count``)."""
    x, y = data
    idx = jnp.minimum(start + jnp.arange(size), x.shape[0] - 1)
    return x[idx], y[idx]


@partial(jax.jit, static_argnames=("mesh",))
def _batch_sums(state: TrainState, batch: Batch, count: jax.Array, mesh: Mesh | None) -> Metrics:
    """The sums of the loss and the metrics over the first ``count`` rows of ``batch``, in
    evaluation mode (one set per run for a stacked state)."""
    x, y = constrain_batch(check_batch(batch, state), mesh)
    valid = jnp.arange(x.shape[0]) < count

    def one(state: TrainState) -> Metrics:
        outputs = apply(state, variables(state, state.params), x, train=False)
        values = {"loss": state.loss_fn(outputs, y), **state.metrics_fn(outputs, y)}
        return {
            k: jnp.sum(jnp.where(valid, per_example(v), 0.0), dtype=jnp.float32) for k, v in values.items()
        }

    return per_run(state, one)
