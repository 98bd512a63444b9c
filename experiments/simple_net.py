"""C5 (fastai ch. 4): a simple neural net for 3 vs 7, 784-30-1 with a ReLU between the two
linear layers (PyTorch's default init), ``mnist_loss``, plain SGD lr 0.1, batch 256, 40 epochs,
printed epoch by epoch like fastai's ``Learner.fit``."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from experiments.harness import over_seeds, plots, recipes, toy_data
from experiments.harness.checks import at_least
from experiments.harness.contract import Experiment, Outcome, Workspace
from jaxnets import data, losses, models, optim
from jaxnets.metrics import logit_binary_metrics
from jaxnets.train import epoch_table, train_model


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 40
    lr: float = 0.1
    batch_size: int = 256
    hidden: int = 30
    data_dir: str | None = None


def run(cfg: Config, ws: Workspace) -> Outcome:
    # The book's dls = DataLoaders(dl, valid_dl): 3s then 7s, batches of 256 in order (unshuffled),
    # the last one partial; fastai's Learner averages batch_accuracy over examples.
    train, valid = map(toy_data.threes_then_sevens, data.load_float("mnist_sample", cfg.data_dir))
    # simple_net = nn.Sequential(nn.Linear(28*28, 30), nn.ReLU(), nn.Linear(30, 1)); learn.fit(40, 0.1)
    fitted = train_model(
        models.MLP((cfg.hidden, 1)),
        optim.optimizer("sgd", cfg.lr),
        train,
        **recipes.settings(cfg),
        loss_fn=losses.mnist_loss,
        metrics_fn=logit_binary_metrics,
        valid=valid,
        shuffle=False,
        drop_last=False,
        on_epoch=epoch_table(),
    )
    acc = over_seeds.last(fitted, "valid_accuracy")
    plots.curves(
        ws.plots / "simple_net.png",
        {"validation accuracy": (np.arange(1, cfg.epochs + 1), over_seeds.curve(fitted, "valid_accuracy"))},
        title=f"784-{cfg.hidden}-1, SGD lr {cfg.lr:g}: validation accuracy",
        ylabel="validation accuracy",
    )
    return Outcome(
        history=over_seeds.rows(fitted, cfg.seed),
        metrics={"valid_accuracy": acc, "valid_loss": over_seeds.last(fitted, "valid_loss")},
        checks=[at_least(f"valid accuracy after {cfg.epochs} epochs", acc, 0.975, notes=0.9828)],
        diverged=over_seeds.divergences(fitted, "simple net", cfg.seed),
    )


EXPERIMENT = Experiment(
    __name__,
    "C5",
    "Simple net 784-30-1 on 3 vs 7",
    "784-30-1 ReLU, mnist_loss, SGD lr 0.1, batch 256, 40 epochs on MNIST_SAMPLE",
    Config,
    run,
    quick={"epochs": 5},
)

if __name__ == "__main__":
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
