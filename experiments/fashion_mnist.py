"""D2, D3 (study-group week 3): evaluating a classifier honestly, then the same model on clothes.

D2: a DNN on MNIST with a train / validation / test split (the last 10 % of the shuffled
training images held out for validation); loss is what training minimises, accuracy (%) =
correct / total × 100 is the metric, measured on held-out images only. D3: the very same model
and training, unchanged, on Fashion-MNIST ("can the MNIST model classify clothes too?").
The model and training follow the study group's notebook: 784-128-10 ReLU, Adam lr 0.001,
batch 1024, 10 epochs."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from experiments.harness import over_seeds, plots, recipes
from experiments.harness.checks import at_least, below
from experiments.harness.contract import Experiment, Outcome, Workspace
from experiments.harness.stats import Dist, dist
from jaxnets import data, models, optim

DATASETS = {"D2 MNIST": "mnist", "D3 Fashion-MNIST": "fashion_mnist"}


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 10
    lr: float = 0.001
    batch_size: int = 1024
    hidden: tuple[int, ...] = (128,)
    valid_fraction: float = 0.1
    train_subset: int | None = None
    data_dir: str | None = None


def percent(accuracy: Dist) -> Dist:
    """Accuracy (%) = correct / total × 100, seed by seed."""
    return dist(100 * np.asarray(accuracy.values))


def run(cfg: Config, ws: Workspace) -> Outcome:
    runs, samples, splits = {}, {}, {}
    fig, axes = plots.figure(1, 2, figsize=(11, 4.2))
    for name, dataset in DATASETS.items():
        # Train / validation / test: the validation images come out of the training set.
        (x, y), test = data.load_float(dataset, cfg.data_dir, cfg.train_subset, cfg.seed)
        (xt, yt), (xv, yv) = data.split((x, y), (1 - cfg.valid_fraction, cfg.valid_fraction), cfg.seed)
        splits[name] = {"train": len(xt), "valid": len(xv), "test": len(test[0])}
        # The same model and training for both data sets.
        runs[name] = recipes.train_classifier(
            models.MLP((*cfg.hidden, 10)),
            optim.optimizer("adam", cfg.lr),
            (xt, yt),
            test,
            **recipes.settings(cfg),
            valid=(xv, yv),
            drop_last=False,  # the notebook's DataLoader keeps the last partial batch (53 steps, not 52)
            desc=name,
            **ws.checkpoint(dataset),
        )
        samples[name] = recipes.get_one_and_predict(
            {"prediction": runs[name].first_seed_state},
            test,
            seed=cfg.seed,
            out=ws.plots / f"get_one_and_predict_{dataset}.png",
            class_names=data.CLASS_NAMES[dataset],
            title=name,
        )
        fitted = runs[name].fitted
        epochs = np.arange(1, over_seeds.curve(fitted, "train_loss").shape[1] + 1)
        plots.band_line(
            axes[0], epochs, over_seeds.curve(fitted, "train_loss"), "o-", ms=3, label=f"{name}: train"
        )
        plots.band_line(
            axes[0], epochs, over_seeds.curve(fitted, "valid_loss"), "s--", ms=3, label=f"{name}: validation"
        )
        valid_pct = 100 * over_seeds.curve(fitted, "valid_accuracy")
        plots.band_line(axes[1], epochs, valid_pct, "o-", ms=3, label=f"{name}: validation")
        axes[1].axhline(
            100 * runs[name].held_out["accuracy"].mean,
            ls=":",
            color=axes[1].lines[-1].get_color(),
            label=f"{name}: test",
        )
    axes[0].set(title="Loss (what training minimises)", xlabel="epoch", ylabel="cross-entropy")
    axes[1].set(title="Metric: accuracy (%) on held-out images", xlabel="epoch", ylabel="accuracy (%)")
    for ax in axes:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    plots.save(fig, ws.plots / "mnist_vs_fashion.png")

    pct = {k: percent(r.held_out["accuracy"]) for k, r in runs.items()}
    valid_pct = {k: percent(over_seeds.last(r.fitted, "valid_accuracy")) for k, r in runs.items()}
    mnist, fashion = (pct[k] for k in DATASETS)
    fashion_minus_mnist = dist(np.subtract(fashion.values, mnist.values))
    return Outcome(
        history=recipes.history(runs, "dataset"),
        metrics={
            "test_accuracy_percent": pct,
            "valid_accuracy_percent": valid_pct,
            "test": {k: r.held_out for k, r in runs.items()},
            "split_sizes": splits,
            "get_one_and_predict": samples,
        },
        checks=[
            at_least(
                "D2 MNIST test accuracy (%)", mnist, 95, notes="96.42 (notebook, on its training images)"
            ),
            at_least("D3 Fashion-MNIST test accuracy (%)", fashion, 85, notes="(no number; humans ~83.5)"),
            below(
                "same model: Fashion-MNIST − MNIST (%)",
                fashion_minus_mnist,
                0,
                notes="clothes are harder",
            ),
        ],
        diverged=recipes.divergences(runs),
        log=[
            f"{k}: validation {valid_pct[k]:.2f} %, test {pct[k]:.2f} % ({splits[k]['train']} train / "
            f"{splits[k]['valid']} valid / {splits[k]['test']} test images)"
            for k in runs
        ]
        + [
            recipes.describe(s, data.CLASS_NAMES[DATASETS[k]]).replace("predict:", f"predict ({k}):")
            for k, s in samples.items()
        ],
    )


EXPERIMENT = Experiment(
    __name__,
    "D2-D3",
    "Train/validation/test accuracy (%) on MNIST and Fashion-MNIST",
    "784-128-10 ReLU, Adam lr 0.001, batch 1024, 10 epochs, 0.9/0.1 train/valid split; MNIST and Fashion",
    Config,
    run,
    ids=("D2", "D3"),
    quick={"train_subset": 5000, "epochs": 3, "batch_size": 100},
)

if __name__ == "__main__":
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
