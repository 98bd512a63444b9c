"""A3 (lab 07-1): the learning rate. Too large (1e5) overshoots and the cost jumps around at
~1e5–1e6; too small (1e-10) leaves the cost unchanged; 0.1 decreases it steadily."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jaxnets import data, models, optim, plots
from jaxnets.results import check, diverged_runs, tagged
from jaxnets.train import classification_metrics, train_model

ID = "A3"
TITLE = "Learning rate: overshooting, stalling, converging"
DESCRIPTION = "the softmax toy problem trained at lr 1e5, 1e-10 and 1e-1 for 20 epochs"
# The run at lr 1e5 may overflow: that is the lab's point, not a failure.
EXPECTED_DIVERGENCE = ("lr=100000",)


# `--quick`: a reduced run for a first look (and the tests); {} when the full run is already quick.
QUICK: dict = {}


@dataclass(frozen=True)
class Config:
    seed: int = 1
    epochs: int = 20
    lrs: tuple[float, ...] = (1e5, 1e-10, 1e-1)
    stop_on_divergence: bool = True


def run(cfg: Config, out: Path) -> dict:
    train, _ = data.softmax_toy()
    history, costs, diverged = [], {}, {}
    for lr in cfg.lrs:
        fitted = train_model(
            models.softmax_classifier(3),
            optim.optimizer("sgd", lr),
            train,
            cfg.epochs,
            seed=cfg.seed,
            metrics_fn=classification_metrics,
            shuffle=False,
            stop_on_divergence=cfg.stop_on_divergence,
        )
        history += tagged(fitted.history, run=f"lr={lr:g}")
        diverged[f"lr={lr:g}"] = fitted.diverged
        costs[lr] = np.array([h["train_loss"] for h in fitted.history])
    plots.curves(
        out / "cost_by_learning_rate.png",
        {f"lr = {lr:g}": (np.arange(1, len(c) + 1), c) for lr, c in costs.items()},
        title="Cost per epoch for three learning rates",
        ylabel="cross-entropy (log)",
        logy=True,
    )

    big, tiny, good = (costs.get(lr) for lr in (1e5, 1e-10, 1e-1))
    checks = []
    if big is not None:
        checks.append(
            check(
                "lr=1e5: peak cost",
                float(np.nanmax(big)),
                1971322.6,
                "≥ 1e4 and it rises again after falling (overshooting)",
                np.nanmax(big) >= 1e4 and bool(np.any(np.diff(big) > 0)),
            )
        )
    if tiny is not None:
        spread = float(np.max(np.abs(tiny - tiny[0])))
        checks.append(
            check(
                "lr=1e-10: max |cost - first cost|",
                spread,
                0.0,
                "< 5e-7 (constant to 6 decimals)",
                spread < 5e-7,
            )
        )
    if good is not None:
        checks.append(
            check(
                "lr=0.1: cost first → last",
                [good[0], good[-1]],
                "steady decrease",
                "falls every epoch",
                bool(np.all(np.diff(good) < 0)),
            )
        )
    return {
        "history": history,
        "metrics": {
            f"lr={lr:g}": {"first_cost": c[0], "last_cost": c[-1], "max_cost": c.max()}
            for lr, c in costs.items()
        },
        "checks": checks,
        "diverged": diverged_runs(diverged),
    }


if __name__ == "__main__":
    from experiments.cli import main

    sys.exit(main([ID, *sys.argv[1:]]))
