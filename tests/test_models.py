import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets import models
from jaxnets.errors import InputError

KEY = jax.random.key(0)


def n_params(tree):
    return sum(x.size for x in jax.tree_util.tree_leaves(tree))


def test_mlp_shapes_and_parameter_count():
    model = models.MLP((256, 256, 10), weight_init="xavier_uniform")
    x = jnp.zeros((5, 28, 28))
    variables = model.init(KEY, x)
    chex.assert_shape(model.apply(variables, x), (5, 10))
    assert n_params(variables["params"]) == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert "batch_stats" not in variables


def test_batch_norm_adds_statistics_and_dropout_needs_rng_only_in_training():
    model = models.MLP((100, 100, 10), batch_norm=True, dropout=0.3)
    x = jax.random.normal(KEY, (8, 784))
    variables = model.init(KEY, x)
    chex.assert_trees_all_equal_structs(
        variables["batch_stats"],
        {f"BatchNorm_{i}": {"mean": 0, "var": 0} for i in range(2)},
    )
    model.apply(variables, x, train=False)  # no RNG needed in evaluation
    with pytest.raises(Exception, match="dropout"):
        model.apply(variables, x, train=True, mutable=["batch_stats"])


def test_perceptron_outputs_probabilities():
    model = models.perceptron()
    x = jnp.array([[0.0, 0.0], [1.0, 1.0]])
    p = model.apply(model.init(KEY, x), x)
    chex.assert_shape(p, (2, 1))
    assert bool(jnp.all((p > 0) & (p < 1)))


def test_polynomial_evaluates_coefficients():
    model = models.Polynomial(2)
    params = {"params": {"coeffs": jnp.array([2.0, -1.0, 3.0])}}
    assert float(model.apply(params, jnp.array([2.0]))[0]) == 2 * 4 - 2 + 3


def test_leaky_relu_slope():
    assert float(models.activation("leaky_relu")(jnp.array(-1.0))) == pytest.approx(-0.01)


def test_resnet18_has_the_standard_shape_and_batch_norm_state():
    x = jnp.zeros((2, 28, 28))
    model = models.ResNet18(2)
    variables = jax.eval_shape(model.init, jax.random.key(0), x)  # shapes only: nothing to compile
    # torchvision's resnet18 has 11,689,512 parameters for 3-channel input and 1000 classes:
    # minus 2·64·49 stem weights for the missing channels, minus the 1000-class head, plus a 2-class one.
    assert n_params(variables["params"]) == 11_689_512 - 2 * 64 * 49 - (512 * 1000 + 1000) + (512 * 2 + 2)
    assert "batch_stats" in variables
    chex.assert_shape(jax.eval_shape(model.apply, variables, x), (2, 2))


def test_resnet18_with_fastais_head_has_cnn_learners_parameter_count():
    # fastai's summary of cnn_learner(dls, resnet18, pretrained=False) for 2 classes: 11,704,896
    # (torchvision's body on RGB, then BatchNorm1d(1024), Linear(1024, 512), BatchNorm1d(512),
    # Linear(512, 2), the linear layers without bias).
    x = jnp.zeros((2, 28, 28))
    model = models.ResNet18(2, in_channels=3, head="fastai")
    variables = jax.eval_shape(model.init, jax.random.key(0), x)
    assert (
        n_params(variables["params"])
        == 11_689_512 - (512 * 1000 + 1000) + 2 * 1024 + 1024 * 512 + 2 * 512 + 512 * 2
    )
    chex.assert_shape(variables["params"]["Conv_0"]["kernel"], (7, 7, 3, 64))  # grey repeated to RGB
    with pytest.raises(InputError, match="unknown ResNet head 'fast'"):
        models.ResNet18(2, head="fast").init(jax.random.key(0), x)


def test_batch_norm_keeps_pytorchs_running_statistics():
    """Batch statistics in training (two-pass biased variance), the running mean and the
    *unbiased* running variance at momentum 0.1, as ``torch.nn.BatchNorm1d``; running ones in eval."""
    x = np.random.default_rng(0).normal(3.0, 2.0, (8, 5)).astype(np.float32)
    bn = models.BatchNorm()
    variables = bn.init(jax.random.key(0), x)
    y, updates = bn.apply(variables, x, mutable=["batch_stats"])
    chex.assert_trees_all_close(y, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), atol=1e-5)
    stats = updates["batch_stats"]
    chex.assert_trees_all_close(stats["mean"], 0.1 * x.mean(0), rtol=1e-5)
    chex.assert_trees_all_close(stats["var"], 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-5)
    evaluated = models.BatchNorm(use_running_average=True).apply({**variables, "batch_stats": stats}, x)
    chex.assert_trees_all_close(evaluated, (x - stats["mean"]) / np.sqrt(stats["var"] + 1e-5), atol=1e-5)


def test_resnet18_gives_the_same_outputs_and_gradients_either_way():
    x = jax.random.uniform(jax.random.key(1), (4, 28, 28))
    narrow = (8, 16, 16, 32)  # the same architecture, fewer channels: quick to compile
    native = models.ResNet18(2, narrow, conv_as_matmul=False)
    matmul = models.ResNet18(2, narrow, conv_as_matmul=True)
    shapes = jax.eval_shape(native.init, jax.random.key(0), x)
    chex.assert_trees_all_equal_shapes(shapes, jax.eval_shape(matmul.init, jax.random.key(0), x))
    # Parameters drawn at the scale of a He initialisation, with every BN scale non-zero and
    # different from 1, so that every gradient is compared; drawn by NumPy, where the model's
    # initialisers would each be compiled, per shape.
    rng = np.random.default_rng(0)

    def draw(path, p):
        name = path[-1].key
        if name == "kernel":
            return rng.normal(0, np.sqrt(2 / np.prod(p.shape[:-1])), p.shape).astype(np.float32)
        return rng.uniform(0.5, 1.5, p.shape).astype(np.float32) * (name == "scale")

    params = jax.tree_util.tree_map_with_path(draw, shapes["params"])
    variables = {
        "params": params,
        "batch_stats": jax.tree.map(lambda s: np.zeros(s.shape), shapes["batch_stats"]),
    }

    def loss(model):
        def f(params):
            out, _ = model.apply({**variables, "params": params}, x, train=True, mutable=["batch_stats"])
            return jnp.sum(out**2)

        return jax.jit(jax.value_and_grad(f))(variables["params"])

    (l1, g1), (l2, g2) = loss(native), loss(matmul)
    chex.assert_trees_all_close(l1, l2, rtol=1e-4)
    # Each gradient within 2e-4 of its largest entry (measured: up to 4e-5): float32 rounding of
    # two orders of summation; a wrong patch, stride or padding would differ by order 1.
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(g1), jax.tree.leaves(g2), strict=True):
        assert np.max(np.abs(a - b)) <= 2e-4 * np.max(np.abs(a)), jax.tree_util.keystr(path)
