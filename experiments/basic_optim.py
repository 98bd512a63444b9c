"""C4 (fastai ch. 4): the optimizer as an object. The update step p ← p − lr·g becomes a tiny
Optax ``GradientTransformation`` of our own (``optim.basic_optim``), used by the same training
engine as every other experiment, on a Linear(784, 1) layer with PyTorch's default init,
``mnist_loss``, batch 256, lr 1.0, 20 epochs, on the book's data loader: 3s then 7s, in order
(not shuffled), the last batch partial. Then, as the book does, the library's SGD (``optax.sgd``)
replaces it and gives the very same parameters. Validation is the book's ``validate_epoch``: the
mean of the accuracies of batches of 256."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import jax
import numpy as np
import optax

from experiments.harness import over_seeds, plots, recipes, toy_data
from experiments.harness.checks import at_least, equal
from experiments.harness.contract import Experiment, Outcome, Workspace
from experiments.harness.stats import dist
from jaxnets import data, losses, models, optim
from jaxnets.metrics import logit_binary_metrics
from jaxnets.train import epoch_table, evaluate, train_model

# What the notes printed after each of the 20 epochs (validate_epoch, the BasicOptim run).
NOTES_CURVE = (0.4932, 0.8813, 0.8149, 0.9087, 0.9316, 0.9472, 0.9555, 0.9619, 0.9658, 0.9678)
NOTES_CURVE += (0.9697, 0.9726, 0.9736, 0.9746, 0.9761, 0.9765, 0.9775, 0.978, 0.9785, 0.9785)


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 20
    lr: float = 1.0
    batch_size: int = 256
    data_dir: str | None = None


def run(cfg: Config, ws: Workspace) -> Outcome:
    # The book's dl and valid_dl: DataLoader(dset, batch_size=256), 3s then 7s, unshuffled.
    train, valid = map(toy_data.threes_then_sevens, data.load_float("mnist_sample", cfg.data_dir))
    batch_means: dict[str, list] = {}
    # The same Linear(784, 1) and training, stepped by our BasicOptim and by optax.sgd.
    runs = {}
    for name, tx in (("BasicOptim", optim.basic_optim(cfg.lr)), ("optax.sgd", optax.sgd(cfg.lr))):
        means = batch_means[name] = []
        table = epoch_table(title=f"{name}:")

        def on_epoch(epoch, state, row, means=means, table=table):
            means.append(evaluate(state, valid, batch_size=cfg.batch_size, batch_mean=True)["accuracy"])
            return table(epoch, state, row)

        runs[name] = train_model(
            models.MLP((1,)),
            tx,
            train,
            **recipes.settings(cfg),
            loss_fn=losses.mnist_loss,
            metrics_fn=logit_binary_metrics,
            valid=valid,
            shuffle=False,
            drop_last=False,
            on_epoch=on_epoch,
        )
    ours, library = (r.state.params for r in runs.values())
    max_diff = max(
        float(np.max(np.abs(a - b)))
        for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(library), strict=True)
    )
    identical = max_diff == 0.0
    # The book's number: the mean of the batch accuracies after the last epoch (per seed).
    acc = dist(np.reshape(batch_means["BasicOptim"][-1], -1))
    plots.curves(
        ws.plots / "basic_optim.png",
        {
            k: (np.arange(1, len(m) + 1), np.reshape(np.asarray(m, np.float64).T, (-1, len(m))))
            for k, m in batch_means.items()
        }
        | {"the notes (one run)": (np.arange(1, len(NOTES_CURVE) + 1), np.array(NOTES_CURVE))},
        title="Linear(784, 1): validation accuracy, ours and the notes",
        ylabel="validation accuracy (mean of batch accuracies)",
        markers=True,
    )
    return Outcome(
        history=[{"optimizer": k, **row} for k, r in runs.items() for row in over_seeds.rows(r, cfg.seed)],
        metrics={
            "valid_accuracy": acc,
            "valid_accuracy_per_epoch": [dist(np.reshape(m, -1)) for m in batch_means["BasicOptim"]],
            "valid_accuracy_exact": over_seeds.last(runs["BasicOptim"], "valid_accuracy"),
            "params_identical": identical,
            "max_param_difference": max_diff,
        },
        checks=[
            at_least(f"valid accuracy after {cfg.epochs} epochs", acc, 0.97, notes=0.9785),
            equal("BasicOptim params == optax.sgd params, bit for bit", identical, True, notes=True),
        ],
        diverged={
            name: d for k, r in runs.items() for name, d in over_seeds.divergences(r, k, cfg.seed).items()
        },
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
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
