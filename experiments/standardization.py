"""A4 (lab 07-1): standardization. The raw exam scores (~80) make gradient descent at lr 0.1
blow up to inf and then nan; standardized inputs x' = (x - μ)/σ let the same run converge."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import optax
from flax import linen as nn

from experiments.harness import toy_data
from jaxnets.models import Linear
from jaxnets.train import train_model

ID = "A4"
TITLE = "Standardization before gradient descent"
SUMMARY = "Linear(3,1) + MSE + SGD lr 0.1 on exam scores, raw vs standardized"
# The raw-input run overflows: that is the lab's point, not a failure.
EXPECTED_DIVERGENCE = ("raw",)

# What the notes print for norm_x_train (4 decimals).
NOTES_X_STD = np.array(
    [
        [-1.0674, -0.3758, -0.8398],
        [0.7418, 0.2778, 0.5863],
        [0.3799, 0.5229, 0.3486],
        [1.0132, 1.0948, 1.1409],
        [-1.0674, -1.5197, -1.2360],
    ]
)


@dataclass(frozen=True)
class Config:
    seed: int = 1
    seeds: int = 1
    lr: float = 0.1
    epochs: int = 20
    stop_on_divergence: bool = True  # False (--on-divergence continue): the notes' inf → nan sequence


class MultivariateLinearRegressionModel(nn.Module):
    """The lab's model: ``self.linear = nn.Linear(3, 1)`` (PyTorch's default init)."""

    @nn.compact
    def __call__(self, x):
        return Linear(1)(x)


def first_epoch(fit, bad) -> np.ndarray:
    """The 1-based epoch of each run's first printed cost for which ``bad`` holds (nan: none), as
    one reads it off the notes' "Epoch 5/20 Cost: inf"."""
    epochs = [
        next((e for e, c in enumerate(r.history["train_loss"], 1) if bad(c)), np.nan) for r in fit.per_run()
    ]
    return np.squeeze(np.asarray(epochs, float))  # a single run's number, or one per seed


def run(cfg: Config, ws) -> dict:
    x_train, y_train = toy_data.exam_scores()
    # mu = x_train.mean(dim=0); sigma = x_train.std(dim=0); norm_x_train = (x_train - mu) / sigma
    mu, sigma = x_train.mean(axis=0), x_train.std(axis=0, ddof=1)  # torch.std divides by n - 1
    norm_x_train = (x_train - mu) / sigma

    # A new model and SGD(lr=1e-1) for each input, 20 full-batch epochs of F.mse_loss (the
    # squared error's mean), from the same seed's initialisation; --seeds N: N stacked, one program.
    fits = {
        name: train_model(
            MultivariateLinearRegressionModel(),
            optax.sgd(cfg.lr),
            (inputs, y_train),
            epochs=cfg.epochs,
            seed=cfg.seed,
            seeds=cfg.seeds,
            loss_fn=optax.squared_error,
            shuffle=False,
            stop_on_divergence=cfg.stop_on_divergence,
        )
        for name, inputs in (("standardized", norm_x_train), ("raw", x_train))
    }
    standardized, raw = fits["standardized"].history["train_loss"], fits["raw"].history["train_loss"]
    inf_at, nan_at = first_epoch(fits["raw"], np.isinf), first_epoch(fits["raw"], np.isnan)

    print_x = ["norm_x_train:", *(" ".join(f"{v:8.4f}" for v in row) for row in norm_x_train)]
    inf_1, nan_1 = np.ravel(inf_at)[0], np.ravel(nan_at)[0]  # the first seed's, as the notes print one run
    if cfg.stop_on_divergence:
        said = (
            f"raw inputs: cost inf at epoch {inf_1:g}; that run stopped there (diverged). "
            "`python -m experiments A4 --on-divergence continue` trains on to the notes' nan."
        )
    else:
        said = f"raw inputs: cost inf from epoch {inf_1:g}, nan from epoch {nan_1:g}"
    return {
        "fits": fits,
        "x_std_max_error": np.max(np.abs(norm_x_train - NOTES_X_STD)),
        "standardized_costs": standardized,
        "raw_costs": raw,
        "standardized_cost_epoch_0": standardized[..., 0],
        "standardized_cost_last_epoch": standardized[..., -1],
        "raw_cost_epoch_0": raw[..., 0],
        "raw_diverged": all(r.diverged is not None for r in fits["raw"].per_run()),
        "raw_first_inf_epoch": inf_at,
        "raw_first_nan_epoch": nan_at,
        "log": [*print_x, said],
    }


NOTES = {
    "x' = (x - μ)/σ, max |ours - notes| (equal to 4 decimals)": ("x_std_max_error", "< 5e-05", 0.0),
    "standardized: first epoch cost (dominated by y², not init)": (
        "fits/standardized/train_loss/1",
        "29615.74 ± 2961.574",
        29615.74,
    ),
    "standardized: first → last epoch cost": (
        "fits/standardized/train_loss",
        "falls > 100x",
        [29615.74, 6.697937],
    ),
    "raw: first epoch with cost inf (1-based)": (
        ("raw_diverged", "raw_first_inf_epoch"),
        ["= True", "reported"],
        6,
    ),
    # The run stops at its first inf unless --on-divergence continue: compared, not required.
    "raw: first epoch with cost nan (1-based)": ("raw_first_nan_epoch", "none", 13),
}
