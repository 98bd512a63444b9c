"""B10 (lab 09-3): dropout. 784-512-512-512-512-10 with ReLU, Xavier init and Dropout(p=0.3)
after each hidden ReLU, Adam lr 0.001, batch 100, 15 epochs. Dropout is on in training (a fresh
mask every step, from ``fold_in(key, step)``) and off in evaluation. The same net without
dropout is trained beside it for comparison."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from jaxnets import classify, data, models, optim
from jaxnets.results import check
from jaxnets.train import evaluate

ID = "B10"
TITLE = "Dropout on a deep MNIST MLP"
DESCRIPTION = "784-512x4-10 ReLU, Xavier, dropout 0.3, Adam lr 0.001, batch 100, 15 epochs (vs no dropout)"


# `--quick`: a reduced run for a first look (and the tests).
QUICK: dict = {"train_subset": 2000, "epochs": 2, "hidden": (128, 128), "compare_without": False}


@dataclass(frozen=True)
class Config:
    seed: int = 0
    epochs: int = 15
    lr: float = 0.001
    batch_size: int = 100
    hidden: tuple[int, ...] = (512, 512, 512, 512)
    drop_prob: float = 0.3
    compare_without: bool = True
    train_subset: int | None = None
    data_dir: str | None = None


def run(cfg: Config, out: Path) -> dict:
    train, test = data.load_float("mnist", cfg.data_dir, cfg.train_subset, cfg.seed)
    probs = {f"dropout {cfg.drop_prob:g}": cfg.drop_prob}
    if cfg.compare_without:
        probs["no dropout"] = 0.0
    adam = optim.optimizer("adam", cfg.lr)
    runs = classify.train_each(
        {
            name: (models.MLP((*cfg.hidden, 10), weight_init="xavier_uniform", dropout=p), adam)
            for name, p in probs.items()
        },
        train,
        test,
        cfg.epochs,
        cfg.batch_size,
        cfg.seed,
        checkpoint_dir=out / "checkpoints",
    )
    main_run = runs[f"dropout {cfg.drop_prob:g}"]
    # Evaluation mode is deterministic: the same test set twice gives the same numbers.
    again = evaluate(main_run.state, test)
    train_eval = {k: evaluate(r.state, train) for k, r in runs.items()}
    report = classify.summarize(
        runs, test, cfg.seed, out, "dropout", "784-512x4-10: training cost (dropout on)"
    )
    acc = {k: r.test["accuracy"] for k, r in runs.items()}
    ours = acc[f"dropout {cfg.drop_prob:g}"]
    return {
        **report,
        "metrics": {
            **report["metrics"],
            "train_eval_mode": train_eval,
            "train_minus_test_accuracy": {k: train_eval[k]["accuracy"] - acc[k] for k in runs},
        },
        "log": [
            f"{k}: cost {r.history[0]['train_loss']:.4f} → {r.history[-1]['train_loss']:.4f}; test accuracy "
            f"{acc[k]:.4f}; train accuracy (eval mode) {train_eval[k]['accuracy']:.4f}"
            for k, r in runs.items()
        ]
        + report["log"],
        "checks": [
            check("test accuracy with dropout", ours, "~0.98 (original lab)", "≥ 0.975", ours >= 0.975),
            check(
                "evaluation is deterministic (dropout off)",
                again["accuracy"],
                main_run.test["accuracy"],
                "identical on a second pass",
                again == main_run.test,
            ),
        ],
    }


if __name__ == "__main__":
    from experiments.cli import main

    sys.exit(main([ID, *sys.argv[1:]]))
