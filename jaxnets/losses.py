"""Losses of the labs, each ``f(outputs, targets)`` with one value per example, as optax's losses
are written (the steps take their mean, masked where an evaluation pads its last batch): pass
one as ``loss_fn``, or take ``.mean()`` of it for a batch's loss. ``rmse`` alone is a batch's
number (a root of a mean, not a mean over examples).

Each checks, while it is traced, that its targets fit its outputs, and raises an ``InputError``
that says what to pass instead: a silent broadcast of (N, 1) against (N,) or a one-hot label
would train on the wrong loss without a word."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.scipy.special import gammaln

from jaxnets.errors import InputError

Loss = Callable[[jax.Array, jax.Array], jax.Array]


def class_ids(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Integer labels of shape ``logits.shape[:-1]``, or an error saying how to make them; labels
    whose values are known (not traced) are also checked to be class ids (``check_labels``)."""
    labels = labels if isinstance(labels, jax.Array | np.ndarray) else jnp.asarray(labels)
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        one_hot = labels.shape == logits.shape
        fix = (
            "labels.argmax(-1) turns one-hot rows into ids"
            if one_hot
            else "convert them with labels.astype(jnp.int32)"
        )
        raise InputError(
            f"class labels must be integer class ids, got {labels.dtype} labels of shape "
            f"{labels.shape} for logits of shape {logits.shape}: {fix}"
        )
    if labels.shape != logits.shape[:-1]:
        raise InputError(
            f"logits of shape {logits.shape} need labels of shape {logits.shape[:-1]} (one class id "
            f"per example), got {labels.shape}"
        )
    if not isinstance(labels, jax.core.Tracer):
        check_labels(labels, logits.shape[-1])
    return labels


def check_labels(labels: jax.Array | np.ndarray, n_classes: int, what: str = "labels") -> None:
    """Class ids must lie in 0 .. n_classes − 1: -1 would silently score as the last class and a
    label ≥ n_classes give a NaN loss. One pass over the labels, done once (not per step)."""
    values = np.asarray(jax.device_get(labels))
    bad = (values < 0) | (values >= n_classes)
    if bad.any():
        shown = ", ".join(str(v) for v in np.unique(values[bad])[:5])
        raise InputError(
            f"{what} must be class ids from 0 to {n_classes - 1} (the model has {n_classes} outputs), "
            f"but {int(bad.sum())} of them are not: {shown}"
            + ("…" if np.unique(values[bad]).size > 5 else "")
            + f"; map them into 0..{n_classes - 1}, or give the model more outputs"
        )


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Softmax cross-entropy with integer labels (``F.cross_entropy``). Inside a jitted step,
    where labels cannot be checked before the fact, a label outside 0 .. classes − 1 makes the
    loss NaN (loud, and found by the divergence check) instead of a plausible number."""
    ids = class_ids(logits, labels)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, ids)
    return jnp.where((ids >= 0) & (ids < logits.shape[-1]), loss, jnp.nan)


def _paired(outputs: jax.Array, targets: jax.Array) -> None:
    """One target per output value, or an error naming both shapes."""
    if jnp.size(outputs) != jnp.size(targets):
        raise InputError(
            f"outputs of shape {jnp.shape(outputs)} and targets of shape {jnp.shape(targets)} differ in "
            f"size: give one target per output (e.g. targets of shape {jnp.shape(outputs)})"
        )


def per_example(values: jax.Array) -> jax.Array:
    """One value per example: the mean over any axes after the first (the batch)."""
    return values.reshape(values.shape[0], -1).mean(-1) if values.ndim > 1 else values


def flat_pair(outputs: jax.Array, targets: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Outputs and targets as (N, k), one row per example: (N, 1) outputs against (N,) or (N, 1)
    targets, or k outputs per example against as many targets."""
    _paired(outputs, targets)
    n = jnp.shape(outputs)[0] if jnp.ndim(outputs) else 1
    return outputs.reshape(n, -1), targets.reshape(n, -1).astype(outputs.dtype)


@jax.custom_vjp
def _bce(p: jax.Array, y: jax.Array) -> jax.Array:
    return -(y * jnp.maximum(jnp.log(p), -100.0) + (1 - y) * jnp.maximum(jnp.log1p(-p), -100.0))


def _bce_fwd(p, y):
    return _bce(p, y), (p, y)


def _bce_bwd(res, g):
    # PyTorch's BCELoss gradient, (p - y) / max(p(1 - p), 1e-12): finite where a sigmoid has
    # saturated to exactly 0 or 1 in float32, where the clamped logs' own gradient is 0·∞ = nan.
    p, y = res
    dp = g * (p - y) / jnp.maximum(p * (1 - p), 1e-12)
    dy = g * (jnp.maximum(jnp.log1p(-p), -100.0) - jnp.maximum(jnp.log(p), -100.0))
    return dp, dy


_bce.defvjp(_bce_fwd, _bce_bwd)


def binary_cross_entropy(probs: jax.Array, targets: jax.Array) -> jax.Array:
    """BCE on probabilities (``nn.BCELoss``: logs clamped at -100, and PyTorch's gradient, which
    stays finite when a probability has saturated to exactly 0 or 1)."""
    p, y = flat_pair(probs, targets)
    return per_example(_bce(p, y))


def binary_cross_entropy_with_logits(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """BCE on logits, the numerically stable form (``nn.BCEWithLogitsLoss``)."""
    z, y = flat_pair(logits, targets)
    return per_example(optax.sigmoid_binary_cross_entropy(z, y))


def mse(preds: jax.Array, targets: jax.Array) -> jax.Array:
    """Squared error per example (its mean is ``F.mse_loss``)."""
    _paired(preds, targets)
    return per_example((preds - targets.reshape(preds.shape)) ** 2)


def rmse(preds: jax.Array, targets: jax.Array) -> jax.Array:
    """Root mean squared error of the batch (the fastai chapter's ``mse``, which takes the square
    root): one number, not a mean over examples."""
    return jnp.sqrt(mse(preds, targets).mean())


def l1(preds: jax.Array, targets: jax.Array) -> jax.Array:
    """Absolute error per example (its mean is the mean absolute error)."""
    _paired(preds, targets)
    return per_example(jnp.abs(preds - targets.reshape(preds.shape)))


def mnist_loss(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """fastai's ``mnist_loss`` per example (its mean is the book's): the distance of
    sigmoid(logits) from the 0/1 target."""
    p, y = flat_pair(jax.nn.sigmoid(logits), targets)
    return per_example(jnp.where(y == 1, 1 - p, p))


def binomial_log_likelihood(theta: jax.Array, n: int, k: int) -> jax.Array:
    """log L(θ) = log C(n, k) + k log θ + (n - k) log(1 - θ)."""
    log_comb = gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)
    return log_comb + k * jnp.log(theta) + (n - k) * jnp.log1p(-theta)


def l2_penalty(params) -> jax.Array:
    """Σ W² over the weight matrices (kernels) only, as the notes' λ·ΣW² regulariser."""
    leaves = jax.tree_util.tree_leaves_with_path(params)
    return sum(jnp.sum(leaf**2) for path, leaf in leaves if getattr(path[-1], "key", None) == "kernel")


# Losses whose targets are class ids, so that a data set's labels can be checked once before
# training (the per-step check of traced labels can only see their shape and dtype).
CLASS_ID_LOSSES = (cross_entropy,)
