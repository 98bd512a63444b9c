"""B7, B8, B9 (labs 09-1, 09-2): the MNIST MLP 784-256-256-10 with ReLU, Adam lr 0.001, batch 100,
15 epochs, three ways of initialising its weights: N(0, 1) (B7), Xavier uniform (B8) and He
normal (B9); biases keep PyTorch's default. Same data order and seed for all three.

The notes' test code feeds the test images unscaled (0-255, `test_data.float()`) while training on
/255 images; we report accuracy on /255 test images, and the unscaled variant beside it."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from jaxnets import classify, data, models, optim
from jaxnets.results import check
from jaxnets.train import evaluate

ID = "B7-B9"
IDS = ("B7", "B8", "B9")
TITLE = "MNIST MLP: normal vs Xavier vs He initialisation"
DESCRIPTION = "784-256-256-10 ReLU, Adam lr 0.001, batch 100, 15 epochs; N(0,1), Xavier, He init"
INITS = {"B7 normal(0,1)": "normal", "B8 Xavier": "xavier_uniform", "B9 He": "he_normal"}


# `--quick`: a reduced run for a first look (and the tests).
QUICK: dict = {"train_subset": 2000, "epochs": 2}


@dataclass(frozen=True)
class Config:
    seed: int = 0
    epochs: int = 15
    lr: float = 0.001
    batch_size: int = 100
    hidden: tuple[int, ...] = (256, 256)
    train_subset: int | None = None
    data_dir: str | None = None


def run(cfg: Config, out: Path) -> dict:
    train, test = data.load_float("mnist", cfg.data_dir, cfg.train_subset, cfg.seed)
    adam = optim.optimizer("adam", cfg.lr)
    runs = classify.train_each(
        {name: (models.MLP((*cfg.hidden, 10), weight_init=init), adam) for name, init in INITS.items()},
        train,
        test,
        cfg.epochs,
        cfg.batch_size,
        cfg.seed,
        checkpoint_dir=out / "checkpoints",
    )
    unscaled = {name: evaluate(r.state, (test[0] * 255.0, test[1]))["accuracy"] for name, r in runs.items()}
    report = classify.summarize(
        runs, test, cfg.seed, out, "weight_init", "784-256-256-10: average cost per epoch"
    )
    acc = {k: r.test["accuracy"] for k, r in runs.items()}
    b7, b8, b9 = (acc[k] for k in INITS)
    cost = [h["train_loss"] for h in runs["B7 normal(0,1)"].history]
    return {
        **report,
        "metrics": {**report["metrics"], "test_accuracy_unscaled_pixels": unscaled},
        "log": [
            f"{k}: cost {r.history[0]['train_loss']:.6g} → {r.history[-1]['train_loss']:.6g}; "
            f"Accuracy: {acc[k]:.4f} (unscaled test pixels, as the notes' code: {unscaled[k]:.4f})"
            for k, r in runs.items()
        ]
        + report["log"],
        "checks": [
            check(
                "B7 average cost, epoch 1 → last",
                [cost[0], cost[-1]],
                [129.379852, 0.785691],
                "epoch 1 within 10x of the notes', falls > 50x",
                129.38 / 10 <= cost[0] <= 129.38 * 10 and cost[-1] < cost[0] / 50,
            ),
            check("B7 test accuracy", b7, 0.9451, "≥ 0.935", b7 >= 0.935),
            check("B8 test accuracy", b8, 0.9805, "≥ 0.975", b8 >= 0.975),
            check("B8 vs B7", b8 - b7, 0.9805 - 0.9451, "B8 > B7", b8 > b7),
            check("B9 test accuracy vs B7", [b9, b7], "(no figure)", "B9 > B7", b9 > b7),
        ],
    }


if __name__ == "__main__":
    from experiments.cli import main

    sys.exit(main([ID, *sys.argv[1:]]))
