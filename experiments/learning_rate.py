"""A3 (lab 07-1): the learning rate. Too large (1e5) overshoots and the cost jumps around at
~1e5–1e6; too small (1e-10) leaves the cost unchanged; 0.1 decreases it steadily."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from experiments.harness import over_seeds, plots, toy_data
from experiments.harness.checks import below, falls_every_epoch, overshoots
from experiments.harness.contract import Experiment, Outcome, Workspace
from experiments.harness.stats import dist
from jaxnets import models, optim
from jaxnets.metrics import classification_metrics
from jaxnets.train import train_model


@dataclass(frozen=True)
class Config:
    seed: int = 1
    seeds: int = 1
    epochs: int = 20
    lrs: tuple[float, ...] = (1e5, 1e-10, 1e-1)
    stop_on_divergence: bool = True


def run(cfg: Config, ws: Workspace) -> Outcome:
    # The same softmax model and data, trained at each learning rate.
    train, _ = toy_data.softmax_toy()
    fits = {
        lr: train_model(
            models.softmax_classifier(3),
            optim.optimizer("sgd", lr),
            train,
            epochs=cfg.epochs,
            seed=cfg.seed,
            seeds=cfg.seeds,
            metrics_fn=classification_metrics,
            shuffle=False,
            stop_on_divergence=cfg.stop_on_divergence,
        )
        for lr in cfg.lrs
    }
    costs = {
        lr: over_seeds.curve(f, "train_loss") for lr, f in fits.items()
    }  # seeds × epochs, nan once stopped
    plots.curves(
        ws.plots / "cost_by_learning_rate.png",
        {f"lr = {lr:g}": (np.arange(1, c.shape[1] + 1), c) for lr, c in costs.items()},
        title="Cost per epoch for three learning rates",
        ylabel="cross-entropy (log)",
        logy=True,
    )

    # Overshooting, stalling, converging: each learning rate's check, seed by seed, where it was run.
    big, tiny, good = (costs.get(lr) for lr in (1e5, 1e-10, 1e-1))
    checks = []
    if big is not None:
        checks.append(overshoots("lr=1e5: peak cost", big, 1e4, notes=1971322.6))
    if tiny is not None:
        spread = float(np.nanmax(np.abs(tiny - tiny[:, :1])))
        checks.append(
            below(
                "lr=1e-10: max |cost - first cost| over seeds (constant to 6 decimals)",
                spread,
                5e-7,
                notes=0.0,
            )
        )
    if good is not None:
        checks.append(falls_every_epoch("lr=0.1: cost first → last", good, notes="steady decrease"))
    return Outcome(
        history=[
            {"run": f"lr={lr:g}", **row} for lr, f in fits.items() for row in over_seeds.rows(f, cfg.seed)
        ],
        metrics={
            f"lr={lr:g}": {
                "first_cost": over_seeds.first(f, "train_loss"),
                "last_cost": over_seeds.last(f, "train_loss"),
                "max_cost": dist(np.nanmax(costs[lr], axis=1)),
            }
            for lr, f in fits.items()
        },
        checks=checks,
        diverged={
            name: d
            for lr, f in fits.items()
            for name, d in over_seeds.divergences(f, f"lr={lr:g}", cfg.seed).items()
        },
    )


EXPERIMENT = Experiment(
    __name__,
    "A3",
    "Learning rate: overshooting, stalling, converging",
    "the softmax toy problem trained at lr 1e5, 1e-10 and 1e-1 for 20 epochs",
    Config,
    run,
    # The run at lr 1e5 may overflow: that is the lab's point, not a failure.
    expected_divergence=("lr=100000",),
)

if __name__ == "__main__":
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
