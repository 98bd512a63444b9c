"""B11 (lab 09-4, homework Q1-1): batch normalisation. 784-100-100-10 with, for each hidden
layer, Linear → BatchNorm → ReLU → Dropout(0.3); Xavier init, Adam, batch 100, 15 epochs.
BatchNorm normalises with the batch's statistics in training and with running averages in
evaluation. The same net without BatchNorm is trained beside it, at the homework's learning
rate 0.1 and at the lab's own 0.01."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import optax
from flax import linen as nn

from experiments.harness.outcome import get_one_and_predict
from jaxnets import data
from jaxnets.models import BatchNorm, Linear
from jaxnets.train import classification_metrics, evaluate, train_model

ID = "B11"
TITLE = "Batch normalisation vs none, at lr 0.1 and 0.01"
SUMMARY = "784-100-100-10, Linear-BN-ReLU-Dropout(0.3), Xavier, Adam lr 0.1 (and 0.01), 15 epochs; vs no BN"


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 15
    lrs: tuple[float, ...] = (0.1, 0.01)
    batch_size: int = 100
    hidden: tuple[int, ...] = (100, 100)
    drop_prob: float = 0.3
    train_subset: int | None = None
    data_dir: str | None = None


QUICK = {"train_subset": 2000, "epochs": 2, "lrs": (0.01,)}


class BNNet(nn.Module):
    """The homework's ``torch.nn.Sequential(linear1, bn1, relu, dropout, linear2, bn2, relu,
    dropout, linear3)``, every weight Xavier-uniform; ``batch_norm=False`` is the lab's
    ``nn_model``, the same layers without ``bn1`` and ``bn2``."""

    hidden: tuple[int, ...]
    drop_prob: float
    batch_norm: bool = True

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = x.reshape(len(x), -1)  # X.view(-1, 28 * 28)
        for width in self.hidden:
            x = Linear(width, kernel_init=nn.initializers.xavier_uniform())(x)
            if self.batch_norm:
                # bn_model.train(): the batch's mean and variance, averaged into batch_stats;
                # bn_model.eval(): those running averages (PyTorch's BatchNorm1d).
                x = BatchNorm(use_running_average=not train)(x)
            x = nn.Dropout(self.drop_prob, deterministic=not train)(nn.relu(x))
        return Linear(10, kernel_init=nn.initializers.xavier_uniform())(x)


def run(cfg: Config, ws) -> dict:
    # MNIST; train_loader: batch 100, shuffled, drop_last.
    train, test = data.load_float("mnist", cfg.data_dir, cfg.train_subset, cfg.seed)
    # At each learning rate bn_model and nn_model, each with its own Adam, on the same batches
    # (the same seed); cross-entropy is train_model's loss; --seeds N: N seeds as one program.
    nets = {
        f"{'BN' if bn else 'no BN'}, lr {lr:g}": (BNNet(cfg.hidden, cfg.drop_prob, batch_norm=bn), lr)
        for lr in cfg.lrs
        for bn in (True, False)
    }
    fits = {
        name: train_model(
            net,
            optax.adam(lr),
            train,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            seeds=cfg.seeds,
            metrics_fn=classification_metrics,
            **ws.checkpoint(name),
        )
        for name, (net, lr) in nets.items()
    }
    # model.eval(): running averages, no dropout; the accuracy over the test set.
    tested = {name: evaluate(fit.state, test) for name, fit in fits.items()}
    acc = {name: t["accuracy"] for name, t in tested.items()}
    cost = {name: np.asarray(fit.history["train_loss"])[..., -1] for name, fit in fits.items()}  # avg_cost
    # Running averages do not depend on the batch: the same accuracy in test batches of 7.
    bn = f"BN, lr {cfg.lrs[0]:g}"
    in_sevens = evaluate(fits[bn].state, test, batch_size=7)["accuracy"]
    return {
        "fits": fits,
        "test": tested,
        "last_epoch_train_cost": cost,
        # bn_model's test accuracy − nn_model's, at each learning rate of lrs
        "BN_minus_no_BN_test_accuracy": np.stack(
            [np.subtract(acc[f"BN, lr {lr:g}"], acc[f"no BN, lr {lr:g}"]) for lr in cfg.lrs], -1
        ),
        "BN_eval_batch_of_7_vs_1000": float(np.max(np.abs(np.subtract(in_sevens, acc[bn])))),
        "get_one_and_predict": get_one_and_predict(test, fits, cfg.seed),
    }


NOTES = {
    "test accuracy BN − no BN, at each lr (0.1, 0.01)": (
        "BN_minus_no_BN_test_accuracy",
        "> 0",
        "(no figure) BN allows larger learning rates",
    ),
    "BN eval: |test accuracy in batches of 1000 − in batches of 7|, largest over seeds": (
        "BN_eval_batch_of_7_vs_1000",
        "< 1e-6",
        "running averages in evaluation",
    ),
}
