import jax
import jax.numpy as jnp
import optax
import pytest

from jaxnets import losses, optim


def test_sgd_weight_decay_equals_l2_penalty_gradient():
    params = {"Linear_0": {"kernel": jnp.array([[1.0, -2.0]]), "bias": jnp.array([3.0, 4.0])}}
    grads = jax.tree_util.tree_map(jnp.zeros_like, params)
    tx = optim.optimizer("sgd", 0.1, weight_decay=0.2)
    updates, _ = tx.update(grads, tx.init(params), params)
    penalty_grad = jax.grad(lambda p: 0.1 * losses.l2_penalty(p))(params)  # (0.2/2)·ΣW²
    expected = jax.tree_util.tree_map(lambda g: -0.1 * g, penalty_grad)
    for a, b in zip(jax.tree_util.tree_leaves(updates), jax.tree_util.tree_leaves(expected), strict=True):
        assert jnp.allclose(a, b)


def test_optimizers_are_cached_and_validated():
    assert optim.optimizer("adam", 1e-3) is optim.optimizer("adam", 1e-3)
    assert isinstance(optim.optimizer("sgd", 0.1), optax.GradientTransformation)
    with pytest.raises(ValueError, match="sgd"):
        optim.optimizer("lbfgs", 0.1)
    with pytest.raises(ValueError, match="> 0"):
        optim.optimizer("sgd", -1.0)
