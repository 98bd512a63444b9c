import math

import jax
import numpy as np
import pytest

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


def test_unknown_init_names_the_choices():
    with pytest.raises(ValueError, match="xavier_uniform"):
        init.kernel_init("glorot")
