"""B12 (lab 09-4, homework Q1-2): the batch-norm net of B11 with other hidden sizes. Same
training (Linear → BN → ReLU → Dropout(0.3), Xavier, Adam lr 0.1, batch 100, 15 epochs); the
homework asks how the train cost and the test accuracy change with the number of hidden units."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from jaxnets import classify, data, models, optim
from jaxnets.results import check

ID = "B12"
TITLE = "Hidden-size sweep of the batch-norm net"
DESCRIPTION = (
    "B11's BN net with hidden sizes (100,100) (200,150) (300,300) (50,50): train cost, test accuracy"
)


# `--quick`: a reduced run for a first look (and the tests).
QUICK: dict = {"train_subset": 2000, "epochs": 2, "lr": 0.01, "sizes": ((50, 50), (200, 150))}


@dataclass(frozen=True)
class Config:
    seed: int = 0
    epochs: int = 15
    lr: float = 0.1
    batch_size: int = 100
    sizes: tuple[tuple[int, int], ...] = ((100, 100), (200, 150), (300, 300), (50, 50))
    drop_prob: float = 0.3
    train_subset: int | None = None
    data_dir: str | None = None


def run(cfg: Config, out: Path) -> dict:
    train, test = data.load_float("mnist", cfg.data_dir, cfg.train_subset, cfg.seed)
    adam = optim.optimizer("adam", cfg.lr)
    runs = classify.train_each(
        {
            f"{a}-{b}": (
                models.MLP((a, b, 10), weight_init="xavier_uniform", batch_norm=True, dropout=cfg.drop_prob),
                adam,
            )
            for a, b in cfg.sizes
        },
        train,
        test,
        cfg.epochs,
        cfg.batch_size,
        cfg.seed,
        checkpoint_dir=out / "checkpoints",
    )
    acc = {k: r.test["accuracy"] for k, r in runs.items()}
    cost = {k: r.history[-1]["train_loss"] for k, r in runs.items()}
    report = classify.summarize(
        runs,
        test,
        cfg.seed,
        out,
        "hidden_sizes",
        f"BN net, Adam lr {cfg.lr:g}: training cost by hidden sizes",
        "hidden",
    )
    by_size = sorted(runs, key=lambda k: sum(map(int, k.split("-"))))
    small, big = by_size[0], by_size[-1]
    return {
        **report,
        "metrics": {**report["metrics"], "last_epoch_train_cost": cost},
        "log": [f"hidden {k}: train cost {cost[k]:.4f}, test accuracy {acc[k]:.4f}" for k in runs]
        + report["log"],
        "checks": [
            check(
                f"train cost, hidden {big} vs {small}",
                [cost[big], cost[small]],
                "(homework: compare)",
                "more units, lower train cost",
                cost[big] < cost[small],
            ),
            check(
                "test accuracy of every size",
                [acc[k] for k in runs],
                "(homework: compare)",
                "all ≥ 0.95",
                min(acc.values()) >= 0.95,
            ),
        ],
    }


if __name__ == "__main__":
    from experiments.cli import main

    sys.exit(main([ID, *sys.argv[1:]]))
