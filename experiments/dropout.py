"""B10 (lab 09-3): dropout. 784-512-512-512-512-10 with ReLU, Xavier init and Dropout(p=0.3)
after each hidden ReLU, Adam lr 0.001, batch 100, 15 epochs. Dropout is on in training (a fresh
mask every step, from ``fold_in(key, step)``) and off in evaluation. The same net without
dropout is trained beside it for comparison."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import optax
from flax import linen as nn

from experiments.harness.outcome import get_one_and_predict
from jaxnets import data
from jaxnets.models import Linear
from jaxnets.train import classification_metrics, evaluate, train_model

ID = "B10"
TITLE = "Dropout on a deep MNIST MLP"
SUMMARY = "784-512x4-10 ReLU, Xavier, dropout 0.3, Adam lr 0.001, batch 100, 15 epochs (vs no dropout)"


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 15
    lr: float = 0.001
    batch_size: int = 100
    hidden: tuple[int, ...] = (512, 512, 512, 512)
    drop_prob: float = 0.3
    compare_without: bool = True
    train_subset: int | None = None
    data_dir: str | None = None


QUICK = {"train_subset": 2000, "epochs": 2, "hidden": (128, 128), "compare_without": False}


class DropoutNet(nn.Module):
    """The lab's ``Sequential(linear1, relu, dropout, …, linear4, relu, dropout, linear5)``: each
    hidden layer Linear → ReLU → Dropout(p), every weight Xavier-uniform."""

    hidden: tuple[int, ...]
    drop_prob: float

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = x.reshape(len(x), -1)
        for width in self.hidden:
            x = nn.relu(Linear(width, kernel_init=nn.initializers.xavier_uniform())(x))
            # model.train(): a fresh mask every step; model.eval(): every unit kept.
            x = nn.Dropout(self.drop_prob, deterministic=not train)(x)
        return Linear(10, kernel_init=nn.initializers.xavier_uniform())(x)


def run(cfg: Config, ws) -> dict:
    train, test = data.load_float("mnist", cfg.data_dir, cfg.train_subset, cfg.seed)
    probs = {"dropout": cfg.drop_prob, **({"no dropout": 0.0} if cfg.compare_without else {})}
    # Cross-entropy and Adam, batches of 100, shuffled; --seeds N trains N seeds as one program.
    fits = {
        name: train_model(
            DropoutNet(cfg.hidden, p),
            optax.adam(cfg.lr),
            train,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            seeds=cfg.seeds,
            metrics_fn=classification_metrics,
            **ws.checkpoint(name),
        )
        for name, p in probs.items()
    }
    # Test the model with dropout off (evaluate: train=False), twice: the same numbers.
    tested = {name: evaluate(fit.state, test) for name, fit in fits.items()}
    again = evaluate(fits["dropout"].state, test)
    on_train = {name: evaluate(fit.state, train) for name, fit in fits.items()}
    return {
        "fits": fits,
        "test": tested,
        "train_eval_mode": on_train,
        "train_minus_test_accuracy": {
            k: np.subtract(on_train[k]["accuracy"], tested[k]["accuracy"]) for k in fits
        },
        "evaluation_is_deterministic": all(np.array_equal(again[k], tested["dropout"][k]) for k in again),
        "get_one_and_predict": get_one_and_predict(test, fits, cfg.seed),
    }


NOTES = {
    "test accuracy with dropout": ("test/dropout/accuracy", "≥ 0.975", "~0.98 (original lab)"),
    "evaluation is deterministic (dropout off)": ("evaluation_is_deterministic", "= True", None),
}
