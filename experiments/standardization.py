"""A4 (lab 07-1): standardization. The raw exam scores (~80) make gradient descent at lr 0.1
blow up to inf and then nan; standardized inputs x' = (x - μ)/σ let the same run converge."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jaxnets import data, losses, models, optim, plots
from jaxnets.results import check, diverged_runs, tagged
from jaxnets.train import train_model

ID = "A4"
TITLE = "Standardization before gradient descent"
DESCRIPTION = "Linear(3,1) + MSE + SGD lr 0.1 on exam scores, raw vs standardized"

NOTES_X_STD = np.array(
    [
        [-1.0674, -0.3758, -0.8398],
        [0.7418, 0.2778, 0.5863],
        [0.3799, 0.5229, 0.3486],
        [1.0132, 1.0948, 1.1409],
        [-1.0674, -1.5197, -1.2360],
    ]
)


# `--quick`: a reduced run for a first look (and the tests); {} when the full run is already quick.
QUICK: dict = {}
# The raw-input run overflows: that is the lab's point, not a failure.
EXPECTED_DIVERGENCE = ("raw",)


@dataclass(frozen=True)
class Config:
    seed: int = 1
    lr: float = 0.1
    epochs: int = 20
    stop_on_divergence: bool = True  # False (--on-divergence continue): the notes' inf → nan sequence


def _first(costs: np.ndarray, bad) -> int | None:
    hits = np.flatnonzero(bad(costs))
    return int(hits[0]) + 1 if hits.size else None


def run(cfg: Config, out: Path) -> dict:
    x, y = data.exam_scores()
    x_std = data.standardize(x)
    fits = {
        label: train_model(
            models.linear_regression(1),
            optim.optimizer("sgd", cfg.lr),
            (inputs, y),
            cfg.epochs,
            seed=cfg.seed,
            loss_fn=losses.mse,
            shuffle=False,
            stop_on_divergence=cfg.stop_on_divergence,
        )
        for label, inputs in (("standardized", x_std), ("raw", x))
    }
    costs = {k: np.array([h["train_loss"] for h in f.history]) for k, f in fits.items()}
    plots.curves(
        out / "standardization.png",
        {f"{k} inputs": ([h["epoch"] for h in fits[k].history], c) for k, c in costs.items()},
        title=f"MSE per epoch, raw vs standardized inputs (lr {cfg.lr:g})",
        ylabel="MSE (log)",
        logy=True,
    )

    std, raw = costs["standardized"], costs["raw"]
    x_err = float(np.max(np.abs(x_std - NOTES_X_STD)))
    first_inf = _first(raw, np.isinf)
    first_nan = _first(raw, np.isnan)
    diverged = fits["raw"].diverged
    checks = [
        check("x' = (x - μ)/σ, max |ours - notes|", x_err, 0.0, "< 5e-5 (equal to 4 decimals)", x_err < 5e-5),
        check(
            "standardized: first epoch cost",
            std[0],
            29615.74,
            "within 10 % of the notes (dominated by y², not init)",
            abs(std[0] / 29615.74 - 1) < 0.1,
        ),
        check(
            "standardized: last epoch cost", std[-1], 6.697937, "< 1 % of the first", std[-1] < 0.01 * std[0]
        ),
        check(
            "raw: first epoch with cost inf (1-based)",
            first_inf,
            6,
            "diverges: reported, not crashed",
            diverged is not None and first_inf is not None,
        ),
    ]
    if cfg.stop_on_divergence:
        log = [
            f"raw inputs: cost inf at epoch {first_inf}; that run stopped there (diverged). "
            f"`python -m experiments A4 --on-divergence continue` trains on to the notes' nan."
        ]
    else:
        log = [f"raw inputs: cost inf from epoch {first_inf}, nan from epoch {first_nan}"]
        checks.append(
            check(
                "raw: first epoch with cost nan (1-based)", first_nan, 13, "reported", first_nan is not None
            )
        )
    return {
        "history": tagged(fits["standardized"].history, run="standardized")
        + tagged(fits["raw"].history, run="raw"),
        "metrics": {
            "x_std": x_std,
            "standardized_costs": std,
            "raw_costs": raw,
            "raw_first_inf_epoch": first_inf,
            "raw_first_nan_epoch": first_nan,
        },
        "diverged": diverged_runs({k: f.diverged for k, f in fits.items()}),
        "log": log,
        "checks": checks,
    }


if __name__ == "__main__":
    from experiments.cli import main

    sys.exit(main([ID, *sys.argv[1:]]))
