"""B7, B8, B9 (labs 09-1, 09-2): the MNIST MLP 784-256-256-10 with ReLU, Adam lr 0.001, batch 100,
15 epochs, three ways of initialising its weights: N(0, 1) (B7), Xavier uniform (B8) and He
normal (B9); biases keep PyTorch's default. Same data order and seed for all three.

The notes' test code feeds the test images unscaled (0-255, `test_data.float()`) while training on
/255 images; we report accuracy on /255 test images, and the unscaled variant beside it."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from experiments.harness import over_seeds, recipes
from experiments.harness.checks import above, all_of, at_least, between, falls, greater
from experiments.harness.contract import Experiment, Outcome, Workspace
from experiments.harness.stats import dist
from jaxnets import data, models, optim

# torch.nn.init.normal_ (B7), xavier_uniform_ (B8), kaiming_normal_ (B9) on each weight matrix.
INITS = {"B7 normal(0,1)": "normal", "B8 Xavier": "xavier_uniform", "B9 He": "he_normal"}


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 15
    lr: float = 0.001
    batch_size: int = 100
    hidden: tuple[int, ...] = (256, 256)
    train_subset: int | None = None
    data_dir: str | None = None


def run(cfg: Config, ws: Workspace) -> Outcome:
    # MNIST and its data loader: pixels /255, batch 100, shuffled, drop_last.
    train, test = data.load_float("mnist", cfg.data_dir, cfg.train_subset, cfg.seed)

    # nn layers 784-256-256-10 with ReLU, one model per initialisation; Adam, cross-entropy.
    adam = optim.optimizer("adam", cfg.lr)
    setups = {name: (models.MLP((*cfg.hidden, 10), weight_init=init), adam) for name, init in INITS.items()}

    # Training: 15 epochs each, the average cost per epoch recorded.
    runs = recipes.train_each(
        setups,
        train,
        test,
        **recipes.settings(cfg),
        **ws.checkpoint_each(),
    )

    # Test the model using test sets (and the notes' unscaled pixels), then get one and predict.
    acc = {name: r.held_out["accuracy"] for name, r in runs.items()}
    unscaled = {
        name: over_seeds.evaluate(r.fitted, (test[0] * 255.0, test[1]))["accuracy"]
        for name, r in runs.items()
    }
    sample = recipes.get_one_and_predict(
        runs,
        test,
        seed=cfg.seed,
        out=ws.plots / "get_one_and_predict.png",
    )
    recipes.plot_runs(ws.plots / "weight_init.png", runs, "784-256-256-10: average cost per epoch")

    b7, b8, b9 = (acc[k] for k in INITS)
    b7_fit = runs["B7 normal(0,1)"].fitted
    first, last = over_seeds.first(b7_fit, "train_loss"), over_seeds.last(b7_fit, "train_loss")
    b8_minus_b7 = dist(np.subtract(b8.values, b7.values))  # the same seeds, hence the same batches
    return Outcome(
        history=recipes.history(runs),
        metrics={
            "test": {k: r.held_out for k, r in runs.items()},
            "get_one_and_predict": sample,
            "test_accuracy_unscaled_pixels": unscaled,
        },
        checks=[
            all_of(
                "B7 average cost, epoch 1 → last",
                [first, last],
                [between("epoch 1", first, 129.38 / 10, 129.38 * 10), falls("then", first, last, by=50)],
                notes=[129.379852, 0.785691],
            ),
            at_least("B7 test accuracy", b7, 0.935, notes=0.9451),
            at_least("B8 test accuracy", b8, 0.975, notes=0.9805),
            above(
                "B8 − B7 (each seed's pair)",
                b8_minus_b7,
                0,
                notes=0.9805 - 0.9451,
            ),
            greater("B9 test accuracy vs B7", b9, b7, ("B9", "B7")),
        ],
        diverged=recipes.divergences(runs),
        log=[
            f"{k}: cost {over_seeds.first(r.fitted, 'train_loss'):.6g} → "
            f"{over_seeds.last(r.fitted, 'train_loss'):.6g}; "
            f"accuracy {acc[k]:.4f} (unscaled test pixels, as the notes' code: {unscaled[k]:.4f})"
            for k, r in runs.items()
        ]
        + [recipes.describe(sample)],
    )


EXPERIMENT = Experiment(
    __name__,
    "B7-B9",
    "MNIST MLP: normal vs Xavier vs He initialisation",
    "784-256-256-10 ReLU, Adam lr 0.001, batch 100, 15 epochs; N(0,1), Xavier, He init",
    Config,
    run,
    ids=("B7", "B8", "B9"),
    quick={"train_subset": 2000, "epochs": 2},
)

if __name__ == "__main__":
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
