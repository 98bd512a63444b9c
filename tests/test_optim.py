import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnets import losses, models, optim
from jaxnets.train import train_model


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


def test_basic_optim_gives_the_same_parameters_as_optax_sgd():
    x = jax.random.normal(jax.random.key(0), (512, 5))
    y = (x.sum(axis=1) > 0).astype(jnp.int32)
    runs = [
        train_model(
            models.MLP((8, 1)), tx, (x, y), epochs=3, batch_size=64, seed=0, loss_fn=losses.mnist_loss
        )
        for tx in (optim.basic_optim(0.5), optax.sgd(0.5))
    ]
    chex.assert_trees_all_equal(runs[0].state.params, runs[1].state.params)
    assert runs[0].history["train_loss"][-1] < runs[0].history["train_loss"][0]


def test_one_cycle_follows_fastais_schedule():
    tx = optim.one_cycle(0.1, total_steps=100)
    params = {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)}
    state = tx.init(params)
    lrs, b1s = [], []
    for _ in range(100):
        lrs.append(float(state.hyperparams["learning_rate"]))
        b1s.append(float(state.hyperparams["b1"]))
        _, state = tx.update(jax.tree.map(jnp.zeros_like, params), state, params)
    assert lrs[0] == pytest.approx(0.1 / 25) and max(lrs) == pytest.approx(0.1, rel=1e-3)
    # (the state records the value of the step before)
    assert abs(int(np.argmax(lrs)) - 25) <= 1 and lrs[-1] < 2e-4 and np.all(np.diff(lrs[27:]) < 0)
    assert b1s[0] == pytest.approx(0.95) and min(b1s) == pytest.approx(0.85, abs=1e-3)
    # Weight decay reaches the weights only: with zero gradients the bias stays put.
    updates, _ = tx.update(jax.tree.map(jnp.zeros_like, params), tx.init(params), params)
    assert float(jnp.abs(updates["bias"]).max()) == 0 and float(jnp.abs(updates["kernel"]).max()) > 0
