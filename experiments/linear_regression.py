"""D1 (study-group slides): linear regression y = a·x + b by gradient descent,
θ_j := θ_j − α ∂J/∂θ_j, watched until the line stops moving; it ends at least squares."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import jax
import numpy as np

from experiments.harness import over_seeds, plots, toy_data
from experiments.harness.checks import falls, within
from experiments.harness.contract import Experiment, Outcome, Workspace
from experiments.harness.stats import dist
from jaxnets import losses, models, optim
from jaxnets.state import with_run_axis
from jaxnets.train import train_model


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    lr: float = 0.05
    epochs: int = 300


def run(cfg: Config, ws: Workspace) -> Outcome:
    # 20 noisy points of a line; y = a x + b by full-batch gradient descent on the MSE.
    x, y = toy_data.noisy_line(cfg.seed)
    lines = {}

    def record(epoch, state, _row):  # the first seed's line at the epochs the plot shows
        if epoch in (1, 5, 20):
            p = with_run_axis(state, state.params)["Linear_0"]
            lines[epoch] = (float(p["kernel"][0, 0, 0]), float(p["bias"][0, 0]))

    fitted = train_model(
        models.linear_regression(1),
        optim.optimizer("sgd", cfg.lr),
        (x, y),
        epochs=cfg.epochs,
        seed=cfg.seed,
        seeds=cfg.seeds,
        loss_fn=losses.mse,
        shuffle=False,
        on_epoch=record,
    )
    final = jax.device_get(with_run_axis(fitted.state, fitted.state.params)["Linear_0"])
    a, b = dist(list(final["kernel"][:, 0, 0])), dist(list(final["bias"][:, 0]))
    lines[len(fitted.run(0).rows)] = (float(final["kernel"][0, 0, 0]), float(final["bias"][0, 0]))  # the last
    a_ls, b_ls = np.polyfit(x[:, 0], y[:, 0], 1)
    loss = over_seeds.curve(fitted, "train_loss")

    fig, (ax1, ax2) = plots.figure(1, 2, figsize=(10, 4))
    ax1.scatter(x, y, color="tab:blue", label="data")
    grid = np.array([x.min(), x.max()])
    for epoch in sorted({1, 5, 20, max(lines)} & set(lines)):
        ea, eb = lines[epoch]
        if not np.isfinite([ea, eb]).all():  # a diverged run: its loss curve (right) marks where
            continue
        ax1.plot(
            grid,
            ea * grid + eb,
            alpha=0.4 + 0.6 * (epoch == max(lines)),
            label=f"epoch {epoch}: y = {ea:.3g}x {'−' if eb < 0 else '+'} {abs(eb):.3g}",
        )
    ax1.set(title="Data and the fitted line as training goes", xlabel="x", ylabel="y")
    ax1.legend(fontsize=8)
    plots.band_line(ax2, np.arange(1, loss.shape[1] + 1), loss, logy=True)
    ax2.set(title="MSE per epoch", xlabel="epoch", ylabel="MSE", yscale="log")
    plots.save(fig, ws.plots / "linear_regression.png")

    return Outcome(
        history=over_seeds.rows(fitted, cfg.seed),
        metrics={
            "a": a,
            "b": b,
            "a_least_squares": a_ls,
            "b_least_squares": b_ls,
            "first_loss": over_seeds.first(fitted, "train_loss"),
            "last_loss": over_seeds.last(fitted, "train_loss"),
        },
        checks=[
            within("slope a vs least squares", a, float(a_ls), 1e-3, notes="(slides: no figure)"),
            within("intercept b vs least squares", b, float(b_ls), 1e-3, notes="(slides: no figure)"),
            falls(
                "loss first → last",
                over_seeds.first(fitted, "train_loss"),
                over_seeds.last(fitted, "train_loss"),
                every_seed=True,
                notes="falls (slides)",
            ),
        ],
        diverged=over_seeds.divergences(fitted, "linear regression", cfg.seed),
    )


EXPERIMENT = Experiment(
    __name__,
    "D1",
    "Linear regression by gradient descent",
    "y = a x + b on 20 noisy points, full-batch gradient descent to least squares",
    Config,
    run,
)

if __name__ == "__main__":
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
