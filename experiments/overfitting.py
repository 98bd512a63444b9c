"""A2 (lab 07-1): overfitting. A softmax classifier fits 8 training points ever better while it
gets the 3 test points (all class 2) wrong: its test cost stays above its training cost.

The notes show one run (PyTorch seed 1). Whether the 3 test points are learned after 20 epochs
depends on the initialisation, so the experiment also repeats the run from many seeds and
reports how often the notes' outcome (test cost above train cost, test accuracy ≤ 1/3) occurs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import optax
from flax import linen as nn

from experiments.harness import plots, toy_data
from jaxnets.models import Linear
from jaxnets.train import classification_metrics, evaluate, train_model

ID = "A2"
TITLE = "Overfitting on the 3-class toy problem"
SUMMARY = "softmax Linear(3,3), SGD lr 0.1, 20 full-batch epochs; train vs test cost"


@dataclass(frozen=True)
class Config:
    seed: int = 1
    seeds: int = 1
    lr: float = 0.1
    epochs: int = 20
    sweep_seeds: int = 100


QUICK = {"sweep_seeds": 5}


class SoftmaxClassifierModel(nn.Module):
    """The lab's model: ``self.linear = nn.Linear(3, 3)`` (PyTorch's default init), its logits
    the softmax classifier's."""

    @nn.compact
    def __call__(self, x):
        return Linear(3)(x)


def train(model, optimizer, x_train, y_train, *, nb_epochs: int, seed: int, seeds: int = 1, **fit_kwargs):
    """The lab's ``train``: ``nb_epochs`` full-batch steps of ``F.cross_entropy`` (``train_model``'s
    default loss), each epoch's cost recorded before its update, as the notes print it. With
    ``seeds`` > 1, that many initialisations stacked on a leading axis and trained as one program
    (each step ``jax.vmap``-ped over them)."""
    return train_model(
        model,
        optimizer,
        (x_train, y_train),
        epochs=nb_epochs,
        seed=seed,
        seeds=seeds,
        metrics_fn=classification_metrics,
        shuffle=False,
        progress=False,
        **fit_kwargs,
    )


def notes_outcome(train_metrics: dict, test_metrics: dict) -> np.ndarray:
    """For each run, 1 where it ends as the notes' did (test cost above train cost, the test set
    not learned: accuracy ≤ 1/3), else 0."""
    above = np.greater(test_metrics["loss"], train_metrics["loss"])
    return np.asarray(above & (np.asarray(test_metrics["accuracy"]) <= 1 / 3), float)


def run(cfg: Config, ws) -> dict:
    (x_train, y_train), (x_test, y_test) = toy_data.softmax_toy()

    def train_and_test(seed: int, seeds: int, **fit_kwargs):
        """The notebook's cells: ``model = SoftmaxClassifierModel()``, ``optimizer =
        optim.SGD(model.parameters(), lr=0.1)``, ``train(...)``, then ``test`` (cost and accuracy:
        ``evaluate``) on the training and the test points."""
        fitted = train(
            SoftmaxClassifierModel(),
            optax.sgd(cfg.lr),
            x_train,
            y_train,
            nb_epochs=cfg.epochs,
            seed=seed,
            seeds=seeds,
            **fit_kwargs,
        )
        return fitted, evaluate(fitted.state, (x_train, y_train)), evaluate(fitted.state, (x_test, y_test))

    # The lab (its test cost after each epoch too, for the plot).
    fit, on_train, on_test = train_and_test(cfg.seed, cfg.seeds, valid=(x_test, y_test))
    # The same lab from other initialisations (one program): how often does the notes' outcome occur?
    _, sweep_train, sweep_test = train_and_test((cfg.seed + 1000) % 2**32, cfg.sweep_seeds)

    cost, test_cost = fit.history["train_loss"], fit.history["valid_loss"]  # (epochs,), or (seeds, epochs)
    epochs = np.arange(1, cfg.epochs + 1)
    plots.curves(
        ws.plots / "train_vs_test_cost.png",
        {"train cost": (epochs, cost), "test cost": (epochs, test_cost)},
        title="Overfitting: train vs test cost (softmax, SGD lr 0.1)",
        ylabel="cross-entropy",
    )
    return {
        "fits": {"softmax": fit},
        "first_train_cost": cost[..., 0],
        "last_train_cost": cost[..., -1],
        "train_cost": on_train["loss"],
        "test_cost": on_test["loss"],
        "test_accuracy": on_test["accuracy"],
        "share_with_the_notes_outcome": notes_outcome(on_train, on_test),
        "sweep_share_not_learned": notes_outcome(sweep_train, sweep_test).mean(),
        "sweep_mean_test_accuracy": np.mean(sweep_test["accuracy"]),
    }


NOTES = {
    "train cost first → last epoch": ("fits/softmax/train_loss", "falls", [2.203667, 0.989365]),
    "the notes' outcome: test cost > train cost and test accuracy ≤ 1/3, share of our seeds": (
        "share_with_the_notes_outcome",
        "> 0",
        "1 run (torch seed 1): test cost 1.425844 > train cost 0.989365, test accuracy 0",
    ),
    "test cost (after training)": ("test_cost", "none", 1.425844),
    "test accuracy": ("test_accuracy", "none", 0.0),
    "share of the sweep's inits with test cost > train cost and test acc ≤ 1/3": (
        "sweep_share_not_learned",
        "> 0",
        "1 run (torch seed 1)",
    ),
}
