"""A2 (lab 07-1): overfitting. A softmax classifier fits 8 training points ever better while it
gets the 3 test points (all class 2) wrong: its test cost stays above its training cost.

The notes show one run (PyTorch seed 1). Whether the 3 test points are learned after 20 epochs
depends on the initialisation, so the experiment also repeats the run from many seeds and
reports how often the notes' outcome (test cost above train cost, test accuracy ≤ 1/3) occurs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import jax.numpy as jnp

from experiments.experiment import Experiment, Outcome, Workspace
from jaxnets import models, optim, plots, small_data
from jaxnets.checks import above, at_most, holds
from jaxnets.loop import FitResult
from jaxnets.metrics import classification_metrics
from jaxnets.steps import evaluate
from jaxnets.train import train_model


@dataclass(frozen=True)
class Config:
    seed: int = 1
    lr: float = 0.1
    epochs: int = 20
    sweep_seeds: int = 100


def train_and_test(cfg: Config, seed: int) -> tuple[FitResult, dict[str, float], dict[str, float]]:
    """The lab: Linear(3, 3) trained from ``seed`` on the 8 points, full batch; returns the fit and
    the final train and test metrics."""
    train, test = small_data.softmax_toy()
    fitted = train_model(
        models.softmax_classifier(3),
        optim.optimizer("sgd", cfg.lr),
        train,
        cfg.epochs,
        seed=seed,
        metrics_fn=classification_metrics,
        valid=test,
        shuffle=False,
        progress=False,
    )
    return (
        fitted,
        evaluate(fitted.state, tuple(map(jnp.asarray, train))),
        evaluate(fitted.state, tuple(map(jnp.asarray, test))),
    )


def run(cfg: Config, ws: Workspace) -> Outcome:
    fitted, final_train, final_test = train_and_test(cfg, cfg.seed)
    train_costs = [h["train_loss"] for h in fitted.history]
    # The same lab from other initialisations: how often does the notes' outcome occur?
    sweep = [train_and_test(cfg, cfg.seed + 1000 + i)[1:] for i in range(cfg.sweep_seeds)]
    notes_outcome = [te["loss"] > tr["loss"] and te["accuracy"] <= 1 / 3 for tr, te in sweep]
    share = sum(notes_outcome) / max(len(sweep), 1)

    epochs = [h["epoch"] for h in fitted.history]
    plots.curves(
        ws.plots / "train_vs_test_cost.png",
        {
            "train cost": (epochs, train_costs),
            "test cost": (epochs, [h["valid_loss"] for h in fitted.history]),
        },
        title="Overfitting: train vs test cost (softmax, SGD lr 0.1)",
        ylabel="cross-entropy",
    )
    return Outcome(
        history=fitted.history,
        metrics={
            "first_train_cost": train_costs[0],
            "last_train_cost": train_costs[-1],
            "train_cost": final_train["loss"],
            "test_cost": final_test["loss"],
            "test_accuracy": final_test["accuracy"],
            "sweep_share_not_learned": share,
            "sweep_mean_test_accuracy": sum(te["accuracy"] for _, te in sweep) / max(len(sweep), 1),
        },
        checks=[
            holds(
                "train cost first → last epoch",
                [train_costs[0], train_costs[-1]],
                "falls",
                train_costs[-1] < train_costs[0],
                notes=[2.203667, 0.989365],
            ),
            holds(
                "test cost vs train cost (after training)",
                [final_test["loss"], final_train["loss"]],
                "test > train",
                final_test["loss"] > final_train["loss"],
                notes=[1.425844, 0.989365],
            ),
            at_most("test accuracy (test set not learned)", final_test["accuracy"], 1 / 3, notes=0.0),
            above(
                f"share of {cfg.sweep_seeds} inits with test cost > train cost and test acc ≤ 1/3",
                share,
                0,
                notes="1 run (torch seed 1)",
            ),
        ],
        diverged={"softmax": fitted.diverged},
    )


EXPERIMENT = Experiment(
    __name__,
    "A2",
    "Overfitting on the 3-class toy problem",
    "softmax Linear(3,3), SGD lr 0.1, 20 full-batch epochs; train vs test cost",
    Config,
    run,
    quick={"sweep_seeds": 5},
)

if __name__ == "__main__":
    sys.exit(EXPERIMENT.main(sys.argv[1:]))
