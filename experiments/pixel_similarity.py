"""C1 (fastai ch. 4): the pixel-similarity baseline. The "ideal" 3 and 7 are the mean training
images; a validation image is called a 3 when it is closer to the ideal 3 than to the ideal 7,
with distance = mean absolute difference (L1) or root mean squared difference (RMSE), computed
for the whole validation set at once by broadcasting. No randomness: the numbers are exact."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from experiments.harness import plots
from experiments.harness.checks import equal
from experiments.harness.contract import Experiment, Outcome, Workspace
from jaxnets import data

NOTES = {"accuracy_3s": 0.9168, "accuracy_7s": 0.9854, "mean": 0.9511}


@dataclass(frozen=True)
class Config:
    data_dir: str | None = None


def l1_distance(images: jax.Array, ideal: jax.Array) -> jax.Array:
    """Mean absolute difference over the last two axes: (N, 28, 28) against (28, 28) → (N,)."""
    return jnp.abs(images - ideal).mean(axis=(-1, -2))


def rmse_distance(images: jax.Array, ideal: jax.Array) -> jax.Array:
    """Root mean squared difference over the last two axes."""
    return jnp.sqrt(((images - ideal) ** 2).mean(axis=(-1, -2)))


def run(cfg: Config, ws: Workspace) -> Outcome:
    # The ideal 3 and 7: the mean of each digit's training images.
    (x, y), (xv, yv) = data.load_float("mnist_sample", cfg.data_dir)
    mean3, mean7 = x[y == 1].mean(axis=0), x[y == 0].mean(axis=0)
    valid3, valid7 = xv[yv == 1], xv[yv == 0]
    # is_3(x) = dist(x, mean3) < dist(x, mean7), for both distances, on every validation image.
    accuracies = {}
    for name, dist in (("L1", l1_distance), ("RMSE", rmse_distance)):

        def is_3(images, dist=dist):
            return dist(images, mean3) < dist(images, mean7)

        acc3 = float(is_3(valid3).astype(jnp.float32).mean())
        acc7 = float((1 - is_3(valid7).astype(jnp.float32)).mean())
        accuracies[name] = {"accuracy_3s": acc3, "accuracy_7s": acc7, "mean": (acc3 + acc7) / 2}

    fig, axes = plots.figure(1, 2, figsize=(6, 3.4))
    for ax, image, label in zip(axes, (mean3, mean7), ("3", "7"), strict=True):
        ax.imshow(jax.device_get(image), cmap="gray_r")
        ax.set(
            title=f"mean of the {int((y == (label == '3')).sum())} training {label}s", xticks=[], yticks=[]
        )
    plots.save(fig, ws.plots / "mean_3_and_7.png")

    l1 = accuracies["L1"]
    return Outcome(
        history=[],
        metrics={**accuracies, "counts": {"train": len(x), "valid_3s": len(valid3), "valid_7s": len(valid7)}},
        checks=[
            equal(
                f"L1 {'mean accuracy' if k == 'mean' else 'accuracy on the ' + k[9:]}, to 4 decimals",
                round(l1[k], 4),
                v,
                notes=v,
            )
            for k, v in NOTES.items()
        ],
        log=[
            f"{name}: 3s {r['accuracy_3s']:.4f}, 7s {r['accuracy_7s']:.4f}, mean {r['mean']:.4f}"
            for name, r in accuracies.items()
        ],
    )


EXPERIMENT = Experiment(
    __name__,
    "C1",
    "Pixel similarity: 3 vs 7 by distance to the mean images",
    "mean 3 and mean 7 of MNIST_SAMPLE, L1 / RMSE distance, accuracy on the 2,038 valid images",
    Config,
    run,
)

if __name__ == "__main__":
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
