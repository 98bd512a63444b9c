"""B10 (lab 09-3): dropout. 784-512-512-512-512-10 with ReLU, Xavier init and Dropout(p=0.3)
after each hidden ReLU, Adam lr 0.001, batch 100, 15 epochs. Dropout is on in training (a fresh
mask every step, from ``fold_in(key, step)``) and off in evaluation. The same net without
dropout is trained beside it for comparison."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from experiments.harness import over_seeds, recipes
from experiments.harness.checks import at_least, identical
from experiments.harness.contract import Experiment, Outcome, Workspace
from experiments.harness.stats import dist
from jaxnets import data, models, optim


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 15
    lr: float = 0.001
    batch_size: int = 100
    hidden: tuple[int, ...] = (512, 512, 512, 512)
    drop_prob: float = 0.3
    compare_without: bool = True
    train_subset: int | None = None
    data_dir: str | None = None


def run(cfg: Config, ws: Workspace) -> Outcome:
    train, test = data.load_float("mnist", cfg.data_dir, cfg.train_subset, cfg.seed)
    # The deep net with dropout after each hidden ReLU (and, for comparison, without).
    with_dropout = f"dropout {cfg.drop_prob:g}"
    probs = {with_dropout: cfg.drop_prob, **({"no dropout": 0.0} if cfg.compare_without else {})}
    adam = optim.optimizer("adam", cfg.lr)
    setups = {
        name: (models.MLP((*cfg.hidden, 10), weight_init="xavier_uniform", dropout=p), adam)
        for name, p in probs.items()
    }
    runs = recipes.train_each(
        setups,
        train,
        test,
        **recipes.settings(cfg),
        **ws.checkpoint_each(),
    )

    # Evaluation mode (dropout off) is deterministic: the same test set twice gives the same numbers.
    again = over_seeds.evaluate(runs[with_dropout].fitted, test)
    train_eval = {k: over_seeds.evaluate(r.fitted, train) for k, r in runs.items()}
    acc = {k: r.held_out["accuracy"] for k, r in runs.items()}
    sample = recipes.get_one_and_predict(
        runs,
        test,
        seed=cfg.seed,
        out=ws.plots / "get_one_and_predict.png",
    )
    recipes.plot_runs(ws.plots / "dropout.png", runs, "784-512x4-10: training cost (dropout on)")
    return Outcome(
        history=recipes.history(runs),
        metrics={
            "test": {k: r.held_out for k, r in runs.items()},
            "get_one_and_predict": sample,
            "train_eval_mode": train_eval,
            "train_minus_test_accuracy": {
                k: dist(np.subtract(train_eval[k]["accuracy"].values, acc[k].values)) for k in runs
            },
        },
        checks=[
            at_least("test accuracy with dropout", acc[with_dropout], 0.975, notes="~0.98 (original lab)"),
            identical("evaluation is deterministic (dropout off)", runs[with_dropout].held_out, again),
        ],
        diverged=recipes.divergences(runs),
        log=[
            f"{k}: cost {over_seeds.first(r.fitted, 'train_loss'):.4f} → "
            f"{over_seeds.last(r.fitted, 'train_loss'):.4f}; "
            f"test accuracy {acc[k]:.4f}; train accuracy (eval mode) {train_eval[k]['accuracy']:.4f}"
            for k, r in runs.items()
        ]
        + [recipes.describe(sample)],
    )


EXPERIMENT = Experiment(
    __name__,
    "B10",
    "Dropout on a deep MNIST MLP",
    "784-512x4-10 ReLU, Xavier, dropout 0.3, Adam lr 0.001, batch 100, 15 epochs (vs no dropout)",
    Config,
    run,
    quick={"train_subset": 2000, "epochs": 2, "hidden": (128, 128), "compare_without": False},
)

if __name__ == "__main__":
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
