"""A5 (lab 07-1): the notes' remedies for overfitting, shown on a real task.

A 784-512-512-10 net on 2,400 MNIST images (a 0.8/0.1/0.1 split of a 3,000-image subset)
drives its training loss to ~0 while its validation loss turns upward: overfitting. Then:
early stopping on the validation loss, an L2 penalty λ·ΣW² added to the cost, a smaller
network, and "online learning" (training on chunk A, then going on with B, C, D).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
import optax
from flax import linen as nn

from jaxnets import data
from jaxnets.models import Linear
from jaxnets.train import classification_metrics, early_stopping, evaluate, fit, seed_keys, train_model

ID = "A5"
TITLE = "Regularization, data splits, early stopping, online learning"
SUMMARY = "MNIST subset: overfitting, then early stopping, L2, a smaller net, online learning"


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


QUICK = {"subset": 1000, "epochs": 6, "hidden": (64,), "chunk_epochs": 2}


class MLP(nn.Module):
    """784-…-10: for each hidden width nn.Linear → ReLU (PyTorch's default init), then
    nn.Linear(…, 10) to the class logits."""

    hidden: tuple[int, ...]

    @nn.compact
    def __call__(self, x):
        x = x.reshape(len(x), -1)  # .view(-1, 28 * 28)
        for width in self.hidden:
            x = nn.relu(Linear(width)(x))
        return Linear(10)(x)


def splits(cfg: Config):
    """The notes' Training / Validation / Test sets (0.8 / 0.1 / 0.1) of a random subset of
    MNIST's training images, pixels /255, on the device."""
    (images, labels), _ = data.load("mnist", cfg.data_dir)
    subset = np.random.default_rng(cfg.seed).permutation(len(images))[: cfg.subset]
    order = subset[np.random.default_rng(cfg.seed).permutation(cfg.subset)]
    x, y = images[order].astype(np.float32) / 255.0, labels[order]
    cuts = [round(0.8 * cfg.subset), round(0.9 * cfg.subset)]
    return [jax.device_put((xs, ys)) for xs, ys in zip(np.split(x, cuts), np.split(y, cuts), strict=True)]


def gap(fitted) -> np.ndarray:
    """Validation minus training loss at the last epoch: how far the net has overfit."""
    return fitted.history["valid_loss"][..., -1] - fitted.history["train_loss"][..., -1]


def run(cfg: Config, ws) -> dict:
    train, valid, test = splits(cfg)
    adam = optax.adam(cfg.lr)

    def train_net(hidden, dataset, epochs, **fit_kwargs):
        """Cross-entropy and Adam, batches of 100, shuffled, validated after each epoch; --seeds N:
        N initialisations stacked and trained as one program (every step vmapped over them)."""
        return train_model(
            MLP(hidden),
            adam,
            dataset,
            epochs=epochs,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            seeds=cfg.seeds,
            metrics_fn=classification_metrics,
            valid=valid,
            **fit_kwargs,
        )

    # 1. Overfitting: the big net, trained long. Its training loss heads for 0 while the
    #    validation loss, after its lowest point, climbs again.
    baseline = train_net(cfg.hidden, train, cfg.epochs)
    valid_loss = baseline.history["valid_loss"]  # (epochs,), or (seeds, epochs)

    # 2. Early stopping: stop once the validation loss has not improved for `patience` epochs,
    #    and go back to the net of its best epoch (none if every seed diverged in its first).
    stopper = early_stopping(cfg.patience)
    stopped = train_net(cfg.hidden, train, cfg.epochs, on_epoch=stopper)
    best_net = baseline.state if stopper.best["state"] is None else jax.device_put(stopper.best["state"])
    epochs_trained = stopped.history["epoch"].shape[-1]

    # 3. An L2 penalty: the cost + λ·ΣW² over the weight matrices (l2=λ, added in each step).
    l2 = train_net(cfg.hidden, train, cfg.epochs, l2=cfg.l2)

    # 4. A smaller network: 784-32-10.
    small = train_net(cfg.small_hidden, train, cfg.epochs)

    # 5. Online learning: the net trained on chunk A goes on with B, C, D, … (each seed's chunk i
    #    shuffled with the key of seed + i).
    size = len(train[0]) // cfg.chunks
    chunks = [tuple(a[i * size : (i + 1) * size] for a in train) for i in range(cfg.chunks)]
    online = {"A": train_net(cfg.hidden, chunks[0], cfg.chunk_epochs)}
    net = online["A"].state
    for i, chunk in enumerate(chunks[1:], 1):
        keys = seed_keys(range(cfg.seed + i, cfg.seed + i + cfg.seeds))
        went_on = fit(net, chunk, epochs=cfg.chunk_epochs, batch_size=cfg.batch_size, key=keys, valid=valid)
        online["ABCDEFGH"[i]], net = went_on, went_on.state
    online_accuracy = [o.history["valid_accuracy"][..., -1] for o in online.values()]

    return {
        "fits": {"baseline": baseline, "early_stop": stopped, "l2": l2, "small": small},
        "baseline": {
            "valid_loss_last_over_lowest": valid_loss[..., -1] / valid_loss.min(axis=-1),
            "train_over_valid_loss": baseline.history["train_loss"][..., -1] / valid_loss[..., -1],
        },
        "baseline_test": evaluate(baseline.state, test),
        "early_stopped_test": evaluate(best_net, test),
        "best_epoch": np.asarray(stopper.best["epoch"], float),
        "stopped_at": epochs_trained,
        "stopped_early": epochs_trained < cfg.epochs,
        "gaps_valid_minus_train": {"baseline": gap(baseline), "L2": gap(l2), "small": gap(small)},
        "online_valid_accuracy": online_accuracy,
        "online_first_and_last_chunk": [online_accuracy[0], online_accuracy[-1]],
        "history": [
            {"run": "online", "chunk": chunk, "seed": cfg.seed + k, **row}
            for chunk, o in online.items()
            for k, rows in enumerate(o.rows if o.runs else [o.rows])
            for row in rows
        ],
        "log": [
            "online learning: validation accuracy after chunk "
            + ", ".join(f"{c} {np.mean(a):.4f}" for c, a in zip(online, online_accuracy, strict=True))
        ],
    }


NOTES = {
    "baseline overfits: last / lowest validation loss": (
        ("baseline/valid_loss_last_over_lowest", "baseline/train_over_valid_loss"),
        ["> 1.1", "< 0.01"],
        "(text only)",
    ),
    "early stopping: test loss at best epoch vs baseline's last": (
        ("early_stopped_test/loss", "baseline_test/loss"),
        "best < last",
        "(text only)",
    ),
    "early stopping: stopped before the last epoch": ("stopped_early", "= True", "(text only)"),
    "L2 penalty: validation - train loss gap vs baseline": (
        ("gaps_valid_minus_train/L2", "gaps_valid_minus_train/baseline"),
        "L2 < baseline",
        "(text only)",
    ),
    "smaller net: validation - train loss gap vs baseline": (
        ("gaps_valid_minus_train/small", "gaps_valid_minus_train/baseline"),
        "smaller net < baseline",
        "(text only)",
    ),
    "online learning: validation accuracy after first → last chunk": (
        "online_first_and_last_chunk",
        "rises",
        "(text only)",
    ),
}
