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
import numpy as np

from experiments.harness import over_seeds, plots, toy_data
from experiments.harness.checks import above, compared, falls
from experiments.harness.contract import Experiment, Outcome, Workspace
from experiments.harness.stats import Dist, dist
from jaxnets import models, optim
from jaxnets.loop import seed_plus
from jaxnets.metrics import classification_metrics
from jaxnets.record import FitResult
from jaxnets.train import train_model


@dataclass(frozen=True)
class Config:
    seed: int = 1
    seeds: int = 1
    lr: float = 0.1
    epochs: int = 20
    sweep_seeds: int = 100


def train_and_test(cfg: Config, seed: int, seeds: int) -> tuple[FitResult, dict[str, Dist], dict[str, Dist]]:
    """The lab: Linear(3, 3) trained on the 8 points, full batch, from ``seeds`` seeds starting at
    ``seed`` (one program); returns the fit and the final train and test metrics over the seeds."""
    train, test = toy_data.softmax_toy()
    fitted = train_model(
        models.softmax_classifier(3),
        optim.optimizer("sgd", cfg.lr),
        train,
        epochs=cfg.epochs,
        seed=seed,
        seeds=seeds,
        metrics_fn=classification_metrics,
        valid=test,
        shuffle=False,
        progress=False,
    )
    return (
        fitted,
        over_seeds.evaluate(fitted, tuple(map(jnp.asarray, train))),
        over_seeds.evaluate(fitted, tuple(map(jnp.asarray, test))),
    )


def notes_outcome(train: dict[str, Dist], test: dict[str, Dist]) -> Dist:
    """For each seed, 1 where its run ends as the notes' did (test cost above train cost, the
    test set not learned: accuracy ≤ 1/3), else 0."""
    above_train = np.greater(test["loss"].values, train["loss"].values)
    return dist(above_train & (np.asarray(test["accuracy"].values) <= 1 / 3))


def run(cfg: Config, ws: Workspace) -> Outcome:
    fitted, final_train, final_test = train_and_test(cfg, cfg.seed, cfg.seeds)
    first_cost, last_cost = over_seeds.first(fitted, "train_loss"), over_seeds.last(fitted, "train_loss")
    ours = notes_outcome(final_train, final_test)
    # The same lab from other initialisations (one program): how often does the notes' outcome occur?
    _, sweep_train, sweep_test = train_and_test(cfg, seed_plus(cfg.seed, 1000), cfg.sweep_seeds)
    share = notes_outcome(sweep_train, sweep_test).mean

    cost = over_seeds.curve(fitted, "train_loss")
    epochs = np.arange(1, cost.shape[1] + 1)
    plots.curves(
        ws.plots / "train_vs_test_cost.png",
        {"train cost": (epochs, cost), "test cost": (epochs, over_seeds.curve(fitted, "valid_loss"))},
        title="Overfitting: train vs test cost (softmax, SGD lr 0.1)",
        ylabel="cross-entropy",
    )
    return Outcome(
        history=over_seeds.rows(fitted, cfg.seed),
        metrics={
            "first_train_cost": first_cost,
            "last_train_cost": last_cost,
            "train_cost": final_train["loss"],
            "test_cost": final_test["loss"],
            "test_accuracy": final_test["accuracy"],
            "share_with_the_notes_outcome": ours,
            "sweep_share_not_learned": share,
            "sweep_mean_test_accuracy": sweep_test["accuracy"].mean,
        },
        checks=[
            falls(
                "train cost first → last epoch",
                first_cost,
                last_cost,
                notes=[2.203667, 0.989365],
            ),
            above(
                "the notes' outcome: test cost > train cost and test accuracy ≤ 1/3, share of our seeds",
                ours,
                0,
                notes="1 run (torch seed 1): test cost 1.425844 > train cost 0.989365, test accuracy 0",
            ),
            compared("test cost (after training)", final_test["loss"], notes=1.425844),
            compared("test accuracy", final_test["accuracy"], notes=0.0),
            above(
                f"share of {cfg.sweep_seeds} inits with test cost > train cost and test acc ≤ 1/3",
                share,
                0,
                notes="1 run (torch seed 1)",
            ),
        ],
        diverged=over_seeds.divergences(fitted, "softmax", cfg.seed),
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
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
