"""C6 (fastai ch. 4): ResNet-18 from scratch (no pretraining) on the 3s and 7s, as
``cnn_learner(dls, resnet18, pretrained=False)`` builds it: torchvision's body and init on the
images in RGB (the grey value in 3 channels), fastai's head (concat pooling, BatchNorm, dropout,
two linear layers); cross-entropy over the two classes, fastai's one-cycle schedule (Adam, max lr
0.1), one epoch at fastai's batch size 64."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from experiments.harness import plots
from experiments.harness.outcome import get_one_and_predict
from jaxnets import data, models, optim
from jaxnets.train import classification_metrics, train_model

ID = "C6"
TITLE = "ResNet-18 from scratch, one cycle, one epoch"
SUMMARY = "ResNet-18 (no pretraining) on MNIST_SAMPLE, cross-entropy, one-cycle Adam max lr 0.1, 1 epoch"


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 1
    lr: float = 0.1
    batch_size: int = 64
    train_subset: int | None = None
    data_dir: str | None = None


QUICK = {"train_subset": 1280, "batch_size": 32, "lr": 0.01}


def run(cfg: Config, ws) -> dict:
    # dls = ImageDataLoaders.from_folder(path): the 3s and 7s, pixels /255, batches of 64,
    # shuffled, the last partial one dropped.
    train, valid = data.load_float("mnist_sample", cfg.data_dir, cfg.train_subset, cfg.seed)
    # learn = cnn_learner(dls, resnet18, pretrained=False, loss_func=F.cross_entropy, metrics=accuracy)
    resnet18 = models.ResNet18(2, in_channels=3, head="fastai")
    # learn.fit_one_cycle(1, 0.1): fastai's Adam, its learning rate and momentum along one cycle
    # over every step; --seeds N trains N seeds as one program.
    steps = cfg.epochs * (len(train[0]) // cfg.batch_size)
    start = time.perf_counter()
    fit = train_model(
        resnet18,
        optim.one_cycle(cfg.lr, steps),
        train,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        seeds=cfg.seeds,
        metrics_fn=classification_metrics,
        valid=valid,
        desc="ResNet-18",
        **ws.checkpoint("ResNet-18"),
    )
    seconds = time.perf_counter() - start

    # learn.recorder.plot_loss(): the loss of every batch, and its running mean.
    step_loss = np.reshape(fit.steps["loss"], (cfg.seeds, -1))  # (seeds, steps)
    window = min(10, step_loss.shape[1])
    smooth = np.array([np.convolve(loss, np.ones(window) / window, mode="valid") for loss in step_loss])
    accuracy = fit.history["valid_accuracy"][..., -1]
    plots.curves(
        ws.plots / "resnet18.png",
        {
            "batch loss": (np.arange(1, step_loss.shape[1] + 1), step_loss),
            f"mean of the last {window}": (np.arange(window, step_loss.shape[1] + 1), smooth),
        },
        title=f"ResNet-18, one cycle (max lr {cfg.lr:g}): valid accuracy {np.mean(accuracy):.4f}",
        xlabel="step",
        ylabel="cross-entropy (log)",
        logy=True,
    )
    fits = {"ResNet-18": fit}
    return {
        "fits": fits,
        "valid": {"accuracy": accuracy, "loss": fit.history["valid_loss"][..., -1]},
        "train_seconds": seconds,
        "steps": steps,
        # learn.predict on one validation image (label 0 is a 7, 1 a 3)
        "get_one_and_predict": {**get_one_and_predict(valid, fits, cfg.seed), "classes": ("7", "3")},
    }


NOTES = {"valid accuracy after 1 epoch(s)": ("valid/accuracy", "≥ 0.99", 0.9951)}
