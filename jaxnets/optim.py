"""Optax optimizers by name, with optional weight decay on the weight matrices."""

from __future__ import annotations

import functools

import jax
import optax

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
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    if not callable(learning_rate) and learning_rate <= 0:
        raise ValueError(f"learning rate must be > 0, got {learning_rate}")
    tx = OPTIMIZERS[name](learning_rate)
    if weight_decay:
        tx = optax.chain(optax.add_decayed_weights(weight_decay, mask=kernel_mask), tx)
    return tx
