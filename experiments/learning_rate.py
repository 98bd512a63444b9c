"""A3 (lab 07-1): the learning rate. Too large (1e5) overshoots and the cost jumps around at
~1e5–1e6; too small (1e-10) leaves the cost unchanged; 0.1 decreases it steadily."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from experiments.experiment import Experiment, Outcome, Workspace
from jaxnets import models, optim, plots, small_data
from jaxnets.checks import below, holds
from jaxnets.loop import histories
from jaxnets.metrics import classification_metrics
from jaxnets.train import train_model


@dataclass(frozen=True)
class Config:
    seed: int = 1
    epochs: int = 20
    lrs: tuple[float, ...] = (1e5, 1e-10, 1e-1)
    stop_on_divergence: bool = True


def run(cfg: Config, ws: Workspace) -> Outcome:
    # The same softmax model and data, trained at each learning rate.
    train, _ = small_data.softmax_toy()
    fits = {
        f"lr={lr:g}": train_model(
            models.softmax_classifier(3),
            optim.optimizer("sgd", lr),
            train,
            cfg.epochs,
            seed=cfg.seed,
            metrics_fn=classification_metrics,
            shuffle=False,
            stop_on_divergence=cfg.stop_on_divergence,
        )
        for lr in cfg.lrs
    }
    costs = {lr: np.array([h["train_loss"] for h in fits[f"lr={lr:g}"].history]) for lr in cfg.lrs}
    plots.curves(
        ws.plots / "cost_by_learning_rate.png",
        {f"lr = {lr:g}": (np.arange(1, len(c) + 1), c) for lr, c in costs.items()},
        title="Cost per epoch for three learning rates",
        ylabel="cross-entropy (log)",
        logy=True,
    )

    # Overshooting, stalling, converging: each learning rate's check, where it was run.
    big, tiny, good = (costs.get(lr) for lr in (1e5, 1e-10, 1e-1))
    checks = []
    if big is not None:
        checks.append(
            holds(
                "lr=1e5: peak cost",
                float(np.nanmax(big)),
                "≥ 1e4 and it rises again after falling (overshooting)",
                np.nanmax(big) >= 1e4 and bool(np.any(np.diff(big) > 0)),
                notes=1971322.6,
            )
        )
    if tiny is not None:
        spread = float(np.max(np.abs(tiny - tiny[0])))
        checks.append(
            below("lr=1e-10: max |cost - first cost| (constant to 6 decimals)", spread, 5e-7, notes=0.0)
        )
    if good is not None:
        checks.append(
            holds(
                "lr=0.1: cost first → last",
                [good[0], good[-1]],
                "falls every epoch",
                bool(np.all(np.diff(good) < 0)),
                notes="steady decrease",
            )
        )
    return Outcome(
        history=histories({k: f.history for k, f in fits.items()}),
        metrics={
            f"lr={lr:g}": {"first_cost": c[0], "last_cost": c[-1], "max_cost": c.max()}
            for lr, c in costs.items()
        },
        checks=checks,
        diverged={k: f.diverged for k, f in fits.items()},
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
    sys.exit(EXPERIMENT.main(sys.argv[1:]))
