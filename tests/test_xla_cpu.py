"""The workaround for XLA:CPU's slow convolutions and pools inside a compiled loop
(``jaxnets.xla_cpu``): the same outputs and gradients as XLA's own ops, and anything it does not
take run as written, with a warning, never a crash."""

import re
import warnings

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets import xla_cpu


@pytest.mark.parametrize(
    ("shape", "kernel", "stride", "padding"),
    [
        ((2, 7, 7, 5), 3, 1, ((1, 1), (1, 1))),
        ((2, 7, 7, 5), 3, 2, ((1, 1), (1, 1))),
        ((2, 2, 2, 8), 3, 1, ((1, 1), (1, 1))),
        ((2, 28, 28, 1), 7, 2, ((3, 3), (3, 3))),
        ((2, 7, 7, 4), 1, 2, "VALID"),
        ((2, 6, 5, 3), 3, 1, "SAME"),
    ],
)
def test_conv_as_matmul_equals_xla_convolution(shape, kernel, stride, padding):
    rng = np.random.default_rng(0)  # NumPy's draws: jax.random's would each be compiled, per shape
    x = rng.standard_normal(shape, np.float32)
    w = rng.standard_normal((kernel, kernel, shape[-1], 6), np.float32)
    dims = ("NHWC", "HWIO", "NHWC")
    want = jax.lax.conv_general_dilated(x, w, (stride, stride), padding, dimension_numbers=dims)
    # jitted, as in a model (op by op, each of its many slices would be compiled on its own)
    conv = jax.jit(
        lambda x, w: xla_cpu.conv_as_matmul(x, w, (stride, stride), padding, dimension_numbers=dims)
    )
    got = conv(x, w)
    chex.assert_trees_all_close(got, want, atol=1e-4, rtol=1e-4)


class _Net(nn.Module):
    """Convolutions of every plain kind (stride 2, SAME and explicit padding, odd maps), tiling
    max pools, BatchNorm: as XLA's own ops, or as ``xla_cpu``'s."""

    as_matmul: bool = False

    @nn.compact
    def __call__(self, x, train: bool = False):
        conv = xla_cpu.conv_as_matmul if self.as_matmul else None

        def pool(x, window):
            return xla_cpu.max_pool_tiled(x, window) if self.as_matmul else nn.max_pool(x, window, window)

        x = nn.Conv(4, (3, 3), strides=2, padding="SAME", conv_general_dilated=conv)(x)
        x = pool(nn.relu(nn.BatchNorm(use_running_average=not train)(x)), (2, 2))
        x = nn.Conv(4, (2, 3), padding=((1, 0), (2, 1)), conv_general_dilated=conv)(x)
        x = pool(nn.relu(x), (3, 2))
        return nn.Dense(3)(x.reshape(len(x), -1))


X = jnp.asarray(np.random.default_rng(0).standard_normal((3, 23, 19, 2)), jnp.float32)


def test_a_model_written_with_them_gives_xlas_outputs_and_gradients():
    """Outputs and gradients (parameters and input) equal XLA's up to float rounding; the pools'
    gradients exactly, ties included (each window's first maximum, as XLA's select-and-scatter);
    the program holds no convolution, windowed max or select-and-scatter."""
    variables = _Net().init(jax.random.key(0), X)

    def loss(model):
        def f(params, x):
            out, _ = model.apply({**variables, "params": params}, x, train=True, mutable=["batch_stats"])
            return (out**2).mean()

        return jax.jit(jax.value_and_grad(f, (0, 1)))

    xla, ours = loss(_Net()), loss(_Net(as_matmul=True))
    for inputs in (X, jnp.round(X), jnp.zeros_like(X)):  # rounded and zero inputs: ties in the pools
        (a, ga), (b, gb) = xla(variables["params"], inputs), ours(variables["params"], inputs)
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
        for p, q in zip(jax.tree.leaves(gb), jax.tree.leaves(ga), strict=True):
            np.testing.assert_allclose(p, q, rtol=1e-4, atol=1e-5)
    pool = lambda f: jax.jit(jax.grad(lambda x: (f(x) * jnp.arange(9)[:, None]).sum()))  # noqa: E731
    for inputs in (jnp.round(X), jnp.zeros_like(X)):
        np.testing.assert_array_equal(
            pool(lambda x: xla_cpu.max_pool_tiled(x, (2, 2)))(inputs),
            pool(lambda x: nn.max_pool(x, (2, 2), (2, 2)))(inputs),
        )
    net = _Net(as_matmul=True)
    program = str(
        jax.make_jaxpr(jax.grad(lambda p: net.apply({**variables, "params": p}, X).sum()))(
            variables["params"]
        )
    )
    for primitive in ("conv_general_dilated", "reduce_window_max", "select_and_scatter_add"):
        assert primitive not in program, primitive


@pytest.mark.parametrize(
    ("conv", "why"),
    [
        (nn.Conv(4, (3, 3), padding=((-1, 0), (0, 0))), "negative padding"),
        (nn.Conv(4, (3, 3), kernel_dilation=2), "a dilated convolution"),
        (nn.Conv(4, (1, 1), feature_group_count=2), "feature_group_count=2"),
        (nn.Conv(4, (3,)), "a 1-D convolution"),
    ],
)
def test_a_convolution_it_does_not_take_runs_as_xlas_with_a_warning(conv, why):
    x = X[:, :8, :8, :] if len(conv.kernel_size) == 2 else X[:, 0, :8, :]
    variables = conv.init(jax.random.key(0), x)
    ours = conv.clone(conv_general_dilated=xla_cpu.conv_as_matmul)
    with pytest.warns(
        UserWarning, match=rf"conv_as_matmul: {re.escape(why)}.*; this convolution runs as lax\.conv"
    ):
        got = ours.apply(variables, x)
    np.testing.assert_allclose(got, conv.apply(variables, x), rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a plain one: no warning
        nn.Conv(4, (3, 3), conv_general_dilated=xla_cpu.conv_as_matmul).init(
            jax.random.key(0), X[:, :8, :8, :]
        )
