"""A5 (lab 07-1): the notes' remedies for overfitting, shown on a real task.

A 784-512-512-10 net on 2,400 MNIST images (a 0.8/0.1/0.1 split of a 3,000-image subset)
drives its training loss to ~0 while its validation loss turns upward: overfitting. Then:
early stopping on the validation loss, an L2 penalty λ·ΣW² added to the cost, a smaller
network, and "online learning" (training on chunk A, then going on with B, C, D).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments.experiment import Experiment, Outcome, Workspace
from jaxnets import data, models, optim, plots
from jaxnets.checks import holds
from jaxnets.loop import FitResult, histories
from jaxnets.metrics import classification_metrics
from jaxnets.steps import evaluate
from jaxnets.train import early_stopping, fit, train_model


@dataclass(frozen=True)
class Config:
    seed: int = 0
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


def _gap(fitted: FitResult) -> float:
    """Validation minus training loss at the last epoch: how far the net has overfit."""
    return fitted.history[-1]["valid_loss"] - fitted.history[-1]["train_loss"]


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
            epochs,
            cfg.batch_size,
            cfg.seed,
            metrics_fn=classification_metrics,
            l2=l2,
            valid=valid,
            **kw,
        )

    # Overfitting, and three remedies: early stopping, an L2 penalty, a smaller net.
    base = train_net(cfg.hidden, cfg.epochs, desc="baseline")
    stopper = early_stopping(cfg.patience)
    stopped = train_net(cfg.hidden, cfg.epochs, on_epoch=stopper, desc="early stopping")
    best_state = jax.device_put(stopper.best["state"])
    l2 = train_net(cfg.hidden, cfg.epochs, l2=cfg.l2, desc="L2")
    small = train_net(cfg.small_hidden, cfg.epochs, desc="small net")

    # Online learning: the same net meets the training data one chunk at a time.
    chunk_size = len(train[0]) // cfg.chunks
    chunks = [tuple(a[i * chunk_size : (i + 1) * chunk_size] for a in train) for i in range(cfg.chunks)]
    online_acc, online_hist, state = [], [], None
    for i, chunk in enumerate(chunks):
        if state is None:
            result = train_net(cfg.hidden, cfg.chunk_epochs, data_=chunk, desc="online A")
        else:
            result = fit(
                state, chunk, cfg.chunk_epochs, cfg.batch_size, jax.random.key(cfg.seed + i), valid=valid
            )
        state = result.state
        online_acc.append(result.history[-1]["valid_accuracy"])
        online_hist += [{"run": "online", "chunk": "ABCDEFGH"[i], **row} for row in result.history]

    base_min = min(h["valid_loss"] for h in base.history)
    base_last = base.history[-1]
    base_test, best_test = evaluate(base.state, test), evaluate(best_state, test)
    gaps = {"baseline": _gap(base), "L2": _gap(l2), "small": _gap(small)}

    fig, axes = plots.figure(2, 2, figsize=(11, 8))
    ep = [h["epoch"] for h in base.history]
    ax = axes[0, 0]
    ax.plot(ep, [h["train_loss"] for h in base.history], label="train")
    ax.plot(ep, [h["valid_loss"] for h in base.history], label="validation")
    ax.axvline(stopper.best["epoch"], color="green", ls=":", label="best epoch (early stopping)")
    ax.set(
        title=f"Overfitting: {'-'.join(map(str, (784, *cfg.hidden, 10)))}",
        xlabel="epoch",
        ylabel="cross-entropy",
        yscale="log",
    )
    ax.legend()
    for ax, (name, other) in zip(axes.flat[1:3], (("L2 penalty", l2), ("smaller net", small)), strict=True):
        for label, run_ in (("baseline", base), (name, other)):
            h = run_.history
            (line,) = ax.plot(ep[: len(h)], [r["valid_loss"] for r in h], label=f"{label}: valid")
            ax.plot(
                ep[: len(h)],
                [r["train_loss"] for r in h],
                ls="--",
                color=line.get_color(),
                label=f"{label}: train",
            )
        ax.set(title=f"Baseline vs {name}", xlabel="epoch", ylabel="cross-entropy", yscale="log")
        ax.legend(fontsize=8)
    ax = axes[1, 1]
    ax.plot(range(1, cfg.chunks + 1), online_acc, "o-")
    ax.set(
        title="Online learning: validation accuracy after each chunk",
        xlabel="chunks seen",
        ylabel="validation accuracy",
        xticks=range(1, cfg.chunks + 1),
    )
    plots.save(fig, ws.plots / "regularization.png")

    runs = {"baseline": base, "early_stop": stopped, "l2": l2, "small": small}
    return Outcome(
        history=histories({k: r.history for k, r in runs.items()}) + online_hist,
        metrics={
            "baseline_test": base_test,
            "early_stopped_test": best_test,
            "best_epoch": stopper.best["epoch"],
            "stopped_at": len(stopped.history),
            "gaps_valid_minus_train": gaps,
            "online_valid_accuracy": online_acc,
        },
        checks=[
            holds(
                "baseline overfits: last / lowest validation loss",
                base_last["valid_loss"] / base_min,
                "> 1.1 while train loss < 1 % of validation loss",
                base_last["valid_loss"] > 1.1 * base_min
                and base_last["train_loss"] < 0.01 * base_last["valid_loss"],
                notes="(text only)",
            ),
            holds(
                "early stopping: test loss at best epoch vs baseline's last",
                [best_test["loss"], base_test["loss"]],
                "lower, stopped early",
                best_test["loss"] < base_test["loss"] and len(stopped.history) < cfg.epochs,
                notes="(text only)",
            ),
            holds(
                "L2 penalty: validation - train loss gap vs baseline",
                [gaps["L2"], gaps["baseline"]],
                "smaller",
                gaps["L2"] < gaps["baseline"],
                notes="(text only)",
            ),
            holds(
                "smaller net: validation - train loss gap vs baseline",
                [gaps["small"], gaps["baseline"]],
                "smaller",
                gaps["small"] < gaps["baseline"],
                notes="(text only)",
            ),
            holds(
                "online learning: validation accuracy after first → last chunk",
                [online_acc[0], online_acc[-1]],
                "rises",
                online_acc[-1] > online_acc[0],
                notes="(text only)",
            ),
        ],
        diverged={k: r.diverged for k, r in runs.items()},
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
    sys.exit(EXPERIMENT.main(sys.argv[1:]))
