"""Flax linen models of the labs: linear layers, MLPs (with BatchNorm/Dropout), polynomials,
ResNet-18.

Every model takes ``train: bool`` so one train/eval step serves them all: BatchNorm uses batch
statistics and Dropout is on only when ``train`` is True.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from jaxnets import init as inits
from jaxnets.errors import unknown
from jaxnets.xla_cpu import conv_as_matmul

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "identity": lambda x: x,
    "sigmoid": nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": nn.relu,
    "leaky_relu": lambda x: nn.leaky_relu(x, negative_slope=0.01),
}


def activation(name: str) -> Callable[[jax.Array], jax.Array]:
    """The activation function called ``name``."""
    if name not in ACTIVATIONS:
        raise unknown("activation", name, ACTIVATIONS)
    return ACTIVATIONS[name]


class BatchNorm(nn.Module):
    """PyTorch's ``BatchNorm1d/2d`` (momentum 0.1, ε 1e-5) over the last axis: in training it
    normalises by the batch's mean and biased variance and averages the *unbiased* variance
    (÷ (n − 1)) into ``batch_stats['var']``, as PyTorch does, where ``flax.linen.BatchNorm`` keeps the
    biased one; in evaluation it uses the running averages. Same variable names as Flax's
    (``scale``, ``bias``; ``mean``, ``var``), so its checkpoints load either way.

    Why not Flax's: the labs' evaluation numbers use PyTorch's running variance (~1 % larger at
    batch 100, 1.6 % at 64), and the twins' step-for-step tests compare it exactly."""

    use_running_average: bool = False
    momentum: float = 0.1  # PyTorch's: the weight of the new batch (Flax counts 1 − it)
    epsilon: float = 1e-5
    scale_init: Callable = nn.initializers.ones
    bias_init: Callable = nn.initializers.zeros

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        features, axes = x.shape[-1], tuple(range(x.ndim - 1))
        running_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros(features, jnp.float32))
        running_var = self.variable("batch_stats", "var", lambda: jnp.ones(features, jnp.float32))
        scale = self.param("scale", self.scale_init, (features,))
        bias = self.param("bias", self.bias_init, (features,))
        if self.use_running_average:
            mean, var = running_mean.value, running_var.value
        else:
            mean = x.mean(axes)
            var = jnp.square(x - mean).mean(axes)  # two passes, as PyTorch (not E[x²] − E[x]²)
            if not self.is_initializing():
                n, m = x.size // features, self.momentum
                unbiased = var * (n / max(n - 1, 1))
                running_mean.value = (1 - m) * running_mean.value + m * mean
                running_var.value = (1 - m) * running_var.value + m * unbiased
        return (x - mean) * lax.rsqrt(var + self.epsilon) * scale + bias


class Linear(nn.Module):
    """PyTorch's ``nn.Linear``: y = x W + b, W drawn by ``kernel_init`` (PyTorch's default,
    U(±1/√fan_in), unless given: ``nn.initializers.xavier_uniform()``, …) and b by PyTorch's
    default, which the labs never change. (Flax's ``nn.Dense`` draws its bias as zeros.)"""

    features: int
    kernel_init: inits.Initializer = inits.torch_default
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        fan_in = x.shape[-1]
        kernel = self.param("kernel", self.kernel_init, (fan_in, self.features))
        y = x @ kernel
        if self.use_bias:
            y = y + self.param("bias", inits.torch_bias(fan_in), (self.features,))
        return y


class MLP(nn.Module):
    """Fully connected net: for each hidden width Linear → [BatchNorm] → activation → [Dropout].

    ``widths`` lists every layer's output size, the last one being the output layer, which has no
    BatchNorm, activation or Dropout unless ``output_activation`` names one. Inputs with more than
    two dimensions (images) are flattened.
    """

    widths: Sequence[int]
    activation: str = "relu"
    weight_init: str = "torch"
    std: float = 1.0
    batch_norm: bool = False
    dropout: float = 0.0
    output_activation: str = "identity"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        act = activation(self.activation)
        x = x.reshape((x.shape[0], -1))
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.float32)
        for width in self.widths[:-1]:
            x = Linear(width, inits.kernel_init(self.weight_init, self.std))(x)
            if self.batch_norm:
                x = BatchNorm(use_running_average=not train)(x)
            x = act(x)
            if self.dropout > 0:
                x = nn.Dropout(self.dropout, deterministic=not train)(x)
        x = Linear(self.widths[-1], inits.kernel_init(self.weight_init, self.std))(x)
        return activation(self.output_activation)(x)


def softmax_classifier(n_classes: int, weight_init: str = "torch") -> MLP:
    """Linear layer producing class logits (softmax regression)."""
    return MLP((n_classes,), weight_init=weight_init)


def linear_regression(n_outputs: int = 1, weight_init: str = "torch") -> MLP:
    """Linear layer producing real-valued predictions."""
    return MLP((n_outputs,), weight_init=weight_init)


def perceptron(weight_init: str = "torch") -> MLP:
    """Single neuron with a sigmoid: Linear(d, 1) → sigmoid, outputs probabilities."""
    return MLP((1,), weight_init=weight_init, output_activation="sigmoid")


class Polynomial(nn.Module):
    """p(t) = a_d t^d + … + a_1 t + a_0 with coefficients ~ N(0, 1), for 1-D inputs."""

    degree: int = 2

    @nn.compact
    def __call__(self, t: jax.Array, train: bool = False) -> jax.Array:
        coeffs = self.param("coeffs", inits.normal(1.0), (self.degree + 1,))
        return jnp.polyval(coeffs, t)


def _conv_impl(as_matmul: bool | None) -> Callable | None:
    """``conv_as_matmul`` when asked, or (``None``) on CPU; else XLA's own convolution."""
    if as_matmul is None:
        as_matmul = jax.default_backend() == "cpu"
    return conv_as_matmul if as_matmul else None


class BasicBlock(nn.Module):
    """torchvision's ResNet basic block: two 3×3 convolutions with BatchNorm, plus the input
    (projected by a strided 1×1 convolution and BatchNorm when the shape changes), then ReLU."""

    features: int
    stride: int = 1
    conv_as_matmul: bool | None = None

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        norm = partial(BatchNorm, use_running_average=not train)
        conv = partial(_conv, conv_as_matmul=self.conv_as_matmul)
        y = conv(self.features, (3, 3), self.stride, padding=1)(x)
        y = nn.relu(norm()(y))
        y = conv(self.features, (3, 3), padding=1)(y)
        y = norm()(y)
        if x.shape[-1] != self.features or self.stride != 1:
            x = norm()(conv(self.features, (1, 1), self.stride)(x))
        return nn.relu(x + y)


def _conv(features: int, kernel_size, strides=1, padding=0, conv_as_matmul: bool | None = None) -> nn.Conv:
    """torchvision's ResNet convolution: no bias, ``kaiming_normal_(mode="fan_out")``."""
    return nn.Conv(
        features,
        kernel_size,
        strides,
        padding=padding,
        use_bias=False,
        kernel_init=inits.he_normal_fan_out,
        conv_general_dilated=_conv_impl(conv_as_matmul),
    )


class FastaiHead(nn.Module):
    """fastai's ``create_head(2·features, n_classes)`` as ``cnn_learner`` puts it on a body:
    max and average pooling concatenated (``AdaptiveConcatPool2d``, max first), BatchNorm →
    Dropout(p/2) → Linear(512, no bias) → ReLU → BatchNorm → Dropout(p) → Linear(n_classes, no
    bias); its BatchNorms start with bias 1e-3, its linear layers with ``kaiming_normal_``."""

    n_classes: int
    dropout: float = 0.5
    hidden: int = 512

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        norm = partial(BatchNorm, use_running_average=not train, bias_init=nn.initializers.constant(1e-3))
        dense = partial(nn.Dense, use_bias=False, kernel_init=inits.he_normal)
        x = jnp.concatenate([x.max(axis=(1, 2)), x.mean(axis=(1, 2))], axis=-1)
        x = nn.Dropout(self.dropout / 2, deterministic=not train)(norm()(x))
        x = nn.relu(dense(self.hidden)(x))
        x = nn.Dropout(self.dropout, deterministic=not train)(norm()(x))
        return dense(self.n_classes)(x)


class ResNet18(nn.Module):
    """torchvision's ResNet-18: a 7×7 stride-2 stem with max pooling, four stages of two basic
    blocks (64, 128, 256, 512 channels; stages 2-4 halve the resolution), torchvision's init
    (fan-out He normal convolutions, BatchNorm 1 and 0, no zero-init of the residual branches).
    Takes N×H×W (grey) or N×H×W×C images; grey ones are repeated into ``in_channels`` channels
    (3: as fastai opens MNIST's PNGs, in RGB).

    ``head``: "linear" (torchvision's: global average pooling, one linear layer) or "fastai"
    (``cnn_learner``'s ``FastaiHead``, with ``head_dropout``). ``conv_as_matmul``: run the
    convolutions as patch matmuls (see ``conv_as_matmul``); the default, None, does so on CPU only."""

    n_classes: int
    stage_features: Sequence[int] = (64, 128, 256, 512)
    conv_as_matmul: bool | None = None
    in_channels: int = 1
    head: str = "linear"
    head_dropout: float = 0.5

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        if self.head not in ("linear", "fastai"):
            raise unknown("ResNet head", self.head, ("linear", "fastai"))
        if x.ndim == 3:
            x = jnp.repeat(x[..., None], self.in_channels, axis=-1)
        x = _conv(self.stage_features[0], (7, 7), 2, padding=3, conv_as_matmul=self.conv_as_matmul)(x)
        x = nn.relu(BatchNorm(use_running_average=not train)(x))
        x = nn.max_pool(x, (3, 3), (2, 2), padding=((1, 1), (1, 1)))
        for i, features in enumerate(self.stage_features):
            for j in range(2):
                stride = 2 if i > 0 and j == 0 else 1
                x = BasicBlock(features, stride, self.conv_as_matmul)(x, train)
        if self.head == "fastai":
            return FastaiHead(self.n_classes, self.head_dropout)(x, train)
        return nn.Dense(self.n_classes)(x.mean(axis=(1, 2)))
