import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxnets import optim
from jaxnets.feed import _holds
from jaxnets.rewrite import matmul_convs
from jaxnets.state import create_train_states
from jaxnets.steps import train_epoch


class _Net(nn.Module):
    """Convolutions of every plain kind (stride 2, SAME and explicit padding, odd maps), tiling
    max pools, BatchNorm; and, when asked, a dilated and a grouped one (left as XLA's own)."""

    others: bool = False

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.Conv(6, (3, 3), strides=2, padding="SAME")(x)
        x = nn.relu(nn.BatchNorm(use_running_average=not train)(x))
        x = nn.max_pool(x, (2, 2), (2, 2))
        x = nn.Conv(8, (2, 3), padding=((1, 0), (2, 1)))(x)
        x = nn.max_pool(nn.relu(x), (3, 2), (3, 2))
        if self.others:
            x = nn.Conv(8, (3, 3), kernel_dilation=2, padding="SAME")(x)
            x = nn.Conv(8, (1, 1), feature_group_count=2)(x)
        return nn.Dense(3)(x.reshape(len(x), -1))


def _loss(model, variables):
    def loss(params, x):
        out, updates = model.apply(
            {**variables, "params": params}, x, train=True, mutable=["batch_stats"]
        )
        return (out**2).mean(), updates

    return loss


def test_convolutions_and_pools_become_matmuls_and_reshapes_with_the_same_outputs_and_gradients():
    """Outputs and gradients (parameters and input) of the rewritten program are XLA's up to float
    rounding; the pools' gradients exactly, ties included (each window's first maximum, as XLA's
    select-and-scatter); no convolution or windowed max is left in the rewritten program."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((4, 23, 19, 2)), jnp.float32)
    model = _Net()
    variables = jax.jit(model.init)(jax.random.key(0), x)
    loss = _loss(model, variables)
    grads = lambda f: jax.jit(jax.value_and_grad(f, (0, 1), has_aux=True))  # noqa: E731
    xla, rewritten = grads(loss), grads(matmul_convs(loss))
    for inputs in (x, jnp.round(x), jnp.zeros_like(x)):  # rounded and zero inputs: ties in the pools
        (a, a_aux), ga = xla(variables["params"], inputs)
        (b, b_aux), gb = rewritten(variables["params"], inputs)
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
        for p, q in zip(jax.tree.leaves((gb, b_aux)), jax.tree.leaves((ga, a_aux)), strict=True):
            np.testing.assert_allclose(p, q, rtol=1e-4, atol=1e-5)
    pool = lambda x: (nn.max_pool(x, (2, 2), (2, 2)) * jnp.arange(9)[:, None]).sum()  # noqa: E731
    xla, rewritten = jax.jit(jax.grad(pool)), jax.jit(jax.grad(matmul_convs(pool)))
    for inputs in (jnp.round(x), jnp.zeros_like(x)):
        np.testing.assert_array_equal(rewritten(inputs), xla(inputs))
    def program(f):
        return jax.make_jaxpr(jax.grad(lambda p: f(p, x)[0]))(variables["params"]).jaxpr

    assert _holds(program(loss), "conv_general_dilated")
    for primitive in ("conv_general_dilated", "reduce_window_max", "select_and_scatter_add"):
        assert not _holds(program(matmul_convs(loss)), primitive), primitive


def test_convolutions_it_cannot_take_stay_and_a_stacked_state_trains_through_it():
    """A dilated and a grouped convolution stay XLA's (the program still convolves, so ``fit``
    loops on CPU); seeds stacked in one program (vmapped) train through the rewrite as each would
    without it."""
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.standard_normal((16, 23, 19, 2)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 3, 16))
    model = _Net(others=True)
    variables = jax.eval_shape(model.init, jax.random.key(0), x)
    program = jax.make_jaxpr(lambda v: matmul_convs(_loss(model, v))(v["params"], x)[0])(variables)
    convs = [e for e in program.jaxpr.eqns if e.primitive.name == "conv_general_dilated"]
    assert len(convs) == 2
    keys = jax.random.split(jax.random.key(3), 2)
    tx = optim.optimizer("sgd", 0.05)
    fast, xla = (create_train_states(model, tx, x[:1], keys, matmul_convs=m) for m in (True, False))
    assert fast.matmul_convs and not xla.matmul_convs
    (fast, fast_metrics), (xla, xla_metrics) = (
        train_epoch(s, (x, y), keys, batch_size=8) for s in (fast, xla)
    )
    np.testing.assert_allclose(fast_metrics["loss"], xla_metrics["loss"], rtol=1e-5)
    for p, q in zip(jax.tree.leaves(fast.params), jax.tree.leaves(xla.params), strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-4, atol=1e-6)
