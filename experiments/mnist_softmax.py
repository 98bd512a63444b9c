"""B1, B2 (labs 07-2, 09-1): softmax regression on MNIST, Linear(784, 10) with cross-entropy,
batch 100, 15 epochs; B1 trains it with SGD (lr 0.1), B2 with Adam (lr 0.001)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from jaxnets import classify, data, models, optim
from jaxnets.results import check

ID = "B1-B2"
IDS = ("B1", "B2")
TITLE = "MNIST softmax regression: SGD vs Adam"
DESCRIPTION = "Linear(784,10), cross-entropy, batch 100, 15 epochs; SGD lr 0.1 (B1), Adam lr 0.001 (B2)"


# `--quick`: a reduced run for a first look (and the tests).
QUICK: dict = {"train_subset": 3000, "epochs": 2}


@dataclass(frozen=True)
class Config:
    seed: int = 0
    epochs: int = 15
    batch_size: int = 100
    sgd_lr: float = 0.1
    adam_lr: float = 0.001
    train_subset: int | None = None
    data_dir: str | None = None


def run(cfg: Config, out: Path) -> dict:
    train, test = data.load_float("mnist", cfg.data_dir, cfg.train_subset, cfg.seed)
    runs = classify.train_each(
        {
            "B1 SGD": (models.softmax_classifier(10), optim.optimizer("sgd", cfg.sgd_lr)),
            "B2 Adam": (models.softmax_classifier(10), optim.optimizer("adam", cfg.adam_lr)),
        },
        train,
        test,
        cfg.epochs,
        cfg.batch_size,
        cfg.seed,
        checkpoint_dir=out / "checkpoints",
    )
    report = classify.summarize(
        runs, test, cfg.seed, out, "softmax_sgd_vs_adam", "MNIST softmax regression: training cost"
    )
    acc = {k: r.test["accuracy"] for k, r in runs.items()}
    return {
        **report,
        "checks": [
            check(
                "B1 (SGD) test accuracy",
                acc["B1 SGD"],
                "~0.90-0.92 (no figure)",
                "≥ 0.90",
                acc["B1 SGD"] >= 0.90,
            ),
            check("B2 (Adam) test accuracy", acc["B2 Adam"], "(no figure)", "≥ 0.91", acc["B2 Adam"] >= 0.91),
        ],
    }


if __name__ == "__main__":
    from experiments.cli import main

    sys.exit(main([ID, *sys.argv[1:]]))
