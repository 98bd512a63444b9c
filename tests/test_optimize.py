"""Optimisation without the epoch loop: a plain pytree minimised, many initialisations at once."""

import jax.numpy as jnp
import optax

from jaxnets import losses
from jaxnets.optimize import minimize


def test_minimize_finds_the_likelihood_maximum():
    theta, nll, path = minimize(
        lambda t: -losses.binomial_log_likelihood(t, 100, 27), jnp.float32(0.5), optax.sgd(1e-3), 100
    )
    assert abs(float(theta) - 0.27) < 1e-4
    assert nll[-1] < nll[0] and path.shape == (100,)
