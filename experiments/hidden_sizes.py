"""B12 (lab 09-4, homework Q1-2): the batch-norm net of B11 with other hidden sizes. Same
training (Linear → BN → ReLU → Dropout(0.3), Xavier, Adam lr 0.1, batch 100, 15 epochs); the
homework asks how the train cost and the test accuracy change with the number of hidden units."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import optax

from experiments.batch_norm import BNNet
from experiments.harness.outcome import get_one_and_predict
from jaxnets import data
from jaxnets.train import classification_metrics, evaluate, train_model

ID = "B12"
TITLE = "Hidden-size sweep of the batch-norm net"
SUMMARY = "B11's BN net with hidden sizes (100,100) (200,150) (300,300) (50,50): train cost, test accuracy"


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 15
    lr: float = 0.1
    batch_size: int = 100
    sizes: tuple[tuple[int, int], ...] = ((100, 100), (200, 150), (300, 300), (50, 50))
    drop_prob: float = 0.3
    train_subset: int | None = None
    data_dir: str | None = None


QUICK = {"train_subset": 2000, "epochs": 2, "lr": 0.01, "sizes": ((50, 50), (200, 150))}


def run(cfg: Config, ws) -> dict:
    train, test = data.load_float("mnist", cfg.data_dir, cfg.train_subset, cfg.seed)
    # For each size a fresh bn_model (linear1 = Linear(784, a), bn1 = BatchNorm1d(a), linear2 =
    # Linear(a, b), bn2 = BatchNorm1d(b), linear3 = Linear(b, 10)) and its Adam, on the same batches.
    fits = {
        f"{a}-{b}": train_model(
            BNNet((a, b), cfg.drop_prob),
            optax.adam(cfg.lr),
            train,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            seeds=cfg.seeds,
            metrics_fn=classification_metrics,
            **ws.checkpoint(f"{a}-{b}"),
        )
        for a, b in cfg.sizes
    }
    tested = {name: evaluate(fit.state, test) for name, fit in fits.items()}
    cost = {name: np.asarray(fit.history["train_loss"])[..., -1] for name, fit in fits.items()}  # avg_cost
    # The homework's comparison: the train cost with the most hidden units against the fewest.
    by_units = [f"{a}-{b}" for a, b in sorted(cfg.sizes, key=sum)]
    fewest, most = by_units[0], by_units[-1]
    return {
        "fits": fits,
        "test": tested,
        "last_epoch_train_cost": cost,
        "train_cost_most_vs_fewest_units": {
            "most": cost[most],
            "fewest": cost[fewest],
            "sizes": [most, fewest],
        },
        "test_accuracy_of_every_size": np.stack([t["accuracy"] for t in tested.values()], -1),
        "get_one_and_predict": get_one_and_predict(test, fits, cfg.seed),
    }


NOTES = {
    "train cost, most hidden units vs fewest": (
        ("train_cost_most_vs_fewest_units/most", "train_cost_most_vs_fewest_units/fewest"),
        "most < fewest",
        "(homework: compare)",
    ),
    "test accuracy of every size": ("test_accuracy_of_every_size", "≥ 0.95", "(homework: compare)"),
}
