"""A4 (lab 07-1): standardization. The raw exam scores (~80) make gradient descent at lr 0.1
blow up to inf and then nan; standardized inputs x' = (x - μ)/σ let the same run converge."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from experiments.harness import over_seeds, plots, toy_data
from experiments.harness.checks import all_of, below, falls, reported, within
from experiments.harness.contract import Experiment, Outcome, Workspace
from experiments.harness.stats import dist
from jaxnets import losses, models, optim
from jaxnets.record import FitResult
from jaxnets.train import train_model

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


def _first(costs: np.ndarray, bad) -> int | None:
    hits = np.flatnonzero(bad(costs))
    return int(hits[0]) + 1 if hits.size else None


def fit(cfg: Config, seed: int) -> dict[str, FitResult]:
    """Linear(3, 1), MSE, SGD lr 0.1, on standardized and on raw inputs, from one seed's init."""
    x, y = toy_data.exam_scores()
    return {
        label: train_model(
            models.linear_regression(1),
            optim.optimizer("sgd", cfg.lr),
            (inputs, y),
            epochs=cfg.epochs,
            seed=seed,
            loss_fn=losses.mse,
            shuffle=False,
            stop_on_divergence=cfg.stop_on_divergence,
        ).run(0)
        for label, inputs in (("standardized", toy_data.standardize(x)), ("raw", x))
    }


def _costs(fits: dict) -> dict[str, np.ndarray]:
    return {k: np.array([h["train_loss"] for h in f.rows]) for k, f in fits.items()}


def run(cfg: Config, ws: Workspace) -> Outcome:
    # The exam scores, and x' = (x - μ)/σ per column.
    x, _ = toy_data.exam_scores()
    x_std = toy_data.standardize(x)
    # Each seed its own init (20 steps of a 4-parameter model: one seed after the other); the
    # plot, the checks and the arrays below are the first seed's, ``seeds`` holds every seed's.
    seeds = range(cfg.seed, cfg.seed + cfg.seeds)
    runs = [fit(cfg, seed) for seed in seeds]
    fits = runs[0]
    costs = _costs(fits)
    every = [_costs(f) for f in runs]
    plots.curves(
        ws.plots / "standardization.png",
        {f"{k} inputs": ([h["epoch"] for h in fits[k].rows], c) for k, c in costs.items()},
        title=f"MSE per epoch, raw vs standardized inputs (lr {cfg.lr:g})",
        ylabel="MSE (log)",
        logy=True,
    )

    std, raw = costs["standardized"], costs["raw"]
    x_err = float(np.max(np.abs(x_std - NOTES_X_STD)))
    first_inf, first_nan = _first(raw, np.isinf), _first(raw, np.isnan)
    checks = [
        below("x' = (x - μ)/σ, max |ours - notes| (equal to 4 decimals)", x_err, 5e-5, notes=0.0),
        within(
            "standardized: first epoch cost (dominated by y², not init)",
            float(std[0]),
            29615.74,
            0.1 * 29615.74,
            notes=29615.74,
        ),
        falls(
            "standardized: first → last epoch cost",
            float(std[0]),
            float(std[-1]),
            by=100,
            notes=[29615.74, 6.697937],
        ),
        all_of(
            "raw: first epoch with cost inf (1-based)",
            first_inf,
            [reported("the divergence", fits["raw"].diverged), reported("its epoch", first_inf)],
            notes=6,
        ),
    ]
    if cfg.stop_on_divergence:
        log = [
            f"raw inputs: cost inf at epoch {first_inf}; that run stopped there (diverged). "
            f"`python -m experiments A4 --on-divergence continue` trains on to the notes' nan."
        ]
    else:
        log = [f"raw inputs: cost inf from epoch {first_inf}, nan from epoch {first_nan}"]
        checks.append(reported("raw: first epoch with cost nan (1-based)", first_nan, notes=13))
    return Outcome(
        history=[
            {"seed": seed, "run": k, **row}
            for seed, fits in zip(seeds, runs, strict=True)
            for k, f in fits.items()
            for row in f.rows
        ],
        metrics={
            "seeds": {
                "standardized_cost_epoch_0": dist([c["standardized"][0] for c in every]),
                "standardized_cost_last_epoch": dist([c["standardized"][-1] for c in every]),
                "raw_cost_epoch_0": dist([c["raw"][0] for c in every]),
                "raw_first_inf_epoch": dist([_first(c["raw"], np.isinf) or np.nan for c in every]),
                "raw_first_nan_epoch": dist([_first(c["raw"], np.isnan) or np.nan for c in every]),
            },
            "x_std": x_std,
            "standardized_costs": std,
            "raw_costs": raw,
            "raw_first_inf_epoch": first_inf,
            "raw_first_nan_epoch": first_nan,
        },
        checks=checks,
        diverged={
            over_seeds.run_name(k, seed, cfg.seeds): f.diverged
            for seed, fits in zip(seeds, runs, strict=True)
            for k, f in fits.items()
        },
        log=log,
    )


EXPERIMENT = Experiment(
    __name__,
    "A4",
    "Standardization before gradient descent",
    "Linear(3,1) + MSE + SGD lr 0.1 on exam scores, raw vs standardized",
    Config,
    run,
    # The raw-input run overflows: that is the lab's point, not a failure.
    expected_divergence=("raw",),
)

if __name__ == "__main__":
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
