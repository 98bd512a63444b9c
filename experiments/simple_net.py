"""C5 (fastai ch. 4): a simple neural net for 3 vs 7, 784-30-1 with a ReLU between the two
linear layers (PyTorch's default init), ``mnist_loss``, plain SGD lr 0.1, batch 256, 40 epochs,
printed epoch by epoch like fastai's ``Learner.fit``."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from jaxnets import data, losses, models, optim, plots
from jaxnets.results import check, diverged_runs
from jaxnets.train import epoch_table, logit_binary_metrics, train_model

ID = "C5"
TITLE = "Simple net 784-30-1 on 3 vs 7"
DESCRIPTION = "784-30-1 ReLU, mnist_loss, SGD lr 0.1, batch 256, 40 epochs on MNIST_SAMPLE"


# `--quick`: a reduced run for a first look (and the tests).
QUICK: dict = {"epochs": 5}


@dataclass(frozen=True)
class Config:
    seed: int = 0
    epochs: int = 40
    lr: float = 0.1
    batch_size: int = 256
    hidden: int = 30
    data_dir: str | None = None


def run(cfg: Config, out: Path) -> dict:
    train, valid = data.load_float("mnist_sample", cfg.data_dir)
    fitted = train_model(
        models.MLP((cfg.hidden, 1)),
        optim.optimizer("sgd", cfg.lr),
        train,
        cfg.epochs,
        cfg.batch_size,
        cfg.seed,
        loss_fn=losses.mnist_loss,
        metrics_fn=logit_binary_metrics,
        valid=valid,
        on_epoch=epoch_table(),
    )
    h = fitted.history
    acc = h[-1]["valid_accuracy"]
    plots.curves(
        out / "simple_net.png",
        {"validation accuracy": ([r["epoch"] for r in h], [r["valid_accuracy"] for r in h])},
        title=f"784-{cfg.hidden}-1, SGD lr {cfg.lr:g}: validation accuracy",
        ylabel="validation accuracy",
    )
    return {
        "history": h,
        "metrics": {"valid_accuracy": acc, "valid_loss": h[-1]["valid_loss"]},
        "diverged": diverged_runs({"simple net": fitted.diverged}),
        "checks": [check(f"valid accuracy after {cfg.epochs} epochs", acc, 0.9828, "≥ 0.975", acc >= 0.975)],
    }


if __name__ == "__main__":
    from experiments.cli import main

    sys.exit(main([ID, *sys.argv[1:]]))
