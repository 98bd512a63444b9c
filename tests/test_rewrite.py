import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxnets import models, optim, rewrite
from jaxnets.rewrite import holds, matmul_convs
from jaxnets.state import create_train_state


class _Net(nn.Module):
    """Convolutions of every plain kind (stride 2, SAME and explicit padding, odd maps), tiling
    max pools, BatchNorm; and, when asked, a dilated and a grouped one (left as XLA's own)."""

    others: bool = False

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.Conv(4, (3, 3), strides=2, padding="SAME")(x)
        x = nn.relu(nn.BatchNorm(use_running_average=not train)(x))
        x = nn.max_pool(x, (2, 2), (2, 2))
        x = nn.Conv(4, (2, 3), padding=((1, 0), (2, 1)))(x)
        x = nn.max_pool(nn.relu(x), (3, 2), (3, 2))
        if self.others:
            x = nn.Conv(4, (3, 3), kernel_dilation=2, padding="SAME")(x)
            x = nn.Conv(4, (1, 1), feature_group_count=2)(x)
        return nn.Dense(3)(x.reshape(len(x), -1))


def _loss(model, variables):
    def loss(params, x):
        out, updates = model.apply({**variables, "params": params}, x, train=True, mutable=["batch_stats"])
        return (out**2).mean(), updates

    return loss


X = jnp.asarray(np.random.default_rng(0).standard_normal((3, 23, 19, 2)), jnp.float32)


def _variables(model, x=X, seed=0, runs=None):
    """The model's variables drawn by NumPy (the model's own initialisers would each be compiled):
    kernels and biases at a He scale, BatchNorm scales around 1; ``runs`` of them stacked."""
    rng = np.random.default_rng(seed)
    shapes = jax.eval_shape(model.init, jax.random.key(0), x)
    lead = () if runs is None else (runs,)

    def draw(path, s):
        name = path[-1].key
        scale = np.sqrt(2 / np.prod(s.shape[:-1])) if name == "kernel" else 0.1
        values = rng.normal(1 if name in ("scale", "var") else 0, scale, lead + s.shape)
        return np.abs(values).astype(np.float32) if name == "var" else values.astype(np.float32)

    return jax.tree_util.tree_map_with_path(draw, shapes)


def test_convolutions_and_pools_become_matmuls_and_reshapes_with_the_same_outputs_and_gradients():
    """Outputs and gradients (parameters and input) of the rewritten program are XLA's up to float
    rounding; the pools' gradients exactly, ties included (each window's first maximum, as XLA's
    select-and-scatter); no convolution or windowed max is left in the rewritten program."""
    model = _Net()
    variables = _variables(model)
    loss = _loss(model, variables)
    grads = lambda f: jax.jit(jax.value_and_grad(f, (0, 1), has_aux=True))  # noqa: E731
    xla, rewritten = grads(loss), grads(matmul_convs(loss))
    for inputs in (X, jnp.round(X), jnp.zeros_like(X)):  # rounded and zero inputs: ties in the pools
        (a, a_aux), ga = xla(variables["params"], inputs)
        (b, b_aux), gb = rewritten(variables["params"], inputs)
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
        for p, q in zip(jax.tree.leaves((gb, b_aux)), jax.tree.leaves((ga, a_aux)), strict=True):
            np.testing.assert_allclose(p, q, rtol=1e-4, atol=1e-5)
    pool = lambda x: (nn.max_pool(x, (2, 2), (2, 2)) * jnp.arange(9)[:, None]).sum()  # noqa: E731
    xla, rewritten = jax.jit(jax.grad(pool)), jax.jit(jax.grad(matmul_convs(pool)))
    for inputs in (jnp.round(X), jnp.zeros_like(X)):
        np.testing.assert_array_equal(rewritten(inputs), xla(inputs))

    def program(f):
        return jax.make_jaxpr(jax.grad(lambda p: f(p, X)[0]))(variables["params"]).jaxpr

    assert holds(program(loss), "conv_general_dilated")
    for primitive in ("conv_general_dilated", "reduce_window_max", "select_and_scatter_add"):
        assert not holds(program(matmul_convs(loss)), primitive), primitive


def test_what_it_cannot_take_stays_runs_stack_through_it_and_states_use_it_where_a_model_convolves():
    """A dilated and a grouped convolution stay XLA's (the program still convolves, so ``fit``
    loops on CPU); runs stacked along a leading axis (vmapped, as seeds are) get each its own
    gradient through the rewrite; a state uses it on CPU for a model that convolves or pools,
    not for a dense one."""
    model = _Net(others=True)
    shapes = jax.eval_shape(model.init, jax.random.key(0), X)
    program = jax.make_jaxpr(lambda v: matmul_convs(_loss(model, v))(v["params"], X)[0])(shapes)
    assert [e.primitive.name for e in program.jaxpr.eqns].count("conv_general_dilated") == 2
    model = _Net()
    stacked = _variables(model, seed=1, runs=2)

    def grads(f):
        return jax.jit(jax.vmap(jax.grad(lambda v: f(_loss(model, v))(v["params"], X)[0])))(stacked)

    for p, q in zip(jax.tree.leaves(grads(matmul_convs)), jax.tree.leaves(grads(lambda f: f)), strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-4, atol=1e-5)
    tx = optim.optimizer("sgd", 0.1)
    given = {"variables": _variables(model), "key": jax.random.key(0)}  # nothing drawn
    assert create_train_state(model, tx, X[:1], **given).matmul_convs == (jax.default_backend() == "cpu")
    assert not create_train_state(model, tx, X[:1], matmul_convs=False, **given).matmul_convs
    dense = models.MLP((4, 3))
    x = X[:1].reshape(1, -1)
    assert not create_train_state(dense, tx, x, variables=_variables(dense, x), key=given["key"]).matmul_convs
    resnet = models.ResNet18(2, (4, 4, 4, 4), conv_as_matmul=True)  # nothing to rewrite: applied as is
    shapes = jax.eval_shape(resnet.init, jax.random.key(0), X[:1, ..., :1])
    assert not rewrite.rewrites(jax.make_jaxpr(lambda v: resnet.apply(v, X[:1, ..., :1]))(shapes).jaxpr)
