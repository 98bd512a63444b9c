"""B12 (lab 09-4, homework Q1-2): the batch-norm net of B11 with other hidden sizes. Same
training (Linear → BN → ReLU → Dropout(0.3), Xavier, Adam lr 0.1, batch 100, 15 epochs); the
homework asks how the train cost and the test accuracy change with the number of hidden units."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from experiments.harness import over_seeds, recipes
from experiments.harness.checks import at_least, less
from experiments.harness.contract import Experiment, Outcome, Workspace
from jaxnets import data, models, optim


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 15
    lr: float = 0.1
    batch_size: int = 100
    sizes: tuple[tuple[int, int], ...] = ((100, 100), (200, 150), (300, 300), (50, 50))
    drop_prob: float = 0.3
    train_subset: int | None = None
    data_dir: str | None = None


def run(cfg: Config, ws: Workspace) -> Outcome:
    train, test = data.load_float("mnist", cfg.data_dir, cfg.train_subset, cfg.seed)
    # B11's batch-norm net at each pair of hidden sizes.
    adam = optim.optimizer("adam", cfg.lr)
    setups = {
        f"{a}-{b}": (
            models.MLP((a, b, 10), weight_init="xavier_uniform", batch_norm=True, dropout=cfg.drop_prob),
            adam,
        )
        for a, b in cfg.sizes
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
    sample = recipes.get_one_and_predict(
        runs,
        test,
        seed=cfg.seed,
        out=ws.plots / "get_one_and_predict.png",
    )
    recipes.plot_runs(
        ws.plots / "hidden_sizes.png", runs, f"BN net, Adam lr {cfg.lr:g}: training cost by hidden sizes"
    )
    by_size = sorted(runs, key=lambda k: sum(map(int, k.split("-"))))
    small, big = by_size[0], by_size[-1]
    return Outcome(
        history=recipes.history(runs, "hidden"),
        metrics={
            "test": {k: r.held_out for k, r in runs.items()},
            "get_one_and_predict": sample,
            "last_epoch_train_cost": cost,
        },
        checks=[
            less(
                f"train cost, hidden {big} vs {small}",
                cost[big],
                cost[small],
                (big, small),
                notes="(homework: compare)",
            ),
            at_least(
                "test accuracy of every size", [acc[k] for k in runs], 0.95, notes="(homework: compare)"
            ),
        ],
        diverged=recipes.divergences(runs),
        log=[f"hidden {k}: train cost {cost[k]:.4f}, test accuracy {acc[k]:.4f}" for k in runs]
        + [recipes.describe(sample)],
    )


EXPERIMENT = Experiment(
    __name__,
    "B12",
    "Hidden-size sweep of the batch-norm net",
    "B11's BN net with hidden sizes (100,100) (200,150) (300,300) (50,50): train cost, test accuracy",
    Config,
    run,
    quick={"train_subset": 2000, "epochs": 2, "lr": 0.01, "sizes": ((50, 50), (200, 150))},
)

if __name__ == "__main__":
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
