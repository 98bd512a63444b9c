"""B6 (lab 09-1): sigmoid vs ReLU vs leaky ReLU. The notes explain that sigmoid gradients vanish
on the way back through many layers and that ReLU units can die (zero gradient for negative
inputs), which leaky ReLU (slope 0.01) avoids. Shown on MNIST with a deep net, 784-(128×8)-10,
Xavier init, differing only in its activation: the size of each layer's gradient at
initialisation, and training curves with plain SGD."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn

from experiments.harness import plots
from jaxnets import data, init
from jaxnets.models import Linear
from jaxnets.train import classification_metrics, evaluate, fit, seeded_state

ID = "B6"
TITLE = "Sigmoid vs ReLU vs leaky ReLU: vanishing gradients"
SUMMARY = "784-(128x8)-10 on MNIST: per-layer gradient size at init, and 5 epochs of SGD lr 0.1"

# torch.nn.Sigmoid(), torch.nn.ReLU(), torch.nn.LeakyReLU(0.01)
ACTIVATIONS = {
    "sigmoid": nn.sigmoid,
    "relu": nn.relu,
    "leaky_relu": partial(nn.leaky_relu, negative_slope=0.01),
}


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 5
    lr: float = 0.1
    batch_size: int = 100
    depth: int = 8
    width: int = 128
    weight_init: str = "xavier_uniform"
    grad_batch: int = 1000
    train_subset: int | None = None
    data_dir: str | None = None


QUICK = {"train_subset": 6000, "epochs": 2, "depth": 6}


class DeepNet(nn.Module):
    """``depth`` hidden layers of ``width`` units, each Linear → ``activation``, then Linear(·, 10);
    every weight drawn by ``kernel_init``."""

    depth: int
    width: int
    activation: Callable[[jax.Array], jax.Array]
    kernel_init: Callable

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = x.reshape(len(x), -1)  # X.view(-1, 28 * 28)
        for _ in range(self.depth):
            x = self.activation(Linear(self.width, kernel_init=self.kernel_init)(x))
        return Linear(10, kernel_init=self.kernel_init)(x)


def layer_gradient_norms(model: DeepNet, x, y, params) -> jax.Array:
    """‖∂loss/∂W‖ of each layer's weight matrix, input layer first."""

    def loss(p):
        return optax.softmax_cross_entropy_with_integer_labels(model.apply({"params": p}, x), y).mean()

    grads = jax.grad(loss)(params)
    return jnp.stack([jnp.linalg.norm(grads[f"Linear_{i}"]["kernel"]) for i in range(model.depth + 1)])


def inactive_units(model: DeepNet, x, params) -> jax.Array:
    """Per hidden layer, the share of units whose input is ≤ 0 for every example of ``x``: dead
    units under ReLU (zero gradient), units on the 0.01 slope under leaky ReLU."""
    _, found = model.apply({"params": params}, x, capture_intermediates=True)
    inputs = [found["intermediates"][f"Linear_{i}"]["__call__"][0] for i in range(model.depth)]
    return jnp.stack([jnp.mean(jnp.all(z <= 0, axis=0)) for z in inputs])


def run(cfg: Config, ws) -> dict:
    train, test = data.load_float("mnist", cfg.data_dir, cfg.train_subset, cfg.seed)
    x_grad, y_grad = train[0][: cfg.grad_batch], train[1][: cfg.grad_batch]
    # --seeds N: N states stacked along a leading axis, trained as one program; jax.vmap measures
    # each seed's parameters the same way.
    each_seed = jax.vmap if cfg.seeds > 1 else (lambda f: f)
    fits, norms, inactive = {}, {}, {}
    for name, activation in ACTIVATIONS.items():
        model = DeepNet(cfg.depth, cfg.width, activation, init.kernel_init(cfg.weight_init))
        # The seed's first weights (plain SGD, cross-entropy: the state's default loss) and the
        # key that shuffles its batches.
        state, data_key = seeded_state(
            model,
            optax.sgd(cfg.lr),
            train[0][:1],
            seed=cfg.seed,
            seeds=cfg.seeds,
            metrics_fn=classification_metrics,
        )
        # The gradient of each layer at initialisation, then the same state trained.
        norms[name] = each_seed(partial(layer_gradient_norms, model, x_grad, y_grad))(state.params)
        fits[name] = fit(
            state,
            train,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            key=data_key,
            **ws.checkpoint(name),
        )
        if name != "sigmoid":
            inactive[name] = each_seed(partial(inactive_units, model, test[0]))(fits[name].state.params)

    layers = np.arange(1, cfg.depth + 2)
    plots.curves(
        ws.plots / "gradient_per_layer.png",
        {name: (layers, n) for name, n in norms.items()},
        title="Gradient size per layer at initialisation",
        xlabel="layer (1 = input side)",
        ylabel="‖∂loss/∂W‖ (log)",
        logy=True,
        markers=True,
    )
    tested = {name: evaluate(f.state, test) for name, f in fits.items()}
    ratio = {name: n[..., 0] / n[..., -1] for name, n in norms.items()}
    return {
        "fits": fits,
        "layer_gradient_norms": norms,
        "first_over_last_layer_gradient": ratio,
        "test": tested,
        "inactive_units_per_layer_after_training": inactive,
        "log": [
            f"{name}: gradient norm layer 1 / layer {cfg.depth + 1} = {np.mean(ratio[name]):.2e}; "
            f"test accuracy {np.mean(tested[name]['accuracy']):.4f}"
            + (
                f"; units with input ≤ 0 for every test image: {np.mean(inactive[name]):.3f}"
                if name in inactive
                else ""
            )
            for name in fits
        ],
    }


NOTES = {
    "sigmoid: layer-1 / last-layer gradient norm": (
        "first_over_last_layer_gradient/sigmoid",
        "< 1e-3",
        "vanishing gradient",
    ),
    "ReLU, leaky ReLU: layer-1 / last-layer gradient norm": (
        ("first_over_last_layer_gradient/relu", "first_over_last_layer_gradient/leaky_relu"),
        "from 0.1 to 10",
        "no vanishing",
    ),
    "sigmoid: test accuracy after 5 epochs": ("test/sigmoid/accuracy", "< 0.5", "hardly learns"),
    "ReLU, leaky ReLU: test accuracy after 5 epochs": (
        ("test/relu/accuracy", "test/leaky_relu/accuracy"),
        "≥ 0.95",
        "learn",
    ),
}
