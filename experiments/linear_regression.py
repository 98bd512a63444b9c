"""D1 (study-group slides): linear regression y = a·x + b by gradient descent,
θ_j := θ_j − α ∂J/∂θ_j, watched until the line stops moving; it ends at least squares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import optax
from flax import linen as nn
from matplotlib.figure import Figure

from experiments.harness import plots, toy_data
from jaxnets import losses
from jaxnets.train import train_model

ID = "D1"
TITLE = "Linear regression by gradient descent"
SUMMARY = "y = a x + b on 20 noisy points, full-batch gradient descent to least squares"


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    lr: float = 0.05
    epochs: int = 300


def first_line(params) -> tuple[float, float]:
    """(a, b) of the model y = a·x + b: Dense's kernel and bias (the first seed's, for several)."""
    return float(np.ravel(params["kernel"])[0]), float(np.ravel(params["bias"])[0])


def run(cfg: Config, ws) -> dict:
    x, y = toy_data.noisy_line(cfg.seed)  # 20 noisy points of a line
    lines = {}  # the line at the epochs the plot shows

    def record(epoch, state, _row):
        if epoch in (1, 5, 20):
            lines[epoch] = first_line(state.params)

    # The model F: y = a·x + b, one Dense unit (a its kernel, b its bias; Flax's init: a at
    # random, b = 0). Repeat: θ_j := θ_j − α ∂J/∂θ_j, J the mean squared error over every point
    # (one full batch an epoch, in order); --seeds N: N initialisations as one program.
    fitted = train_model(
        nn.Dense(1),
        optax.sgd(cfg.lr),
        (x, y),
        epochs=cfg.epochs,
        seed=cfg.seed,
        seeds=cfg.seeds,
        loss_fn=losses.mse,
        shuffle=False,
        on_epoch=record,
    )
    params = fitted.state.params
    a, b = np.asarray(params["kernel"])[..., 0, 0], np.asarray(params["bias"])[..., 0]  # each seed's
    lines[len(fitted.run(0).rows)] = first_line(params)  # the last epoch's
    a_ls, b_ls = np.polyfit(x[:, 0], y[:, 0], 1)  # least squares, where gradient descent should end
    loss = np.asarray(fitted.history["train_loss"])

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.scatter(x, y, color="tab:blue", label="data")
    grid = np.array([x.min(), x.max()])
    for epoch, (ea, eb) in sorted(lines.items()):
        if not np.isfinite([ea, eb]).all():  # a diverged run: its loss curve marks where
            continue
        ax.plot(
            grid,
            ea * grid + eb,
            alpha=0.4 + 0.6 * (epoch == max(lines)),
            label=f"epoch {epoch}: y = {ea:.3g}x {'−' if eb < 0 else '+'} {abs(eb):.3g}",
        )
    ax.set(title="Data and the fitted line as training goes", xlabel="x", ylabel="y")
    ax.legend(fontsize=8)
    plots.save(fig, ws.plots / "fitted_line.png")

    return {
        "fits": {"linear regression": fitted},
        "a": a,
        "b": b,
        "a_least_squares": a_ls,
        "b_least_squares": b_ls,
        "a_minus_least_squares": a - a_ls,
        "b_minus_least_squares": b - b_ls,
        "first_loss": loss[..., 0],
        "last_loss": loss[..., -1],
    }


NOTES = {
    "slope a vs least squares": ("a_minus_least_squares", "0 ± 0.001", "(slides: no figure)"),
    "intercept b vs least squares": ("b_minus_least_squares", "0 ± 0.001", "(slides: no figure)"),
    "loss first → last": ("fits/linear regression/train_loss", "falls, every seed", "falls (slides)"),
}
