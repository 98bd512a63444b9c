"""B6 (lab 09-1): sigmoid vs ReLU vs leaky ReLU. The notes explain that sigmoid gradients vanish
on the way back through many layers and that ReLU units can die (zero gradient for negative
inputs), which leaky ReLU (slope 0.01) avoids. Shown on MNIST with a deep net, 784-(128×8)-10,
Xavier init, differing only in its activation: the size of each layer's gradient at
initialisation, and training curves with plain SGD."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments.harness import over_seeds, plots, recipes
from experiments.harness.checks import at_least, below, between
from experiments.harness.contract import Experiment, Outcome, Workspace
from experiments.harness.stats import dist
from jaxnets import data, losses, models, optim
from jaxnets.loop import seeded_state
from jaxnets.state import each_run

ACTIVATIONS = ("sigmoid", "relu", "leaky_relu")


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


def layer_gradient_norms(model: models.MLP, params, batch) -> list[float]:
    """‖∂loss/∂W‖ for each layer's weight matrix, input layer first."""
    x, y = batch
    grads = jax.grad(lambda p: losses.cross_entropy(model.apply({"params": p}, x), y).mean())(params)
    return [float(jnp.linalg.norm(grads[f"Linear_{i}"]["kernel"])) for i in range(len(model.widths))]


def inactive_units(model: models.MLP, params, x) -> list[float]:
    """Per hidden layer, the share of units whose input is ≤ 0 for every example of ``x``: dead
    units under ReLU (zero gradient), units on the 0.01 slope under leaky ReLU."""
    _, state = model.apply({"params": params}, x, capture_intermediates=True)
    inter = state["intermediates"]
    return [
        float(jnp.mean(jnp.all(inter[f"Linear_{i}"]["__call__"][0] <= 0, axis=0)))
        for i in range(len(model.widths) - 1)
    ]


def run(cfg: Config, ws: Workspace) -> Outcome:
    train, test = data.load_float("mnist", cfg.data_dir, cfg.train_subset, cfg.seed)
    grad_batch = (train[0][: cfg.grad_batch], train[1][: cfg.grad_batch])
    widths = (cfg.width,) * cfg.depth + (10,)
    norms, runs, inactive = {}, {}, {}
    for act in ACTIVATIONS:
        # The deep net with this activation: gradient sizes at initialisation, then training.
        model, tx = (
            models.MLP(widths, activation=act, weight_init=cfg.weight_init),
            optim.optimizer("sgd", cfg.lr),
        )
        initial, _ = seeded_state(
            model, tx, grad_batch[0][:1], seed=cfg.seed, seeds=cfg.seeds
        )  # what is trained below
        norms[act] = np.array([layer_gradient_norms(model, s.params, grad_batch) for s in each_run(initial)])
        runs[act] = recipes.train_classifier(
            model,
            tx,
            train,
            test,
            **recipes.settings(cfg),
            desc=act,
            **ws.checkpoint(act),
        )
        if act != "sigmoid":  # seeds × hidden layers
            inactive[act] = np.array(
                [inactive_units(model, r.state.params, test[0]) for r in runs[act].fitted.per_run()]
            )

    fig, (left, mid, right) = plots.figure(1, 3, figsize=(16, 4.4))
    layers = np.arange(1, len(widths) + 1)
    styles = {"sigmoid": "o-", "relu": "s-", "leaky_relu": "^--"}  # ReLU and leaky ReLU overlap
    for act in ACTIVATIONS:
        plots.band_line(left, layers, norms[act], styles[act], logy=True, label=act)
        cost = over_seeds.curve(runs[act].fitted, "train_loss")
        plots.band_line(mid, np.arange(1, cost.shape[1] + 1), cost, styles[act], label=act)
    left.set(
        title="Gradient size per layer at initialisation",
        xlabel="layer (1 = input side)",
        ylabel="‖∂loss/∂W‖ (log)",
        yscale="log",
        xticks=layers,
    )
    mid.set(
        title=f"Training, SGD lr {cfg.lr}",
        xlabel="epoch",
        ylabel="train loss (mean over the epoch)",
        xticks=range(1, cfg.epochs + 1),
    )
    for ax in (left, mid):
        ax.legend()
        ax.grid(alpha=0.3)
    acc = {act: runs[act].held_out["accuracy"] for act in ACTIVATIONS}
    plots.score_bars(right, acc, "test accuracy")
    plots.save(fig, ws.plots / "activations.png")

    ratio = {act: dist(norms[act][:, 0] / norms[act][:, -1]) for act in ACTIVATIONS}
    return Outcome(
        history=recipes.history(runs, "activation"),
        metrics={
            "layer_gradient_norms": {act: [dist(layer) for layer in norms[act].T] for act in ACTIVATIONS},
            "first_over_last_layer_gradient": ratio,
            "test": {act: runs[act].held_out for act in ACTIVATIONS},
            "inactive_units_per_layer_after_training": {
                act: [dist(layer) for layer in shares.T] for act, shares in inactive.items()
            },
        },
        checks=[
            below(
                "sigmoid: layer-1 / last-layer gradient norm",
                ratio["sigmoid"],
                1e-3,
                notes="vanishing gradient",
            ),
            between(
                "ReLU, leaky ReLU: layer-1 / last-layer gradient norm",
                [ratio["relu"], ratio["leaky_relu"]],
                0.1,
                10,
                notes="no vanishing",
            ),
            below(
                f"sigmoid: test accuracy after {cfg.epochs} epochs",
                acc["sigmoid"],
                0.5,
                notes="hardly learns",
            ),
            at_least(
                f"ReLU, leaky ReLU: test accuracy after {cfg.epochs} epochs",
                [acc["relu"], acc["leaky_relu"]],
                0.95,
                notes="learn",
            ),
        ],
        diverged=recipes.divergences(runs),
        log=[
            f"{act}: gradient norm layer 1 / layer {len(widths)} = {ratio[act]:.2e}; "
            f"test accuracy {acc[act]:.4f}"
            + (
                f"; units with input ≤ 0 for every test image: {dist(inactive[act].mean(1)):.3f}"
                if act in inactive
                else ""
            )
            for act in ACTIVATIONS
        ],
    )


EXPERIMENT = Experiment(
    __name__,
    "B6",
    "Sigmoid vs ReLU vs leaky ReLU: vanishing gradients",
    "784-(128x8)-10 on MNIST: per-layer gradient size at init, and 5 epochs of SGD lr 0.1",
    Config,
    run,
    quick={"train_subset": 6000, "epochs": 2, "depth": 6},
)

if __name__ == "__main__":
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
