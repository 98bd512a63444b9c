"""Metrics: accuracies, and the ``metrics_fn`` bundles a training state carries, each
``f(outputs, targets) -> {name: values}`` with one value per example (as the losses; the steps
report their means), reported beside the loss."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxnets.losses import class_ids, flat_pair, per_example

Metrics = dict[str, jax.Array]
MetricsFn = Callable[[jax.Array, jax.Array], Metrics]


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """1 where the argmax prediction equals the integer label, else 0 (its mean: the accuracy)."""
    return (jnp.argmax(logits, -1) == class_ids(logits, labels)).astype(jnp.float32)


def binary_accuracy(outputs: jax.Array, targets: jax.Array, threshold: float = 0.5) -> jax.Array:
    """1 where (output > threshold) equals the 0/1 target (0.5 for probabilities), else 0."""
    p, y = flat_pair(outputs, targets)
    return per_example(((p > threshold) == (y > 0.5)).astype(jnp.float32))


def logit_accuracy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Binary accuracy of logits, i.e. of sigmoid(logits) > 0.5."""
    return binary_accuracy(logits, targets, threshold=0.0)


def no_metrics(outputs: jax.Array, targets: jax.Array) -> Metrics:
    """No metrics beyond the loss (regression)."""
    return {}


def classification_metrics(logits: jax.Array, labels: jax.Array) -> Metrics:
    """Accuracy of argmax predictions against integer labels."""
    return {"accuracy": accuracy(logits, labels)}


def logit_binary_metrics(logits: jax.Array, targets: jax.Array) -> Metrics:
    """Accuracy of one logit per example (sigmoid(logit) > 0.5) against 0/1 targets."""
    return {"accuracy": logit_accuracy(logits, targets)}


def batch_values(name: str, means: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Each batch's ``name`` metric on the host in float64, batches on the last axis. A metric
    named ``*accuracy`` whose float32 mean is a count over the batch size, to float32's rounding,
    is taken as that count's exact fraction: 966 of 1000 is reported as 0.966, not 0.96600002
    (an accuracy that is no count, a soft one, is left as it is)."""
    means = np.asarray(means, np.float64)
    if not name.endswith("accuracy"):
        return means
    counts = means * sizes
    whole = np.abs(counts - np.rint(counts)) <= 4 * np.finfo(np.float32).eps * np.maximum(sizes, 1)
    return np.where(whole, np.rint(counts) / sizes, means)


def step_sizes(examples: int, batch_size: int, steps: int) -> np.ndarray:
    """The batch size of each of an epoch's ``steps``: ``batch_size``, but the last holds what
    remains where ``examples`` does not divide into full batches."""
    sizes = np.full(steps, batch_size)
    if steps and 0 < examples - (steps - 1) * batch_size < batch_size:
        sizes[-1] = examples - (steps - 1) * batch_size
    return sizes
