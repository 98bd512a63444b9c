"""B11 (lab 09-4, homework Q1-1): batch normalisation. 784-100-100-10 with, for each hidden
layer, Linear → BatchNorm → ReLU → Dropout(0.3); Xavier init, Adam, batch 100, 15 epochs.
BatchNorm normalises with the batch's statistics in training and with running averages in
evaluation. The same net without BatchNorm is trained beside it, at the homework's learning
rate 0.1 and at the lab's own 0.01."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from experiments.harness import over_seeds, recipes
from experiments.harness.checks import below, greater
from experiments.harness.contract import Experiment, Outcome, Workspace
from jaxnets import data, models, optim


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 15
    lrs: tuple[float, ...] = (0.1, 0.01)
    batch_size: int = 100
    hidden: tuple[int, ...] = (100, 100)
    drop_prob: float = 0.3
    train_subset: int | None = None
    data_dir: str | None = None


def run(cfg: Config, ws: Workspace) -> Outcome:
    train, test = data.load_float("mnist", cfg.data_dir, cfg.train_subset, cfg.seed)
    # Linear → [BatchNorm] → ReLU → Dropout, with and without BN, at each learning rate.
    setups = {
        f"{'BN' if bn else 'no BN'}, lr {lr:g}": (
            models.MLP((*cfg.hidden, 10), weight_init="xavier_uniform", batch_norm=bn, dropout=cfg.drop_prob),
            optim.optimizer("adam", lr),
        )
        for lr in cfg.lrs
        for bn in (True, False)
    }
    runs = recipes.train_each(
        setups,
        train,
        test,
        **recipes.settings(cfg),
        **ws.checkpoint_each(),
    )
    acc = {k: r.held_out["accuracy"] for k, r in runs.items()}
    cost = {k: over_seeds.last(r.fitted, "train_loss") for k, r in runs.items()}
    # Running averages make evaluation independent of how the test set is batched.
    bn_main = runs[f"BN, lr {cfg.lrs[0]:g}"]
    rebatched = over_seeds.evaluate(bn_main.fitted, test, batch_size=7)["accuracy"]
    sample = recipes.get_one_and_predict(
        runs,
        test,
        seed=cfg.seed,
        out=ws.plots / "get_one_and_predict.png",
    )
    recipes.plot_runs(ws.plots / "batch_norm.png", runs, "784-100-100-10 with dropout 0.3: training cost")
    checks = [
        greater(
            f"lr {lr:g}: test accuracy BN vs no BN",
            acc[f"BN, lr {lr:g}"],
            acc[f"no BN, lr {lr:g}"],
            ("BN", "no BN"),
            notes="(no figure) BN allows larger learning rates",
        )
        for lr in cfg.lrs
    ]
    checks.append(
        below(  # one image would be 1e-4
            "BN eval: |test accuracy in batches of 1000 − in batches of 7|, largest over seeds",
            float(np.max(np.abs(np.subtract(bn_main.held_out["accuracy"].values, rebatched.values)))),
            1e-6,
            notes="running averages in evaluation",
        )
    )
    return Outcome(
        history=recipes.history(runs),
        metrics={
            "test": {k: r.held_out for k, r in runs.items()},
            "get_one_and_predict": sample,
            "last_epoch_train_cost": cost,
        },
        checks=checks,
        diverged=recipes.divergences(runs),
        log=[f"{k}: train cost {cost[k]:.4f}, test accuracy {acc[k]:.4f}" for k in runs]
        + [recipes.describe(sample)],
    )


EXPERIMENT = Experiment(
    __name__,
    "B11",
    "Batch normalisation vs none, at lr 0.1 and 0.01",
    "784-100-100-10, Linear-BN-ReLU-Dropout(0.3), Xavier, Adam lr 0.1 (and 0.01), 15 epochs; vs no BN",
    Config,
    run,
    quick={"train_subset": 2000, "epochs": 2, "lrs": (0.01,)},
)

if __name__ == "__main__":
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
