"""Weight initializers by name, matching the PyTorch calls the lab notes use.

Kernels are laid out as in Flax: (fan_in, fan_out) for a Dense kernel, (kh, kw, in, out) for a
convolution, whose fans include the receptive field (``fans``). Biases follow PyTorch's
``nn.Linear`` default, U(±1/√fan_in), because the labs only ever re-initialise the weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxnets.errors import unknown

Initializer = Callable[..., jax.Array]


def uniform(bound: float) -> Initializer:
    """U(-bound, bound)."""

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def normal(std: float = 1.0) -> Initializer:
    """N(0, std²) (``torch.nn.init.normal_`` has std 1 by default)."""

    def init(key, shape, dtype=jnp.float32):
        return std * jax.random.normal(key, shape, dtype)

    return init


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a kernel as Flax lays them out: a Dense kernel (in, out), a convolution
    kernel (kh, kw, in, out), whose fans count every input (output) of the receptive field."""
    if len(shape) < 2:
        return (shape[0] if shape else 1), 1
    receptive = math.prod(shape[:-2])
    return receptive * shape[-2], receptive * shape[-1]


# Variance scaling with Flax's fans (``nn.initializers.variance_scaling`` draws the same numbers up
# to the last bit: it computes the bound in float32, which for some shapes, such as 128 → 10 or
# 100 → 100, rounds differently and would move the labs' last digits), untruncated as PyTorch's.


def xavier_uniform(key, shape, dtype=jnp.float32):
    """Glorot/Xavier uniform: U(±√(6/(fan_in+fan_out)))."""
    fan_in, fan_out = fans(shape)
    return uniform(math.sqrt(6.0 / (fan_in + fan_out)))(key, shape, dtype)


def xavier_normal(key, shape, dtype=jnp.float32):
    """Glorot/Xavier normal: N(0, 2/(fan_in+fan_out)), untruncated as in PyTorch."""
    fan_in, fan_out = fans(shape)
    return normal(math.sqrt(2.0 / (fan_in + fan_out)))(key, shape, dtype)


def he_normal(key, shape, dtype=jnp.float32):
    """He/Kaiming normal for ReLU (``kaiming_normal_``): N(0, 2/fan_in), untruncated."""
    return normal(math.sqrt(2.0 / fans(shape)[0]))(key, shape, dtype)


def he_normal_fan_out(key, shape, dtype=jnp.float32):
    """``kaiming_normal_(mode="fan_out", nonlinearity="relu")``, torchvision's ResNet convolutions:
    N(0, 2/fan_out), untruncated."""
    return normal(math.sqrt(2.0 / fans(shape)[1]))(key, shape, dtype)


def he_uniform(key, shape, dtype=jnp.float32):
    """He/Kaiming uniform for ReLU (``kaiming_uniform_``): U(±√(6/fan_in))."""
    return uniform(math.sqrt(6.0 / fans(shape)[0]))(key, shape, dtype)


def torch_default(key, shape, dtype=jnp.float32):
    """PyTorch's ``nn.Linear`` / ``nn.Conv2d`` weight default (kaiming_uniform with a=√5):
    U(±1/√fan_in)."""
    return uniform(1.0 / math.sqrt(fans(shape)[0]))(key, shape, dtype)


KERNEL_INITS: dict[str, Callable[[float], Initializer]] = {
    "torch": lambda std: torch_default,
    "normal": normal,
    "xavier_uniform": lambda std: xavier_uniform,
    "xavier_normal": lambda std: xavier_normal,
    "he_normal": lambda std: he_normal,
    "he_uniform": lambda std: he_uniform,
}


def kernel_init(name: str, std: float = 1.0) -> Initializer:
    """The kernel initializer called ``name`` (``std`` is used by "normal" only)."""
    if name not in KERNEL_INITS:
        raise unknown("init", name, KERNEL_INITS)
    return KERNEL_INITS[name](std)


def torch_bias(fan_in: int) -> Initializer:
    """PyTorch's ``nn.Linear`` bias default: U(±1/√fan_in)."""
    return uniform(1.0 / math.sqrt(fan_in))
