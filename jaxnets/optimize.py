"""Optimisation without a model or data: a loss of a plain pytree of parameters minimised in one
compiled scan. (Full-batch training of a model, from one seed or many at once, is
``steps.train_full_batch``.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import optax


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
