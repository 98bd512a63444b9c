"""C4 (fastai ch. 4): the optimizer as an object. The update step p ← p − lr·g becomes a tiny
Optax ``GradientTransformation`` of our own (``optim.basic_optim``), used by the same training
engine as every other experiment, on a Linear(784, 1) layer with PyTorch's default init,
``mnist_loss``, batch 256, lr 1.0, 20 epochs. Then, as the book does, the library's SGD
(``optax.sgd``) replaces it and gives the very same parameters."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import jax
import numpy as np
import optax

from experiments.experiment import Experiment, Outcome, Workspace
from jaxnets import data, losses, models, optim, plots
from jaxnets.checks import at_least, equal
from jaxnets.metrics import logit_binary_metrics
from jaxnets.train import epoch_table, train_model


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 20
    lr: float = 1.0
    batch_size: int = 256
    data_dir: str | None = None


def run(cfg: Config, ws: Workspace) -> Outcome:
    train, valid = data.load_float("mnist_sample", cfg.data_dir)
    # The same Linear(784, 1) and training, stepped by our BasicOptim and by optax.sgd.
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
            seeds=cfg.seeds,
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
    acc = runs["BasicOptim"].last("valid_accuracy")
    plots.curves(
        ws.plots / "basic_optim.png",
        {k: (np.arange(1, cfg.epochs + 1), r.curve("valid_accuracy")) for k, r in runs.items()},
        title="Linear(784, 1): validation accuracy, BasicOptim and optax.sgd",
        ylabel="validation accuracy",
        markers=True,
    )
    return Outcome(
        history=[{"optimizer": k, **row} for k, r in runs.items() for row in r.rows(cfg.seed)],
        metrics={"valid_accuracy": acc, "params_identical": identical, "max_param_difference": max_diff},
        checks=[
            at_least(f"valid accuracy after {cfg.epochs} epochs", acc, 0.97, notes=0.9785),
            equal("BasicOptim params == optax.sgd params, bit for bit", identical, True, notes=True),
        ],
        diverged={name: d for k, r in runs.items() for name, d in r.divergences(k, cfg.seed).items()},
        log=[f"BasicOptim and optax.sgd parameters identical: {identical} (max difference {max_diff:g})"],
    )


EXPERIMENT = Experiment(
    __name__,
    "C4",
    "BasicOptim: the SGD step as an Optax transformation, then optax.sgd",
    "Linear(784,1) (PyTorch init), mnist_loss, our BasicOptim vs optax.sgd, lr 1.0, batch 256, 20 epochs",
    Config,
    run,
    quick={"epochs": 3},
)

if __name__ == "__main__":
    sys.exit(EXPERIMENT.main(sys.argv[1:]))
