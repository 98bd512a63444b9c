"""B1, B2 (labs 07-2, 09-1): softmax regression on MNIST. ``linear = torch.nn.Linear(784, 10,
bias=True)`` on the images flattened (``X.view(-1, 28 * 28)``), ``CrossEntropyLoss`` (the softmax
is inside it), batch 100, 15 epochs; B1 steps it with SGD at lr 0.1 (07-2), B2 with Adam at lr
0.001 (09-1: "the difference from 07-2 is the Adam optimizer")."""

from __future__ import annotations

from dataclasses import dataclass

import optax
from flax import linen as nn

from experiments.harness.outcome import get_one_and_predict
from jaxnets import data
from jaxnets.models import Linear
from jaxnets.train import classification_metrics, evaluate, train_model

ID = "B1-B2"
IDS = ("B1", "B2")
TITLE = "MNIST softmax regression: SGD vs Adam"
SUMMARY = "Linear(784,10), cross-entropy, batch 100, 15 epochs; SGD lr 0.1 (B1), Adam lr 0.001 (B2)"


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 15
    batch_size: int = 100
    sgd_lr: float = 0.1
    adam_lr: float = 0.001
    train_subset: int | None = None
    data_dir: str | None = None


QUICK = {"train_subset": 3000, "epochs": 2}


class SoftmaxRegression(nn.Module):
    """The lab's ``linear``: one ``Linear(784, 10)`` (PyTorch's default init) on each image
    flattened; its outputs are the logits (the loss applies the softmax)."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        return Linear(10)(x.reshape(len(x), -1))  # X.view(-1, 28 * 28)


def run(cfg: Config, ws) -> dict:
    # MNIST (ToTensor: pixels /255) and its data_loader: batch 100, shuffled, drop_last.
    train, test = data.load_float("mnist", cfg.data_dir, cfg.train_subset, cfg.seed)
    # 07-2's optimizer, then 09-1's; each lab its own script from the same seed (the same first
    # weights and batches). Cross-entropy is train_model's loss; --seeds N: N seeds as one program.
    optimizers = {"B1 SGD": optax.sgd(cfg.sgd_lr), "B2 Adam": optax.adam(cfg.adam_lr)}
    fits = {
        name: train_model(
            SoftmaxRegression(),
            tx,
            train,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            seeds=cfg.seeds,
            metrics_fn=classification_metrics,
            **ws.checkpoint(name),
        )
        for name, tx in optimizers.items()
    }
    # Test the model using test sets (/255 pixels), then get one and predict.
    return {
        "fits": fits,
        "test": {name: evaluate(fit.state, test) for name, fit in fits.items()},
        "get_one_and_predict": get_one_and_predict(test, fits, cfg.seed),
    }


NOTES = {
    "B1 (SGD) test accuracy": ("test/B1 SGD/accuracy", "≥ 0.90", "~0.90-0.92 (no figure)"),
    "B2 (Adam) test accuracy": ("test/B2 Adam/accuracy", "≥ 0.91", None),
}
