"""C4 (fastai ch. 4): the optimizer as an object. The update step p ← p − lr·g becomes a tiny
Optax ``GradientTransformation`` of our own (``optim.basic_optim``), used by the same training
engine as every other experiment, on a Linear(784, 1) layer with PyTorch's default init,
``mnist_loss``, batch 256, lr 1.0, 20 epochs. Then, as the book does, the library's SGD
(``optax.sgd``) replaces it and gives the very same parameters."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
import optax

from jaxnets import data, losses, models, optim, plots
from jaxnets.results import check, diverged_runs, tagged
from jaxnets.train import epoch_table, logit_binary_metrics, train_model

ID = "C4"
TITLE = "BasicOptim: the SGD step as an Optax transformation, then optax.sgd"
DESCRIPTION = (
    "Linear(784,1) (PyTorch init), mnist_loss, our BasicOptim vs optax.sgd, lr 1.0, batch 256, 20 epochs"
)


# `--quick`: a reduced run for a first look (and the tests).
QUICK: dict = {"epochs": 3}


@dataclass(frozen=True)
class Config:
    seed: int = 0
    epochs: int = 20
    lr: float = 1.0
    batch_size: int = 256
    data_dir: str | None = None


def run(cfg: Config, out: Path) -> dict:
    train, valid = data.load_float("mnist_sample", cfg.data_dir)
    runs = {}
    for name, tx in (("BasicOptim", optim.basic_optim(cfg.lr)), ("optax.sgd", optax.sgd(cfg.lr))):
        print(f"{name}:")
        runs[name] = train_model(
            models.MLP((1,)),
            tx,
            train,
            cfg.epochs,
            cfg.batch_size,
            cfg.seed,
            loss_fn=losses.mnist_loss,
            metrics_fn=logit_binary_metrics,
            valid=valid,
            on_epoch=epoch_table(),
        )
    ours, library = (r.state.params for r in runs.values())
    max_diff = max(
        float(np.max(np.abs(a - b)))
        for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(library), strict=True)
    )
    identical = max_diff == 0.0
    acc = runs["BasicOptim"].history[-1]["valid_accuracy"]
    plots.curves(
        out / "basic_optim.png",
        {
            k: ([h["epoch"] for h in r.history], [h["valid_accuracy"] for h in r.history])
            for k, r in runs.items()
        },
        title="Linear(784, 1): validation accuracy, BasicOptim and optax.sgd",
        ylabel="validation accuracy",
        markers=True,
    )
    return {
        "history": [row for k, r in runs.items() for row in tagged(r.history, optimizer=k)],
        "metrics": {"valid_accuracy": acc, "params_identical": identical, "max_param_difference": max_diff},
        "diverged": diverged_runs({k: r.diverged for k, r in runs.items()}),
        "log": [f"BasicOptim and optax.sgd parameters identical: {identical} (max difference {max_diff:g})"],
        "checks": [
            check(f"valid accuracy after {cfg.epochs} epochs", acc, 0.9785, "≥ 0.97", acc >= 0.97),
            check("BasicOptim params == optax.sgd params", identical, True, "bit for bit", identical),
        ],
    }


if __name__ == "__main__":
    from experiments.cli import main

    sys.exit(main([ID, *sys.argv[1:]]))
