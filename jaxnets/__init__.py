"""jaxnets: the classic beginner deep-learning labs in JAX, Flax (linen) and Optax."""

__version__ = "0.1.0"
