import math

import jax
import numpy as np
import pytest
from flax import linen as nn

from jaxnets import init

KEY = jax.random.key(0)


def test_normal_has_requested_std():
    w = np.asarray(init.normal(1.0)(KEY, (400, 300)))
    assert abs(w.std() - 1.0) < 0.01 and abs(w.mean()) < 0.01


@pytest.mark.parametrize(
    "fn, bound",
    [
        (init.torch_default, 1 / math.sqrt(400)),
        (init.xavier_uniform, math.sqrt(6 / 700)),
        (init.he_uniform, math.sqrt(6 / 400)),
    ],
)
def test_uniform_inits_fill_their_bounds(fn, bound):
    w = np.asarray(fn(KEY, (400, 300)))
    assert w.max() <= bound and w.min() >= -bound
    assert w.max() > 0.99 * bound and w.min() < -0.99 * bound


@pytest.mark.parametrize(
    "fn, std", [(init.xavier_normal, math.sqrt(2 / 700)), (init.he_normal, math.sqrt(2 / 400))]
)
def test_normal_inits_have_pytorch_std(fn, std):
    w = np.asarray(fn(KEY, (400, 300)))
    assert abs(w.std() / std - 1) < 0.02


def test_torch_bias_bound():
    b = np.asarray(init.torch_bias(16)(KEY, (1000,)))
    assert b.max() <= 0.25 and b.min() >= -0.25 and b.max() > 0.24


CONV = (3, 3, 64, 128)  # an HWIO convolution kernel: fan_in 3·3·64 = 576, fan_out 3·3·128 = 1152


@pytest.mark.parametrize(
    ("fn", "std"),
    [
        (init.he_normal, lambda fi, fo: math.sqrt(2 / fi)),
        (init.he_uniform, lambda fi, fo: math.sqrt(2 / fi)),
        (init.xavier_normal, lambda fi, fo: math.sqrt(2 / (fi + fo))),
        (init.xavier_uniform, lambda fi, fo: math.sqrt(2 / (fi + fo))),
        (init.torch_default, lambda fi, fo: math.sqrt(1 / (3 * fi))),
    ],
)
@pytest.mark.parametrize("shape", [(1024, 512), CONV])
def test_every_init_has_its_formulas_std_on_dense_and_conv_kernels(fn, std, shape):
    fan_in, fan_out = init.fans(shape)
    w = np.asarray(fn(KEY, shape))
    assert abs(w.std() / std(fan_in, fan_out) - 1) < 0.02, (w.std(), std(fan_in, fan_out))
    assert init.fans(CONV) == (576, 1152)


def test_the_2d_kernels_of_the_labs_are_drawn_bit_for_bit_as_before(monkeypatch):
    """The formulas the labs' kernels were drawn with (fans as shape[0], shape[-1])."""
    before = {
        "xavier_uniform": lambda k, s: init.uniform(math.sqrt(6 / (s[0] + s[1])))(k, s),
        "xavier_normal": lambda k, s: init.normal(math.sqrt(2 / (s[0] + s[1])))(k, s),
        "he_normal": lambda k, s: init.normal(math.sqrt(2 / s[0]))(k, s),
        "he_uniform": lambda k, s: init.uniform(math.sqrt(6 / s[0]))(k, s),
        "torch": lambda k, s: init.uniform(1 / math.sqrt(s[0]))(k, s),
    }
    for name, old in before.items():  # the draws themselves, at one of the labs' shapes
        np.testing.assert_array_equal(
            init.kernel_init(name)(KEY, (784, 256)), old(KEY, (784, 256)), err_msg=name
        )
    # and at every shape of the labs, the scale of the draws (each draw is its scale times a
    # standard draw of the same key and shape): jax.random's draws replaced by that standard
    # draw's stand-in, 1, so that no shape needs a compiled draw of its own.
    monkeypatch.setattr(jax.random, "normal", lambda key, shape, dtype=np.float32: np.ones(shape, dtype))
    monkeypatch.setattr(
        jax.random,
        "uniform",
        lambda key, shape, dtype=np.float32, minval=0, maxval=1: np.full(shape, maxval, dtype),
    )
    for name, old in before.items():
        for shape in [(784, 256), (256, 256), (256, 10), (784, 10), (2, 2), (10, 1), (784, 30), (30, 1)]:
            np.testing.assert_array_equal(init.kernel_init(name)(KEY, shape), old(KEY, shape), err_msg=name)


@pytest.mark.parametrize(
    ("name", "flax_init"),
    [
        ("he_normal", nn.initializers.variance_scaling(2.0, "fan_in", "normal")),
        ("xavier_uniform", nn.initializers.variance_scaling(1.0, "fan_avg", "uniform")),
    ],
)
def test_a_conv_kernel_is_drawn_as_flax_draws_it(name, flax_init):
    """Flax's variance scaling, whose fans count the receptive field, to float32 rounding."""
    np.testing.assert_allclose(init.kernel_init(name)(KEY, CONV), flax_init(KEY, CONV), rtol=1e-6, atol=1e-7)
