"""C1 (fastai ch. 4): the pixel-similarity baseline. The "ideal" 3 and 7 are the mean training
images; a validation image is called a 3 when it is closer to the ideal 3 than to the ideal 7,
with distance = mean absolute difference (L1) or root mean squared difference (RMSE), computed
for the whole validation set at once by broadcasting. No randomness: the numbers are exact."""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from experiments.harness import plots
from jaxnets import data

ID = "C1"
TITLE = "Pixel similarity: 3 vs 7 by distance to the mean images"
SUMMARY = "mean 3 and mean 7 of MNIST_SAMPLE, L1 / RMSE distance, accuracy on the 2,038 valid images"


@dataclass(frozen=True)
class Config:
    data_dir: str | None = None


def mnist_distance(a, b):
    """The book's ``mnist_distance``: ``(a-b).abs().mean((-1,-2))``, the mean absolute difference
    over an image's two axes; (N, 28, 28) against (28, 28) broadcasts to N distances."""
    return jnp.abs(a - b).mean((-1, -2))


def rmse_distance(a, b):
    """The book's other distance, ``((a-b)**2).mean().sqrt()``, image by image."""
    return jnp.sqrt(((a - b) ** 2).mean((-1, -2)))


def run(cfg: Config, ws) -> dict:
    # mean3, mean7: the ideal 3 and 7, the mean of every training 3 (label 1) and of every 7.
    (x, y), (xv, yv) = data.load_float("mnist_sample", cfg.data_dir)
    mean3, mean7 = x[y == 1].mean(0), x[y == 0].mean(0)
    valid_3_tens, valid_7_tens = xv[yv == 1], xv[yv == 0]

    def is_3(x, distance=mnist_distance):
        return distance(x, mean3) < distance(x, mean7)

    accuracies = {}
    for name, distance in (("L1", mnist_distance), ("RMSE", rmse_distance)):
        accuracy_3s = float(is_3(valid_3_tens, distance).astype(jnp.float32).mean())
        accuracy_7s = float((1 - is_3(valid_7_tens, distance).astype(jnp.float32)).mean())
        accuracies[name] = {
            "accuracy_3s": accuracy_3s,
            "accuracy_7s": accuracy_7s,
            "mean": (accuracy_3s + accuracy_7s) / 2,
        }

    fig = Figure(figsize=(6, 3.4))
    for ax, image, digit, label in zip(fig.subplots(1, 2), (mean3, mean7), "37", (1, 0), strict=True):
        ax.imshow(np.asarray(image), cmap="gray_r")
        ax.set(title=f"mean of the {int((y == label).sum())} training {digit}s", xticks=[], yticks=[])
    plots.save(fig, ws.plots / "mean_3_and_7.png")

    return {
        **accuracies,
        "counts": {"train": len(x), "valid_3s": len(valid_3_tens), "valid_7s": len(valid_7_tens)},
        "log": [
            f"{name}: 3s {r['accuracy_3s']:.4f}, 7s {r['accuracy_7s']:.4f}, mean {r['mean']:.4f}"
            for name, r in accuracies.items()
        ],
    }


# The notes print 4 decimals: ours must round to theirs.
NOTES = {
    "L1 accuracy on the 3s, to 4 decimals": ("L1/accuracy_3s", "0.9168 ± 0.00005", 0.9168),
    "L1 accuracy on the 7s, to 4 decimals": ("L1/accuracy_7s", "0.9854 ± 0.00005", 0.9854),
    "L1 mean accuracy, to 4 decimals": ("L1/mean", "0.9511 ± 0.00005", 0.9511),
}
