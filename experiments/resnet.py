"""C6 (fastai ch. 4): ResNet-18 from scratch (no pretraining) on the 3s and 7s, as
``cnn_learner(dls, resnet18, pretrained=False)`` builds it: torchvision's body and init on the
images in RGB (the grey value in 3 channels), fastai's head (concat pooling, BatchNorm, dropout,
two linear layers); cross-entropy over the two classes, fastai's one-cycle schedule (Adam, max lr
0.1), one epoch at fastai's batch size 64."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

from experiments.harness import over_seeds, plots, recipes
from experiments.harness.checks import at_least
from experiments.harness.contract import Experiment, Outcome, Workspace
from jaxnets import data, models, optim


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 1
    lr: float = 0.1
    batch_size: int = 64
    train_subset: int | None = None
    data_dir: str | None = None


def run(cfg: Config, ws: Workspace) -> Outcome:
    train, valid = data.load_float("mnist_sample", cfg.data_dir, cfg.train_subset, cfg.seed)
    # learn = cnn_learner(dls, resnet18, pretrained=False); learn.fit_one_cycle(1, 0.1)
    steps = cfg.epochs * (len(train[0]) // cfg.batch_size)
    start = time.perf_counter()
    resnet = recipes.train_classifier(
        models.ResNet18(2, in_channels=3, head="fastai"),
        optim.one_cycle(cfg.lr, steps),
        train,
        valid,
        **recipes.settings(cfg),
        desc="ResNet-18",
        **ws.checkpoint("ResNet-18"),
    )
    seconds = time.perf_counter() - start
    acc = resnet.held_out["accuracy"]
    names = data.CLASS_NAMES["mnist_sample"]
    sample = recipes.get_one_and_predict(
        {"ResNet-18": resnet.first_seed_state},
        valid,
        seed=cfg.seed,
        out=ws.plots / "get_one_and_predict.png",
        class_names=names,
    )

    step_loss = resnet.fitted.steps["loss"].reshape(cfg.seeds, -1)  # seeds × steps
    window = min(10, step_loss.shape[1])
    smooth = np.array([np.convolve(loss, np.ones(window) / window, mode="valid") for loss in step_loss])
    plots.curves(
        ws.plots / "resnet18.png",
        {
            "batch loss": (np.arange(1, step_loss.shape[1] + 1), step_loss),
            f"mean of the last {window}": (np.arange(window, step_loss.shape[1] + 1), smooth),
        },
        title=f"ResNet-18, one cycle (max lr {cfg.lr:g}): valid accuracy {acc:.4f}",
        xlabel="step",
        ylabel="cross-entropy (log)",
        logy=True,
    )
    return Outcome(
        history=over_seeds.rows(resnet.fitted, cfg.seed),
        metrics={
            "valid": resnet.held_out,
            "get_one_and_predict": sample,
            "train_seconds": seconds,
            "steps": steps,
        },
        checks=[at_least(f"valid accuracy after {cfg.epochs} epoch(s)", acc, 0.99, notes=0.9951)],
        diverged=over_seeds.divergences(resnet.fitted, "ResNet-18", cfg.seed),
        log=[
            f"ResNet-18: valid accuracy {acc:.4f} after {steps} steps, {seconds:.1f} s (compile included)",
            recipes.describe(sample, names),
        ],
    )


EXPERIMENT = Experiment(
    __name__,
    "C6",
    "ResNet-18 from scratch, one cycle, one epoch",
    "ResNet-18 (no pretraining) on MNIST_SAMPLE, cross-entropy, one-cycle Adam max lr 0.1, 1 epoch",
    Config,
    run,
    quick={"train_subset": 1280, "batch_size": 32, "lr": 0.01},
)

if __name__ == "__main__":
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
