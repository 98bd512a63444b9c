"""B11 (lab 09-4, homework Q1-1): batch normalisation. 784-100-100-10 with, for each hidden
layer, Linear → BatchNorm → ReLU → Dropout(0.3); Xavier init, Adam, batch 100, 15 epochs.
BatchNorm normalises with the batch's statistics in training and with running averages in
evaluation. The same net without BatchNorm is trained beside it, at the homework's learning
rate 0.1 and at the lab's own 0.01."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from jaxnets import classify, data, models, optim
from jaxnets.results import check
from jaxnets.train import evaluate

ID = "B11"
TITLE = "Batch normalisation vs none, at lr 0.1 and 0.01"
DESCRIPTION = (
    "784-100-100-10, Linear-BN-ReLU-Dropout(0.3), Xavier, Adam lr 0.1 (and 0.01), 15 epochs; vs no BN"
)


# `--quick`: a reduced run for a first look (and the tests).
QUICK: dict = {"train_subset": 2000, "epochs": 2, "lrs": (0.01,)}


@dataclass(frozen=True)
class Config:
    seed: int = 0
    epochs: int = 15
    lrs: tuple[float, ...] = (0.1, 0.01)
    batch_size: int = 100
    hidden: tuple[int, ...] = (100, 100)
    drop_prob: float = 0.3
    train_subset: int | None = None
    data_dir: str | None = None


def run(cfg: Config, out: Path) -> dict:
    train, test = data.load_float("mnist", cfg.data_dir, cfg.train_subset, cfg.seed)
    runs = classify.train_each(
        {
            f"{'BN' if bn else 'no BN'}, lr {lr:g}": (
                models.MLP(
                    (*cfg.hidden, 10), weight_init="xavier_uniform", batch_norm=bn, dropout=cfg.drop_prob
                ),
                optim.optimizer("adam", lr),
            )
            for lr in cfg.lrs
            for bn in (True, False)
        },
        train,
        test,
        cfg.epochs,
        cfg.batch_size,
        cfg.seed,
        checkpoint_dir=out / "checkpoints",
    )
    acc = {k: r.test["accuracy"] for k, r in runs.items()}
    cost = {k: r.history[-1]["train_loss"] for k, r in runs.items()}
    # Running averages make evaluation independent of how the test set is batched.
    bn_main = runs[f"BN, lr {cfg.lrs[0]:g}"]
    rebatched = evaluate(bn_main.state, test, batch_size=7)["accuracy"]
    report = classify.summarize(
        runs, test, cfg.seed, out, "batch_norm", "784-100-100-10 with dropout 0.3: training cost"
    )
    checks = [
        check(
            f"lr {lr:g}: test accuracy BN vs no BN",
            [acc[f"BN, lr {lr:g}"], acc[f"no BN, lr {lr:g}"]],
            "(no figure) BN allows larger learning rates",
            "BN > no BN",
            acc[f"BN, lr {lr:g}"] > acc[f"no BN, lr {lr:g}"],
        )
        for lr in cfg.lrs
    ]
    checks.append(
        check(
            "BN eval: test accuracy in batches of 1000 vs 7",
            [bn_main.test["accuracy"], rebatched],
            "running averages in evaluation",
            "equal",
            abs(bn_main.test["accuracy"] - rebatched) < 1e-6,  # one image would be 1e-4
        )
    )
    return {
        **report,
        "metrics": {**report["metrics"], "last_epoch_train_cost": cost},
        "log": [f"{k}: train cost {cost[k]:.4f}, test accuracy {acc[k]:.4f}" for k in runs] + report["log"],
        "checks": checks,
    }


if __name__ == "__main__":
    from experiments.cli import main

    sys.exit(main([ID, *sys.argv[1:]]))
