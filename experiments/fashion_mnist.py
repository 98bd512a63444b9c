"""D2, D3 (study-group week 3): evaluating a classifier honestly, then the same model on clothes.

D2: a DNN on MNIST with a train / validation / test split (the last 10 % of the shuffled
training images held out for validation); loss is what training minimises, accuracy (%) =
correct / total × 100 is the metric, measured on held-out images only. D3: the very same model
and training, unchanged, on Fashion-MNIST ("can the MNIST model classify clothes too?").
The model and training follow the study group's notebook: 784-128-10 ReLU, Adam lr 0.001,
batch 1024, 10 epochs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import optax
from flax import linen as nn

from jaxnets import data
from jaxnets.models import Linear
from jaxnets.train import classification_metrics, evaluate, train_model

ID = "D2-D3"
IDS = ("D2", "D3")
TITLE = "Train/validation/test accuracy (%) on MNIST and Fashion-MNIST"
SUMMARY = (
    "784-128-10 ReLU, Adam lr 0.001, batch 1024, 10 epochs, 0.9/0.1 train/valid split; MNIST and Fashion"
)

DATASETS = {"D2 MNIST": "mnist", "D3 Fashion-MNIST": "fashion_mnist"}


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 10
    lr: float = 0.001
    batch_size: int = 1024
    hidden: tuple[int, ...] = (128,)
    valid_fraction: float = 0.1
    train_subset: int | None = None
    data_dir: str | None = None


QUICK = {"train_subset": 5000, "epochs": 3, "batch_size": 100}


class NotebookNet(nn.Module):
    """The notebook's ``nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))``,
    PyTorch's default init."""

    hidden: tuple[int, ...]

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = x.reshape(len(x), -1)  # images.reshape(-1, 28 * 28)
        for width in self.hidden:
            x = nn.relu(Linear(width)(x))
        return Linear(10)(x)


def run(cfg: Config, ws) -> dict:
    fits, tested, sizes = {}, {}, {}
    for name, dataset in DATASETS.items():
        # Train / validation / test: random_split(train_dataset, [0.9, 0.1]), the test set apart.
        (x, y), test = data.load_float(dataset, cfg.data_dir, cfg.train_subset, cfg.seed)
        train, valid = data.split((x, y), (1 - cfg.valid_fraction, cfg.valid_fraction), cfg.seed)
        # The same model and training for both: Adam, cross-entropy (train_model's loss), batches
        # of 1024 shuffled with the last partial one kept (the DataLoader's default: 53 steps, not
        # 52), validated after each epoch; --seeds N: N seeds as one program.
        fits[name] = train_model(
            NotebookNet(cfg.hidden),
            optax.adam(cfg.lr),
            train,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            seeds=cfg.seeds,
            metrics_fn=classification_metrics,
            valid=valid,
            drop_last=False,
            **ws.checkpoint(dataset),
        )
        # The notebook's test(): accuracy (%) = 100 · n_correct / n_samples, once, at the end.
        tested[name] = evaluate(fits[name].state, test)
        sizes[name] = {"train": len(train[0]), "valid": len(valid[0]), "test": len(test[0])}
    test_pct = {k: 100 * np.asarray(t["accuracy"]) for k, t in tested.items()}
    valid_pct = {k: 100 * np.asarray(f.history["valid_accuracy"])[..., -1] for k, f in fits.items()}
    return {
        "fits": fits,
        "test_accuracy_percent": test_pct,
        "valid_accuracy_percent": valid_pct,
        "test": tested,
        "split_sizes": sizes,
        "log": [
            f"{k}: validation {np.mean(valid_pct[k]):.2f} %, test {np.mean(test_pct[k]):.2f} % "
            f"({s['train']} train / {s['valid']} valid / {s['test']} test images)"
            for k, s in sizes.items()
        ],
    }


NOTES = {
    "D2 MNIST test accuracy (%)": (
        "test_accuracy_percent/D2 MNIST",
        "≥ 95",
        "96.42 (notebook, on its training images)",
    ),
    "D3 Fashion-MNIST test accuracy (%)": (
        "test_accuracy_percent/D3 Fashion-MNIST",
        "≥ 85",
        "(no number; humans ~83.5)",
    ),
    "same model: Fashion-MNIST − MNIST (%)": (
        ("test_accuracy_percent/D3 Fashion-MNIST", "test_accuracy_percent/D2 MNIST"),
        "Fashion < MNIST",
        "clothes are harder",
    ),
}
