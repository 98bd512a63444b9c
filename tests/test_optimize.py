"""Optimisation without the epoch loop: a plain pytree minimised, many initialisations at once."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnets import losses, models, optim
from jaxnets.optimize import minimize, train_full_batch
from tests.helpers import KEY


def test_minimize_finds_the_likelihood_maximum():
    theta, nll, path = minimize(
        lambda t: -losses.binomial_log_likelihood(t, 100, 27), jnp.float32(0.5), optax.sgd(1e-3), 100
    )
    assert abs(float(theta) - 0.27) < 1e-4
    assert nll[-1] < nll[0] and path.shape == (100,)


def test_train_full_batch_runs_each_key_independently_and_learns_xor():
    x = jnp.array([[0, 0], [0, 1], [1, 0], [1, 1]], jnp.float32)
    y = jnp.array([[0], [1], [1], [0]], jnp.float32)
    model = models.MLP((8, 1), activation="tanh", output_activation="sigmoid")
    tx = optim.optimizer("sgd", 1.0)
    keys = jax.random.split(KEY, 3)
    params, step_losses = train_full_batch(model, tx, (x, y), 500, keys, losses.binary_cross_entropy)
    chex.assert_shape(step_losses, (3, 500))
    chex.assert_tree_shape_prefix(params, (3,))
    # Run 1 alone gives what it gave among the others: the runs do not interact.
    alone, alone_losses = train_full_batch(model, tx, (x, y), 500, keys[1:2], losses.binary_cross_entropy)
    chex.assert_trees_all_close(jax.tree.map(lambda a: a[1:2], params), alone, atol=1e-6)
    np.testing.assert_allclose(step_losses[1:2], alone_losses, atol=1e-6)
    assert np.all(np.asarray(step_losses[:, -1]) < 0.5 * np.asarray(step_losses[:, 0]))
