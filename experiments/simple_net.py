"""C5 (fastai ch. 4): a simple neural net for 3 vs 7, 784-30-1 with a ReLU between the two
linear layers (PyTorch's default init), ``mnist_loss``, plain SGD lr 0.1, batch 256, 40 epochs,
printed epoch by epoch like fastai's ``Learner.fit``."""

from __future__ import annotations

from dataclasses import dataclass

import optax
from flax import linen as nn

from experiments.harness import toy_data
from jaxnets import data, losses
from jaxnets.models import Linear
from jaxnets.train import epoch_table, logit_binary_metrics, train_model

ID = "C5"
TITLE = "Simple net 784-30-1 on 3 vs 7"
SUMMARY = "784-30-1 ReLU, mnist_loss, SGD lr 0.1, batch 256, 40 epochs on MNIST_SAMPLE"


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 40
    lr: float = 0.1
    batch_size: int = 256
    hidden: int = 30
    data_dir: str | None = None


QUICK = {"epochs": 5}


class SimpleNet(nn.Module):
    """The book's ``simple_net = nn.Sequential(nn.Linear(28*28, 30), nn.ReLU(), nn.Linear(30, 1))``,
    each Linear with PyTorch's default init."""

    hidden: int = 30

    @nn.compact
    def __call__(self, x):
        x = nn.relu(Linear(self.hidden)(x))
        return Linear(1)(x)


def run(cfg: Config, ws) -> dict:
    # The book's dls = DataLoaders(dl, valid_dl): every 3, then every 7, as rows of 784 pixels,
    # batches of 256 in order (unshuffled), the last one partial.
    (x, y), (xv, yv) = map(toy_data.threes_then_sevens, data.load_float("mnist_sample", cfg.data_dir))
    train, valid = (x.reshape(-1, 28 * 28), y), (xv.reshape(-1, 28 * 28), yv)
    # learn = Learner(dls, simple_net, opt_func=SGD, loss_func=mnist_loss, metrics=batch_accuracy)
    # learn.fit(40, 0.1): fastai's SGD without momentum is optax.sgd; the metric averaged over the
    # validation examples; --seeds N trains N seeds as one program.
    fit = train_model(
        SimpleNet(cfg.hidden),
        optax.sgd(cfg.lr),
        train,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        seeds=cfg.seeds,
        loss_fn=losses.mnist_loss,
        metrics_fn=logit_binary_metrics,
        valid=valid,
        shuffle=False,
        drop_last=False,
        on_epoch=epoch_table(),  # the epoch table learn.fit prints
    )
    return {
        "fits": {"simple_net": fit},
        "valid_accuracy": fit.history["valid_accuracy"][..., -1],
        "valid_loss": fit.history["valid_loss"][..., -1],
    }


NOTES = {"valid accuracy after 40 epochs": ("valid_accuracy", "≥ 0.975", 0.9828)}
