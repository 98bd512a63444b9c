"""Optax optimizers by name, with optional weight decay on the weight matrices."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from jaxnets.errors import InputError, unknown

OPTIMIZERS = {"sgd": optax.sgd, "adam": optax.adam, "rmsprop": optax.rmsprop}


def kernel_mask(params) -> object:
    """True for weight matrices (named "kernel"), False for biases and BatchNorm parameters."""
    return jax.tree_util.tree_map_with_path(
        lambda path, _: getattr(path[-1], "key", None) == "kernel", params
    )


@functools.cache
def optimizer(
    name: str, learning_rate: float | optax.Schedule, weight_decay: float = 0.0
) -> optax.GradientTransformation:
    """``name`` ("sgd", "adam", …) at ``learning_rate``, plus ``weight_decay`` · W on kernels.

    Cached: equal arguments return the same object, so compiled steps (which treat the
    optimizer as static) are reused instead of recompiled. The decay is added to the gradient
    before the optimizer scales it, as PyTorch's ``weight_decay`` argument does: it is the
    gradient of the L2 penalty (wd/2)·ΣW².
    """
    if name not in OPTIMIZERS:
        raise unknown("optimizer", name, OPTIMIZERS)
    if not callable(learning_rate) and learning_rate <= 0:
        raise InputError(f"the learning rate must be > 0, got {learning_rate}")
    tx = OPTIMIZERS[name](learning_rate)
    if weight_decay:
        tx = optax.chain(optax.add_decayed_weights(weight_decay, mask=kernel_mask), tx)
    return tx


def combined_cos(
    pct_start: float, start: float, middle: float, end: float, total_steps: int
) -> optax.Schedule:
    """fastai's ``combined_cos`` read at ``pct_train = step / total_steps``, as its
    ``ParamScheduler`` does before each batch: half a cosine from ``start`` to ``middle`` over the
    first ``pct_start`` of training, then from ``middle`` to ``end``. (The phase boundary falls
    between steps, at 48.25 of 193 for C6, as in fastai, not at a whole step.)"""

    def schedule(step):
        pos = jnp.asarray(step, jnp.result_type(float)) / total_steps  # float64 under x64
        up = start + (1 + jnp.cos(jnp.pi * (1 - pos / pct_start))) * (middle - start) / 2
        down = middle + (1 + jnp.cos(jnp.pi * (1 - (pos - pct_start) / (1 - pct_start)))) * (end - middle) / 2
        return jnp.where(pos < pct_start, up, down)

    return schedule


def one_cycle(
    max_lr: float,
    total_steps: int,
    pct_start: float = 0.25,
    div: float = 25.0,
    div_final: float = 1e5,
    moms: tuple[float, float, float] = (0.95, 0.85, 0.95),
    weight_decay: float = 0.01,
) -> optax.GradientTransformation:
    """fastai's ``fit_one_cycle`` with its default optimizer: Adam (β2 0.99, ε 1e-5, decoupled
    weight decay 0.01 on the weights only, not on BatchNorm parameters or biases) whose learning
    rate rises from max_lr/div to max_lr over the first ``pct_start`` of the steps and falls to
    max_lr/div_final, both along cosines, while β1 goes the other way (0.95 → 0.85 → 0.95)."""
    if max_lr <= 0 or total_steps <= 0:
        raise InputError(f"max_lr and total_steps must be > 0, got {max_lr} and {total_steps}")
    if not 0 < pct_start < 1:
        raise InputError(f"pct_start must be in (0, 1), got {pct_start}")
    lr = combined_cos(pct_start, max_lr / div, max_lr, max_lr / div_final, total_steps)
    mom = combined_cos(pct_start, *moms, total_steps)
    return optax.inject_hyperparams(optax.adamw, static_args=("mask",))(
        learning_rate=lr, b1=mom, b2=0.99, eps=1e-5, weight_decay=weight_decay, mask=kernel_mask
    )


def basic_optim(lr: float) -> optax.GradientTransformation:
    """fastai's ``BasicOptim`` as an Optax transformation: the update is p ← p − lr·g and
    nothing else (no state). ``optax.sgd(lr)`` gives the very same parameters."""

    def init(params):
        return optax.EmptyState()

    def update(grads, state, params=None):
        return jax.tree.map(lambda g: -lr * g, grads), state

    return optax.GradientTransformation(init, update)
