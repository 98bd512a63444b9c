"""D1 (study-group slides): linear regression y = a·x + b by gradient descent,
θ_j := θ_j − α ∂J/∂θ_j, watched until the line stops moving; it ends at least squares."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from jaxnets import data, losses, models, optim, plots
from jaxnets.results import check, diverged_runs
from jaxnets.train import train_model

ID = "D1"
TITLE = "Linear regression by gradient descent"
DESCRIPTION = "y = a x + b on 20 noisy points, full-batch gradient descent to least squares"


# `--quick`: a reduced run for a first look (and the tests); {} when the full run is already quick.
QUICK: dict = {}


@dataclass(frozen=True)
class Config:
    seed: int = 0
    lr: float = 0.05
    epochs: int = 300


def run(cfg: Config, out: Path) -> dict:
    x, y = data.noisy_line(cfg.seed)
    lines = {}

    def record(epoch, state, _row):
        p = state.params["Linear_0"]
        lines[epoch] = (float(p["kernel"][0, 0]), float(p["bias"][0]))

    fitted = train_model(
        models.linear_regression(1),
        optim.optimizer("sgd", cfg.lr),
        (x, y),
        cfg.epochs,
        seed=cfg.seed,
        loss_fn=losses.mse,
        shuffle=False,
        on_epoch=record,
    )
    a, b = lines[max(lines)]
    a_ls, b_ls = np.polyfit(x[:, 0], y[:, 0], 1)
    loss = [h["train_loss"] for h in fitted.history]

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.scatter(x, y, color="tab:blue", label="data")
    grid = np.array([x.min(), x.max()])
    for epoch in sorted({1, 5, 20, max(lines)} & set(lines)):
        ea, eb = lines[epoch]
        ax1.plot(
            grid,
            ea * grid + eb,
            alpha=0.4 + 0.6 * (epoch == max(lines)),
            label=f"epoch {epoch}: y = {ea:.3g}x + {eb:.3g}",
        )
    ax1.set(title="Data and the fitted line as training goes", xlabel="x", ylabel="y")
    ax1.legend(fontsize=8)
    plots.finite_line(ax2, range(1, len(loss) + 1), loss, logy=True)
    ax2.set(title="MSE per epoch", xlabel="epoch", ylabel="MSE", yscale="log")
    plots.save(fig, out / "linear_regression.png")

    return {
        "history": fitted.history,
        "metrics": {
            "a": a,
            "b": b,
            "a_least_squares": a_ls,
            "b_least_squares": b_ls,
            "first_loss": loss[0],
            "last_loss": loss[-1],
        },
        "diverged": diverged_runs({"linear regression": fitted.diverged}),
        "checks": [
            check("slope a vs least squares", a, float(a_ls), "|a - a*| < 1e-3", abs(a - a_ls) < 1e-3),
            check("intercept b vs least squares", b, float(b_ls), "|b - b*| < 1e-3", abs(b - b_ls) < 1e-3),
            check("loss first → last", [loss[0], loss[-1]], "falls (slides)", "falls", loss[-1] < loss[0]),
        ],
    }


if __name__ == "__main__":
    from experiments.cli import main

    sys.exit(main([ID, *sys.argv[1:]]))
