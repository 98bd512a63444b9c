"""jaxnets: the classic beginner deep-learning labs in JAX, Flax (linen) and Optax."""

import sys

if sys.version_info < (3, 11):  # noqa: UP036 (jax, flax, chex and orbax need it: say so at once)
    raise ImportError(
        f"jaxnets needs Python 3.11 or newer, this is {sys.version.split()[0]}: "
        "create the virtual environment with python3.11 (python3.11 -m venv .venv)"
    )

__version__ = "0.1.0"
