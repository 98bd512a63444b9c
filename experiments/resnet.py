"""C6 (fastai ch. 4): ResNet-18 from scratch (no pretraining) on the 3s and 7s: the standard
architecture (7×7 stem, four stages of two basic blocks, BatchNorm), cross-entropy over the two
classes, fastai's one-cycle schedule (Adam, max lr 0.1), one epoch at fastai's batch size 64."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jaxnets import classify, data, models, optim, plots
from jaxnets.results import check, diverged_runs

ID = "C6"
TITLE = "ResNet-18 from scratch, one cycle, one epoch"
DESCRIPTION = "ResNet-18 (no pretraining) on MNIST_SAMPLE, cross-entropy, one-cycle Adam max lr 0.1, 1 epoch"


# `--quick`: a reduced run for a first look (and the tests).
QUICK: dict = {"train_subset": 1280, "batch_size": 32, "lr": 0.01}


@dataclass(frozen=True)
class Config:
    seed: int = 0
    epochs: int = 1
    lr: float = 0.1
    batch_size: int = 64
    train_subset: int | None = None
    data_dir: str | None = None


def run(cfg: Config, out: Path) -> dict:
    train, valid = data.load_float("mnist_sample", cfg.data_dir, cfg.train_subset, cfg.seed)
    steps = cfg.epochs * (len(train[0]) // cfg.batch_size)
    start = time.perf_counter()
    runs = classify.train_each(
        {"ResNet-18": (models.ResNet18(2), optim.one_cycle(cfg.lr, steps))},
        train,
        valid,
        cfg.epochs,
        cfg.batch_size,
        cfg.seed,
        checkpoint_dir=out / "checkpoints",
    )
    seconds = time.perf_counter() - start
    resnet = runs["ResNet-18"]
    names = data.CLASS_NAMES["mnist_sample"]
    sample = classify.get_one_and_predict(
        {"ResNet-18": resnet.state}, valid, cfg.seed, out / "get_one_and_predict.png", names
    )
    step_loss = resnet.steps["loss"]
    window = min(10, len(step_loss))
    plots.curves(
        out / "resnet18.png",
        {
            "batch loss": (np.arange(1, len(step_loss) + 1), step_loss),
            f"mean of the last {window}": (
                np.arange(window, len(step_loss) + 1),
                np.convolve(step_loss, np.ones(window) / window, mode="valid"),
            ),
        },
        title=f"ResNet-18, one cycle (max lr {cfg.lr:g}): valid accuracy {resnet.test['accuracy']:.4f}",
        xlabel="step",
        ylabel="cross-entropy (log)",
        logy=True,
    )
    acc = resnet.test["accuracy"]
    return {
        "history": resnet.history,
        "metrics": {
            "valid": resnet.test,
            "get_one_and_predict": sample,
            "train_seconds": seconds,
            "steps": steps,
        },
        "diverged": diverged_runs({k: r.diverged for k, r in runs.items()}),
        "log": [
            f"ResNet-18: valid accuracy {acc:.4f} after {steps} steps, {seconds:.1f} s (compile included)",
            classify.describe(sample, names),
        ],
        "checks": [
            check(f"valid accuracy after {cfg.epochs} epoch(s)", acc, 0.9951, "≥ 0.99", acc >= 0.99),
        ],
    }


if __name__ == "__main__":
    from experiments.cli import main

    sys.exit(main([ID, *sys.argv[1:]]))
