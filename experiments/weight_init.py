"""B7, B8, B9 (labs 09-1, 09-2): the MNIST MLP 784-256-256-10 with ReLU, Adam lr 0.001, batch 100,
15 epochs, three ways of initialising its weights: N(0, 1) (B7), Xavier uniform (B8) and He
normal (B9); biases keep PyTorch's default. Same data order and seed for all three.

The notes' test code feeds the test images unscaled (0-255, `test_data.float()`) while training on
/255 images; we report accuracy on /255 test images, and the unscaled variant beside it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import optax
from flax import linen as nn

from experiments.harness.outcome import get_one_and_predict
from jaxnets import data
from jaxnets.models import Linear
from jaxnets.train import classification_metrics, evaluate, train_model

ID = "B7-B9"
IDS = ("B7", "B8", "B9")
TITLE = "MNIST MLP: normal vs Xavier vs He initialisation"
SUMMARY = "784-256-256-10 ReLU, Adam lr 0.001, batch 100, 15 epochs; N(0,1), Xavier, He init"

# torch.nn.init.normal_ (B7), xavier_uniform_ (B8), kaiming_normal_ (B9), in Flax's words: the
# same distributions (He's untruncated, as PyTorch's; jax.nn.initializers.he_normal truncates).
INITS = {
    "B7 normal(0,1)": nn.initializers.normal(stddev=1.0),
    "B8 Xavier": nn.initializers.xavier_uniform(),
    "B9 He": nn.initializers.variance_scaling(2.0, "fan_in", "normal"),
}


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


QUICK = {"train_subset": 2000, "epochs": 2}


class MNISTNet(nn.Module):
    """The notes' nn layers 784-256-256-10, ``Sequential(linear1, relu, linear2, relu, linear3)``,
    each weight drawn by ``kernel_init``."""

    hidden: tuple[int, ...]
    kernel_init: nn.initializers.Initializer

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = x.reshape(len(x), -1)
        for width in self.hidden:
            x = nn.relu(Linear(width, kernel_init=self.kernel_init)(x))
        return Linear(10, kernel_init=self.kernel_init)(x)


def run(cfg: Config, ws) -> dict:
    # MNIST and its data loader: pixels /255, batch 100, shuffled, drop_last.
    train, test = data.load_float("mnist", cfg.data_dir, cfg.train_subset, cfg.seed)
    # Each lab: its model, cross-entropy and Adam, 15 epochs of the average cost; the same seeds.
    fits = {
        name: train_model(
            MNISTNet(cfg.hidden, init),
            optax.adam(cfg.lr),
            train,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            seeds=cfg.seeds,
            metrics_fn=classification_metrics,
            **ws.checkpoint(name),
        )
        for name, init in INITS.items()
    }
    # Test the model using test sets: /255 pixels, and unscaled as the notes' code feeds them.
    tested = {name: evaluate(fit.state, test) for name, fit in fits.items()}
    unscaled = {
        name: evaluate(fit.state, (test[0] * 255.0, test[1]))["accuracy"] for name, fit in fits.items()
    }
    return {
        "fits": fits,
        "test": tested,
        "test_accuracy_unscaled_pixels": unscaled,
        # The same seeds, hence the same batches: B8 against B7 seed by seed.
        "B8_minus_B7": np.subtract(tested["B8 Xavier"]["accuracy"], tested["B7 normal(0,1)"]["accuracy"]),
        "get_one_and_predict": get_one_and_predict(test, fits, cfg.seed),
    }


NOTES = {
    "B7 average cost at epoch 1": ("fits/B7 normal(0,1)/train_loss/1", "from 12.938 to 1293.8", 129.379852),
    "B7 average cost, epoch 1 → last": (
        "fits/B7 normal(0,1)/train_loss",
        "falls > 50x",
        [129.379852, 0.785691],
    ),
    "B7 test accuracy": ("test/B7 normal(0,1)/accuracy", "≥ 0.935", 0.9451),
    "B8 test accuracy": ("test/B8 Xavier/accuracy", "≥ 0.975", 0.9805),
    "B8 − B7 (each seed's pair)": ("B8_minus_B7", "> 0", 0.9805 - 0.9451),
    "B9 test accuracy vs B7": (("test/B9 He/accuracy", "test/B7 normal(0,1)/accuracy"), "B9 > B7", None),
}
