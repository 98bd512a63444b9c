"""Optimisation without the epoch loop: a loss of a plain pytree of parameters minimised in one
compiled scan, and full-batch training of a small model from many initialisations at once."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import chex
import jax
import numpy as np
import optax
from flax import linen as nn

from jaxnets import losses
from jaxnets.state import Batch, check_batch


def _optimizer_steps(
    loss_fn: Callable[[Any], jax.Array],
    params: Any,
    tx: optax.GradientTransformation,
    steps: int,
    keep_path: bool = False,
) -> tuple[Any, Any]:
    """``steps`` optimizer steps on ``loss_fn(params)`` as one ``lax.scan`` (to be traced inside
    a jit). Returns the final parameters and each step's loss (before its update), paired with
    each step's parameters when ``keep_path``."""

    def body(carry, _):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), ((loss, params) if keep_path else loss)

    (params, _), per_step = jax.lax.scan(body, (params, tx.init(params)), length=steps)
    return params, per_step


def minimize(
    loss_fn: Callable[[Any], jax.Array], params: Any, tx: optax.GradientTransformation, steps: int
) -> tuple[Any, np.ndarray, Any]:
    """Minimise ``loss_fn(params)`` for ``steps`` optimizer steps in one compiled scan.

    For problems with no model or data batches (a likelihood, a plain pytree of parameters).
    Returns the final parameters, each step's loss (before its update) and each step's
    parameters (the path taken, stacked along a leading axis).
    """
    params, (step_losses, path) = jax.jit(lambda p: _optimizer_steps(loss_fn, p, tx, steps, keep_path=True))(
        params
    )
    return params, np.asarray(step_losses), jax.device_get(path)


@partial(jax.jit, static_argnames=("model", "tx", "steps", "loss_fn"))
def train_full_batch(
    model: nn.Module,
    tx: optax.GradientTransformation,
    data: Batch,
    steps: int,
    keys: jax.Array,
    loss_fn: losses.Loss = losses.binary_cross_entropy,
) -> tuple[Any, jax.Array]:
    """Full-batch training of a plain model (no BatchNorm or Dropout) from every key in ``keys``
    at once: each key initialises one copy, and all copies take ``steps`` optimizer steps on the
    whole of ``data`` in one compiled, vmapped scan, as the labs' ``for step in range(10001)``.

    Returns the final parameters and each step's loss (before its update), both with a leading
    axis of ``len(keys)``.
    """
    x, y = check_batch(data)

    def one_run(key):
        params = model.init(key, x)["params"]
        return _optimizer_steps(lambda p: loss_fn(model.apply({"params": p}, x), y), params, tx, steps)

    params, step_losses = jax.vmap(one_run)(keys)
    chex.assert_shape(step_losses, (keys.shape[0], steps))
    return params, step_losses
