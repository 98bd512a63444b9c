"""Metrics: accuracies, and the ``metrics_fn`` bundles a training state carries, each
``f(outputs, targets) -> {name: scalar}`` (batch means), reported beside the loss."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxnets.losses import class_ids, flat_pair

Metrics = dict[str, jax.Array]
MetricsFn = Callable[[jax.Array, jax.Array], Metrics]


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Fraction of argmax predictions equal to the integer labels."""
    return jnp.mean(jnp.argmax(logits, -1) == class_ids(logits, labels))


def binary_accuracy(outputs: jax.Array, targets: jax.Array, threshold: float = 0.5) -> jax.Array:
    """Fraction of (outputs > threshold) equal to the 0/1 targets (0.5 for probabilities)."""
    p, y = flat_pair(outputs, targets)
    return jnp.mean((p > threshold) == (y > 0.5))


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
