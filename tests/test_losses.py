import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets import losses
from jaxnets.errors import InputError


def test_cross_entropy_matches_hand_computation():
    logits = jnp.array([[1.0, 2.0, 3.0], [1.0, 0.0, -1.0]])
    labels = jnp.array([2, 0])
    hand = np.mean(
        [-np.log(np.exp(3) / np.exp([1, 2, 3]).sum()), -np.log(np.exp(1) / np.exp([1, 0, -1]).sum())]
    )
    per_example = losses.cross_entropy(logits, labels)  # one value per example, as optax's
    assert per_example.shape == (2,)
    assert float(per_example.mean()) == pytest.approx(hand, rel=1e-6)


def test_bce_on_probabilities_equals_bce_on_logits():
    z = jnp.array([[-2.0], [0.5], [3.0]])
    y = jnp.array([[0.0], [1.0], [1.0]])
    p = 1 / (1 + jnp.exp(-z))
    hand = -np.mean([np.log(1 - p[0, 0]), np.log(p[1, 0]), np.log(p[2, 0])])
    assert losses.binary_cross_entropy(p, y).shape == (3,)
    assert float(losses.binary_cross_entropy(p, y).mean()) == pytest.approx(hand, rel=1e-5)
    assert float(losses.binary_cross_entropy_with_logits(z, y).mean()) == pytest.approx(hand, rel=1e-5)


def test_bce_gradient_is_pytorchs_and_finite_when_the_sigmoid_saturates():
    y = jnp.array([1.0, 0.0, 1.0, 0.0])
    p = jnp.array([0.3, 0.8, 1.0, 0.0])  # the last two: a float32 sigmoid that hit exactly 1 / 0
    grad = jax.grad(lambda p, y: losses.binary_cross_entropy(p, y).mean())(p, y)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad[:2], (p[:2] - y[:2]) / (p[:2] * (1 - p[:2])) / 4, rtol=1e-6)
    # Through a saturated sigmoid the update is zero, not nan (the clamped logs alone give 0·∞).
    z = jnp.array([40.0, -40.0])
    g = jax.grad(lambda z: losses.binary_cross_entropy(jax.nn.sigmoid(z), jnp.array([1.0, 0.0])).mean())(z)
    assert np.all(np.isfinite(g))


def test_regression_losses():
    pred, target = jnp.array([1.0, 2.0, 4.0]), jnp.array([1.0, 4.0, 1.0])
    np.testing.assert_allclose(losses.mse(pred, target), [0.0, 4.0, 9.0])
    np.testing.assert_allclose(losses.l1(pred, target), [0.0, 2.0, 3.0])
    assert losses.rmse(pred, target).shape == ()  # the batch's number: a root of the mean
    assert float(losses.rmse(pred, target)) == pytest.approx(math.sqrt(13 / 3))
    # Several outputs per example: one value each, the mean over its outputs.
    np.testing.assert_allclose(losses.mse(jnp.zeros((2, 3)), jnp.array([[1.0, 1, 1], [0, 0, 3]])), [1, 3])


def test_mnist_loss_is_distance_from_target():
    logits, targets = jnp.array([[0.0], [100.0], [-100.0]]), jnp.array([1, 1, 1])
    np.testing.assert_allclose(losses.mnist_loss(logits, targets), [0.5, 0.0, 1.0], atol=1e-6)


def test_binomial_log_likelihood_matches_math_comb():
    theta = 0.3
    hand = math.log(math.comb(100, 27) * theta**27 * (1 - theta) ** 73)
    # float32 gammaln(101) ≈ 364 carries ~4e-5 absolute rounding
    assert float(losses.binomial_log_likelihood(theta, 100, 27)) == pytest.approx(hand, abs=2e-4)


def test_l2_penalty_counts_kernels_only():
    params = {
        "Linear_0": {"kernel": jnp.ones((2, 3)), "bias": jnp.ones(3)},
        "BatchNorm_0": {"scale": jnp.ones(3)},
    }
    assert float(losses.l2_penalty(params)) == 6.0


def test_targets_that_do_not_fit_the_outputs_are_named_with_the_fix():
    logits = jnp.zeros((4, 3))
    with pytest.raises(InputError, match=r"integer class ids.*argmax\(-1\)"):
        losses.cross_entropy(logits, jax.nn.one_hot(jnp.array([0, 1, 2, 0]), 3))
    with pytest.raises(InputError, match=r"integer class ids.*astype"):
        losses.cross_entropy(logits, jnp.array([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(InputError, match=r"labels of shape \(4,\)"):
        losses.cross_entropy(logits, jnp.array([[0], [1], [2], [0]]))
    # (N, 1) predictions against (N, 3) targets would broadcast silently; it is refused.
    with pytest.raises(InputError, match=r"\(4, 1\) and targets of shape \(4, 3\)"):
        losses.mse(jnp.zeros((4, 1)), jnp.zeros((4, 3)))
    with pytest.raises(InputError, match="one target per output"):
        losses.binary_cross_entropy(jnp.full((4, 1), 0.5), jnp.zeros(3))
    # (N, 1) against (N,) is the same targets in another layout, and is fine.
    assert float(losses.mse(jnp.ones((4, 1)), jnp.ones(4)).sum()) == 0.0


def test_labels_that_are_not_class_ids_are_named_with_the_valid_range():
    logits = jnp.zeros((3, 10))
    with pytest.raises(InputError, match=r"class ids from 0 to 9 .*1 of them are not: -1"):
        losses.cross_entropy(logits, [-1, 2, 3])  # would score as class 9
    with pytest.raises(InputError, match=r"2 of them are not: 10, 12"):
        losses.cross_entropy(logits, jnp.array([10, 2, 12]))  # would give a NaN loss
    np.testing.assert_allclose(losses.cross_entropy(logits, jnp.array([9, 2, 0])), np.log(10), rtol=1e-6)


def test_inside_jit_a_label_out_of_range_makes_the_loss_nan_not_a_plausible_number():
    logits = jnp.zeros((3, 4))
    loss = jax.jit(losses.cross_entropy)
    np.testing.assert_allclose(loss(logits, jnp.array([0, 1, 3])), math.log(4), rtol=1e-6)
    for bad in ([0, 1, -1], [0, 1, 4]):  # that example's loss is nan, so the batch's mean is
        assert np.isnan(loss(logits, jnp.array(bad))).tolist() == [False, False, True]
