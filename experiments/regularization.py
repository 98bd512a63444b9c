"""A5 (lab 07-1): the notes' remedies for overfitting, shown on a real task.

A 784-512-512-10 net on 2,400 MNIST images (a 0.8/0.1/0.1 split of a 3,000-image subset)
drives its training loss to ~0 while its validation loss turns upward: overfitting. Then:
early stopping on the validation loss, an L2 penalty λ·ΣW² added to the cost, a smaller
network, and "online learning" (training on chunk A, then going on with B, C, D).
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments.harness import over_seeds, plots
from experiments.harness.checks import above, all_of, below, less, rises
from experiments.harness.contract import Experiment, Outcome, Workspace
from experiments.harness.stats import Dist, dist
from jaxnets import data, models, optim
from jaxnets.loop import seed_keys
from jaxnets.metrics import classification_metrics
from jaxnets.record import FitResult
from jaxnets.train import early_stopping, fit, train_model


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    subset: int = 3000
    epochs: int = 60
    lr: float = 1e-3
    batch_size: int = 100
    hidden: tuple[int, ...] = (512, 512)
    small_hidden: tuple[int, ...] = (32,)
    l2: float = 1e-3
    patience: int = 5
    chunks: int = 4
    chunk_epochs: int = 10
    data_dir: str | None = None


def _gap(fitted: FitResult) -> Dist:
    """Validation minus training loss at the last epoch: how far the net has overfit."""
    return dist(
        np.subtract(
            over_seeds.last(fitted, "valid_loss").values, over_seeds.last(fitted, "train_loss").values
        )
    )


def run(cfg: Config, ws: Workspace) -> Outcome:
    # The data: a 3,000-image MNIST subset split into train / validation / test (0.8 / 0.1 / 0.1).
    (images, labels), _ = data.load("mnist", cfg.data_dir)
    pick = np.random.default_rng(cfg.seed).permutation(len(images))[: cfg.subset]
    train, valid, test = (
        (jnp.asarray(data.to_float(x)), jnp.asarray(y))
        for x, y in data.split((images[pick], labels[pick]), (0.8, 0.1, 0.1), cfg.seed)
    )

    def train_net(hidden, epochs, l2=0.0, data_=train, **kw):
        return train_model(
            models.MLP((*hidden, 10)),
            optim.optimizer("adam", cfg.lr),
            data_,
            epochs=epochs,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            metrics_fn=classification_metrics,
            l2=l2,
            seeds=cfg.seeds,
            valid=valid,
            **kw,
        )

    # Overfitting, and three remedies: early stopping, an L2 penalty, a smaller net.
    base = train_net(cfg.hidden, cfg.epochs, desc="baseline")
    stopper = early_stopping(cfg.patience)
    stopped = train_net(cfg.hidden, cfg.epochs, on_epoch=stopper, desc="early stopping")
    # Every seed diverged in its first epoch (a huge --lr): there is no best epoch to go back to.
    best_state = base.state if stopper.best["state"] is None else jax.device_put(stopper.best["state"])
    l2 = train_net(cfg.hidden, cfg.epochs, l2=cfg.l2, desc="L2")
    small = train_net(cfg.small_hidden, cfg.epochs, desc="small net")

    # Online learning: the same net meets the training data one chunk at a time (each seed's
    # chunk i shuffled with the key of seed + i, as its single run would be).
    chunk_size = len(train[0]) // cfg.chunks
    chunks = [tuple(a[i * chunk_size : (i + 1) * chunk_size] for a in train) for i in range(cfg.chunks)]
    online_acc, online_hist, state = [], [], None
    for i, chunk in enumerate(chunks):
        if state is None:
            result = train_net(cfg.hidden, cfg.chunk_epochs, data_=chunk, desc="online A")
        else:
            keys = seed_keys(range(cfg.seed + i, cfg.seed + i + cfg.seeds))
            result = fit(
                state, chunk, epochs=cfg.chunk_epochs, batch_size=cfg.batch_size, key=keys, valid=valid
            )
        state = result.state
        online_acc.append(over_seeds.last(result, "valid_accuracy"))
        online_hist += [
            {"run": "online", "chunk": "ABCDEFGH"[i], **row} for row in over_seeds.rows(result, cfg.seed)
        ]

    base_valid = over_seeds.curve(base, "valid_loss")
    with warnings.catch_warnings():  # a seed diverged from its first epoch has no finite minimum
        warnings.simplefilter("ignore", RuntimeWarning)
        base_min = dist(np.nanmin(base_valid, axis=1))
    base_last = over_seeds.last(base, "valid_loss")
    overfit = dist(np.divide(base_last.values, base_min.values))
    train_share = dist(np.divide(over_seeds.last(base, "train_loss").values, base_last.values))
    base_test = over_seeds.evaluate(base, test)
    best_test = over_seeds.evaluate(best_state, test)
    gaps = {"baseline": _gap(base), "L2": _gap(l2), "small": _gap(small)}

    fig, axes = plots.figure(2, 2, figsize=(11, 8))
    ep = np.arange(1, base_valid.shape[1] + 1)
    ax = axes[0, 0]
    plots.band_line(ax, ep, over_seeds.curve(base, "train_loss"), logy=True, label="train")
    plots.band_line(ax, ep, base_valid, logy=True, label="validation")
    ax.axvline(np.median(stopper.best["epoch"]), color="green", ls=":", label="best epoch (early stopping)")
    ax.set(
        title=f"Overfitting: {'-'.join(map(str, (784, *cfg.hidden, 10)))}",
        xlabel="epoch",
        ylabel="cross-entropy",
        yscale="log",
    )
    ax.legend(fontsize=8)
    for ax, (name, other) in zip(axes.flat[1:3], (("L2 penalty", l2), ("smaller net", small)), strict=True):
        for color, (label, run_) in enumerate((("baseline", base), (name, other))):
            style = {"logy": True, "color": f"C{color}"}
            plots.band_line(ax, ep, over_seeds.curve(run_, "valid_loss"), label=f"{label}: valid", **style)
            plots.band_line(
                ax, ep, over_seeds.curve(run_, "train_loss"), "--", label=f"{label}: train", **style
            )
        ax.set(title=f"Baseline vs {name}", xlabel="epoch", ylabel="cross-entropy", yscale="log")
        ax.legend(fontsize=7)
    ax = axes[1, 1]
    chunks_seen = np.arange(1, cfg.chunks + 1)
    plots.band_line(ax, chunks_seen, np.array([a.values for a in online_acc]).T, "o-")
    ax.set(
        title="Online learning: validation accuracy after each chunk",
        xlabel="chunks seen",
        ylabel="validation accuracy",
        xticks=chunks_seen,
    )
    plots.save(fig, ws.plots / "regularization.png")

    runs = {"baseline": base, "early_stop": stopped, "l2": l2, "small": small}
    return Outcome(
        history=[{"run": k, **row} for k, r in runs.items() for row in over_seeds.rows(r, cfg.seed)]
        + online_hist,
        metrics={
            "baseline_test": base_test,
            "early_stopped_test": best_test,
            "best_epoch": dist(np.ravel(stopper.best["epoch"])),
            "stopped_at": len(stopped.per_run()[0].rows),
            "gaps_valid_minus_train": gaps,
            "online_valid_accuracy": online_acc,
        },
        checks=[
            all_of(
                "baseline overfits: last / lowest validation loss",
                overfit,
                [above("it", overfit, 1.1), below("train / validation loss", train_share, 0.01)],
                notes="(text only)",
            ),
            all_of(
                "early stopping: test loss at best epoch vs baseline's last",
                [best_test["loss"], base_test["loss"]],
                [
                    less("loss", best_test["loss"], base_test["loss"], ("best", "last")),
                    below("epochs trained", len(stopped.per_run()[0].rows), cfg.epochs),
                ],
                notes="(text only)",
            ),
            less(
                "L2 penalty: validation - train loss gap vs baseline",
                gaps["L2"],
                gaps["baseline"],
                ("L2", "baseline"),
                notes="(text only)",
            ),
            less(
                "smaller net: validation - train loss gap vs baseline",
                gaps["small"],
                gaps["baseline"],
                ("smaller net", "baseline"),
                notes="(text only)",
            ),
            rises(
                "online learning: validation accuracy after first → last chunk",
                online_acc[0],
                online_acc[-1],
                notes="(text only)",
            ),
        ],
        diverged={
            name: d for k, r in runs.items() for name, d in over_seeds.divergences(r, k, cfg.seed).items()
        },
    )


EXPERIMENT = Experiment(
    __name__,
    "A5",
    "Regularization, data splits, early stopping, online learning",
    "MNIST subset: overfitting, then early stopping, L2, a smaller net, online learning",
    Config,
    run,
    quick={"subset": 1000, "epochs": 6, "hidden": (64,), "chunk_epochs": 2},
)

if __name__ == "__main__":
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
