"""B1, B2 (labs 07-2, 09-1): softmax regression on MNIST, Linear(784, 10) with cross-entropy,
batch 100, 15 epochs; B1 trains it with SGD (lr 0.1), B2 with Adam (lr 0.001)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from experiments.harness import recipes
from experiments.harness.checks import at_least
from experiments.harness.contract import Experiment, Outcome, Workspace
from jaxnets import data, models, optim


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 15
    batch_size: int = 100
    sgd_lr: float = 0.1
    adam_lr: float = 0.001
    train_subset: int | None = None
    data_dir: str | None = None


def run(cfg: Config, ws: Workspace) -> Outcome:
    # MNIST, pixels /255, batch 100, shuffled, drop_last.
    train, test = data.load_float("mnist", cfg.data_dir, cfg.train_subset, cfg.seed)
    # Softmax regression, Linear(784, 10), trained with SGD and with Adam.
    runs = recipes.train_each(
        {
            "B1 SGD": (models.softmax_classifier(10), optim.optimizer("sgd", cfg.sgd_lr)),
            "B2 Adam": (models.softmax_classifier(10), optim.optimizer("adam", cfg.adam_lr)),
        },
        train,
        test,
        **recipes.settings(cfg),
        **ws.checkpoint_each(),
    )
    # Test accuracy, and get one and predict.
    acc = {k: r.held_out["accuracy"] for k, r in runs.items()}
    sample = recipes.get_one_and_predict(
        runs,
        test,
        seed=cfg.seed,
        out=ws.plots / "get_one_and_predict.png",
    )
    recipes.plot_runs(ws.plots / "softmax_sgd_vs_adam.png", runs, "MNIST softmax regression: training cost")
    return Outcome(
        history=recipes.history(runs),
        metrics={"test": {k: r.held_out for k, r in runs.items()}, "get_one_and_predict": sample},
        checks=[
            at_least("B1 (SGD) test accuracy", acc["B1 SGD"], 0.90, notes="~0.90-0.92 (no figure)"),
            at_least("B2 (Adam) test accuracy", acc["B2 Adam"], 0.91),
        ],
        diverged=recipes.divergences(runs),
        log=[recipes.describe(sample)],
    )


EXPERIMENT = Experiment(
    __name__,
    "B1-B2",
    "MNIST softmax regression: SGD vs Adam",
    "Linear(784,10), cross-entropy, batch 100, 15 epochs; SGD lr 0.1 (B1), Adam lr 0.001 (B2)",
    Config,
    run,
    ids=("B1", "B2"),
    quick={"train_subset": 3000, "epochs": 2},
)

if __name__ == "__main__":
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
