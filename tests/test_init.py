import logging
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


def test_draws_are_the_shapes_own_to_the_last_bit_with_one_program_per_power_of_two():
    """``init`` draws a shape's values as the first of a draw of the next power of two: the very
    numbers ``jax.random`` gives that shape (single keys and vmapped ones), and for the shapes of
    a net, fewer compiled draws than shapes."""
    shapes = [(300, 100), (3, 3, 16, 32), (10,), (1,), (7,)]  # a dense kernel, a conv's, biases
    keys = jax.random.split(KEY, 3)
    for shape in shapes:
        direct = {
            "uniform": lambda k, s=shape: jax.random.uniform(k, s, np.float32, -0.3, 0.3),
            "normal": lambda k, s=shape: 0.7 * jax.random.normal(k, s, np.float32),
        }
        for name, ours in (("uniform", init.uniform(0.3)), ("normal", init.normal(0.7))):
            np.testing.assert_array_equal(ours(KEY, shape), direct[name](KEY), err_msg=f"{name} {shape}")
            if shape == (3, 3, 16, 32):  # and vmapped, as create_train_states draws seeds
                np.testing.assert_array_equal(
                    jax.vmap(lambda k, f=ours, s=shape: f(k, s))(keys),
                    jax.vmap(direct[name])(keys),
                    err_msg=f"{name} {shape}",
                )
    compiled = []
    with jax.log_compiles(True):

        class Count(logging.Handler):
            def emit(self, record):
                if "Finished XLA compilation of jit(_uniform)" in record.getMessage():
                    compiled.append(record.getMessage())

        handler = Count()
        logging.getLogger("jax").addHandler(handler)
        try:
            for shape in [(11, 3), (5, 7), (9, 4), (17, 2)]:  # 33, 35, 36, 34 values: one bucket of 64
                init.uniform(0.123)(jax.random.key(5), shape, np.float32)
        finally:
            logging.getLogger("jax").removeHandler(handler)
    assert len(compiled) <= 1, compiled
