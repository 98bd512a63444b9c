"""D1 (study-group slides): linear regression y = a·x + b by gradient descent,
θ_j := θ_j − α ∂J/∂θ_j, watched until the line stops moving; it ends at least squares."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from experiments.experiment import Experiment, Outcome, Workspace
from jaxnets import losses, models, optim, plots, small_data
from jaxnets.checks import holds, within
from jaxnets.train import train_model


@dataclass(frozen=True)
class Config:
    seed: int = 0
    lr: float = 0.05
    epochs: int = 300


def run(cfg: Config, ws: Workspace) -> Outcome:
    # 20 noisy points of a line; y = a x + b by full-batch gradient descent on the MSE.
    x, y = small_data.noisy_line(cfg.seed)
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

    fig, (ax1, ax2) = plots.figure(1, 2, figsize=(10, 4))
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
    plots.save(fig, ws.plots / "linear_regression.png")

    return Outcome(
        history=fitted.history,
        metrics={
            "a": a,
            "b": b,
            "a_least_squares": a_ls,
            "b_least_squares": b_ls,
            "first_loss": loss[0],
            "last_loss": loss[-1],
        },
        checks=[
            within("slope a vs least squares", a, float(a_ls), 1e-3, notes=float(a_ls)),
            within("intercept b vs least squares", b, float(b_ls), 1e-3, notes=float(b_ls)),
            holds(
                "loss first → last", [loss[0], loss[-1]], "falls", loss[-1] < loss[0], notes="falls (slides)"
            ),
        ],
        diverged={"linear regression": fitted.diverged},
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
    sys.exit(EXPERIMENT.main(sys.argv[1:]))
