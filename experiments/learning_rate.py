"""A3 (lab 07-1): the learning rate. Too large (1e5) overshoots and the cost jumps around at
~1e5–1e6; too small (1e-10) leaves the cost unchanged; 0.1 decreases it steadily. Each learning
rate trains a new ``SoftmaxClassifierModel`` with the lab's ``train`` (A2's, one import away)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import optax

from experiments.harness import toy_data
from experiments.overfitting import SoftmaxClassifierModel, train

ID = "A3"
TITLE = "Learning rate: overshooting, stalling, converging"
SUMMARY = "the softmax toy problem trained at lr 1e5, 1e-10 and 1e-1 for 20 epochs"
# The run at lr 1e5 may overflow: that is the lab's point, not a failure.
EXPECTED_DIVERGENCE = ("lr=100000",)


@dataclass(frozen=True)
class Config:
    seed: int = 1
    seeds: int = 1
    epochs: int = 20
    lrs: tuple[float, ...] = (1e5, 1e-10, 1e-1)
    stop_on_divergence: bool = True


def overshoots(cost: np.ndarray) -> bool:
    """Whether every run's cost falls and later rises again: a step so large it jumps past the
    minimum, and the cost jumps around instead of settling (the notes' 1e5 run)."""

    def rises_after_falling(c: np.ndarray) -> bool:
        steps = np.diff(c[np.isfinite(c)])
        falls = np.flatnonzero(steps < 0)
        return falls.size > 0 and bool(np.any(steps[falls[0] + 1 :] > 0))

    return all(rises_after_falling(c) for c in np.atleast_2d(cost))


def run(cfg: Config, ws) -> dict:
    (x_train, y_train), _ = toy_data.softmax_toy()
    fits = {}
    for lr in cfg.lrs:
        # model = SoftmaxClassifierModel(); optimizer = optim.SGD(model.parameters(), lr=lr)
        model, optimizer = SoftmaxClassifierModel(), optax.sgd(lr)
        fits[f"lr={lr:g}"] = train(
            model,
            optimizer,
            x_train,
            y_train,
            nb_epochs=cfg.epochs,
            seed=cfg.seed,
            seeds=cfg.seeds,
            stop_on_divergence=cfg.stop_on_divergence,
        )

    # Each learning rate's cost per epoch ((epochs,), or (seeds, epochs), nan once a run stopped):
    # where it starts, ends and peaks, how far it ever moves from its start (stalling), and
    # whether it jumps up again after falling (overshooting).
    numbers = {}
    for name, fit in fits.items():
        cost = fit.history["train_loss"]
        numbers[name] = {
            "first_cost": cost[..., 0],
            "last_cost": cost[..., -1],
            "max_cost": np.nanmax(cost, axis=-1),
            "max_change": np.nanmax(np.abs(cost - cost[..., :1])),
            "overshoots": overshoots(cost),
        }
    return {"fits": fits, **numbers}


NOTES = {
    "lr=1e5: peak cost": (
        ("lr=100000/max_cost", "lr=100000/overshoots"),
        ["≥ 10000", "= True"],
        1971322.6,
    ),
    "lr=1e-10: max |cost - first cost| over seeds (constant to 6 decimals)": (
        "lr=1e-10/max_change",
        "< 5e-07",
        0.0,
    ),
    "lr=0.1: cost first → last": ("fits/lr=0.1/train_loss", "falls every epoch", "steady decrease"),
}
