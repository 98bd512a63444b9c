"""A2 (lab 07-1): overfitting. A softmax classifier fits 8 training points ever better while it
gets the 3 test points (all class 2) wrong: its test cost stays above its training cost.

The notes show one run (PyTorch seed 1). Whether the 3 test points are learned after 20 epochs
depends on the initialisation, so the experiment also repeats the run from many seeds and
reports how often the notes' outcome (test cost above train cost, test accuracy ≤ 1/3) occurs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import jax.numpy as jnp

from jaxnets import data, models, optim, plots
from jaxnets.results import check, diverged_runs
from jaxnets.train import classification_metrics, evaluate, train_model

ID = "A2"
TITLE = "Overfitting on the 3-class toy problem"
DESCRIPTION = "softmax Linear(3,3), SGD lr 0.1, 20 full-batch epochs; train vs test cost"


# `--quick`: a reduced run for a first look (and the tests).
QUICK: dict = {"sweep_seeds": 5}


@dataclass(frozen=True)
class Config:
    seed: int = 1
    lr: float = 0.1
    epochs: int = 20
    sweep_seeds: int = 100


def train_and_test(cfg: Config, seed: int):
    """Train from ``seed``; return the fit and the final train and test metrics."""
    train, test = data.softmax_toy()
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


def run(cfg: Config, out: Path) -> dict:
    fitted, final_train, final_test = train_and_test(cfg, cfg.seed)
    train_costs = [h["train_loss"] for h in fitted.history]
    sweep = [train_and_test(cfg, cfg.seed + 1000 + i)[1:] for i in range(cfg.sweep_seeds)]
    notes_outcome = [te["loss"] > tr["loss"] and te["accuracy"] <= 1 / 3 for tr, te in sweep]
    share = sum(notes_outcome) / max(len(sweep), 1)
    epochs = [h["epoch"] for h in fitted.history]
    plots.curves(
        out / "train_vs_test_cost.png",
        {
            "train cost": (epochs, train_costs),
            "test cost": (epochs, [h["valid_loss"] for h in fitted.history]),
        },
        title="Overfitting: train vs test cost (softmax, SGD lr 0.1)",
        ylabel="cross-entropy",
    )
    return {
        "history": fitted.history,
        "metrics": {
            "first_train_cost": train_costs[0],
            "last_train_cost": train_costs[-1],
            "train_cost": final_train["loss"],
            "test_cost": final_test["loss"],
            "test_accuracy": final_test["accuracy"],
            "sweep_share_not_learned": share,
            "sweep_mean_test_accuracy": sum(te["accuracy"] for _, te in sweep) / max(len(sweep), 1),
        },
        "diverged": diverged_runs({"softmax": fitted.diverged}),
        "checks": [
            check(
                "train cost first → last epoch",
                [train_costs[0], train_costs[-1]],
                [2.203667, 0.989365],
                "falls",
                train_costs[-1] < train_costs[0],
            ),
            check(
                "test cost (after training)",
                final_test["loss"],
                1.425844,
                "> train cost",
                final_test["loss"] > final_train["loss"],
            ),
            check(
                "test accuracy",
                final_test["accuracy"],
                0.0,
                "≤ 1/3 (test set not learned)",
                final_test["accuracy"] <= 1 / 3,
            ),
            check(
                f"share of {cfg.sweep_seeds} inits with test cost > train cost and test acc ≤ 1/3",
                share,
                "1 run (torch seed 1)",
                "> 0 (the notes' outcome occurs; how often is reported)",
                share > 0,
            ),
        ],
    }


if __name__ == "__main__":
    from experiments.cli import main

    sys.exit(main([ID, *sys.argv[1:]]))
