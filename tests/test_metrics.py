"""Accuracies and the metric bundles a training state carries."""

import jax.numpy as jnp
import pytest

from jaxnets import metrics
from jaxnets.errors import InputError


def test_accuracies():
    # One value per example (1 where right), whose mean is the accuracy.
    assert metrics.accuracy(jnp.array([[0.0, 1.0], [2.0, 1.0]]), jnp.array([1, 1])).tolist() == [1.0, 0.0]
    assert metrics.binary_accuracy(jnp.array([[0.9], [0.2]]), jnp.array([1, 1])).tolist() == [1.0, 0.0]
    assert metrics.logit_accuracy(jnp.array([[2.0], [-1.0]]), jnp.array([1, 0])).tolist() == [1.0, 1.0]


def test_metric_bundles_name_their_metrics_and_check_their_labels():
    logits = jnp.array([[0.0, 1.0], [2.0, 1.0]])
    assert metrics.classification_metrics(logits, jnp.array([1, 0]))["accuracy"].tolist() == [1.0, 1.0]
    assert metrics.logit_binary_metrics(jnp.array([[2.0], [1.0]]), jnp.array([1, 0]))[
        "accuracy"
    ].tolist() == [
        1.0,
        0.0,
    ]
    assert metrics.no_metrics(logits, jnp.array([1, 0])) == {}
    with pytest.raises(InputError, match=r"labels of shape \(2,\)"):
        metrics.accuracy(logits, jnp.array([[1], [0]]))
