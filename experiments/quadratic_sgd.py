"""C2 (fastai ch. 4): fit a quadratic a·t² + b·t + c to noisy roller-coaster speeds by gradient
descent on √MSE. At lr 1e-5 the loss barely moves; at lr 1e-3 it falls fast."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import optax

from experiments.experiment import Experiment, Outcome, Workspace
from jaxnets import losses, models, plots, small_data
from jaxnets.checks import below, between
from jaxnets.stats import dist
from jaxnets.steps import predict
from jaxnets.train import train_model


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    slow_lr: float = 1e-5
    slow_steps: int = 10
    lr: float = 1e-3
    epochs: int = 20  # steps at ``lr`` after the slow ones


def run(cfg: Config, ws: Workspace) -> Outcome:
    # The speeds, and a quadratic with N(0, 1) coefficients, √MSE, plain SGD: slow steps, then fast.
    # With several seeds the data stay the first seed's; each seed draws its own coefficients.
    t, speed = small_data.speed_curve(cfg.seed)
    schedule = optax.piecewise_constant_schedule(cfg.slow_lr, {cfg.slow_steps: cfg.lr / cfg.slow_lr})
    snapshots = {}
    fitted = train_model(
        models.Polynomial(2),
        optax.sgd(schedule),
        (t, speed),
        cfg.slow_steps + cfg.epochs,
        seed=cfg.seed,
        seeds=cfg.seeds,
        loss_fn=losses.rmse,
        shuffle=False,
        on_epoch=lambda e, s, _: snapshots.update({e: np.asarray(predict(s, t)).reshape(cfg.seeds, -1)[0]}),
    )
    loss = fitted.curve("train_loss")  # seeds × steps, each before its step
    preds = np.asarray(predict(fitted.state, jnp.asarray(t))).reshape(cfg.seeds, -1)
    final = dist([float(losses.rmse(jnp.asarray(p), jnp.asarray(speed))) for p in preds])
    after_slow = dist(loss[:, cfg.slow_steps]) if loss.shape[1] > cfg.slow_steps else final

    fig, (ax1, ax2) = plots.figure(1, 2, figsize=(10, 4))
    ax1.scatter(t, speed, label="data", color="tab:blue")
    for step, style in ((cfg.slow_steps, "x"), (max(snapshots), "o")):
        if step in snapshots:
            ax1.plot(
                t,
                snapshots[step],
                style,
                color="tab:red" if style == "o" else "tab:gray",
                label=f"prediction after step {step} (seed {cfg.seed})",
            )
    ax1.set(title="Speed vs time: data and predictions", xlabel="time", ylabel="speed")
    ax1.legend()
    plots.band_line(ax2, np.arange(loss.shape[1]), loss, "o-", logy=True, ms=3)
    ax2.axvline(cfg.slow_steps - 0.5, color="gray", ls=":", label=f"lr {cfg.slow_lr:g} → {cfg.lr:g}")
    ax2.set(title="Loss (√MSE) per step", xlabel="step", ylabel="loss", yscale="log")
    ax2.legend()
    plots.save(fig, ws.plots / "quadratic_fit.png")

    slow_change = dist((loss[:, 0] - np.asarray(after_slow.values)) / loss[:, 0])
    return Outcome(
        history=fitted.rows(cfg.seed),
        metrics={
            "initial_loss": dist(loss[:, 0]),
            "loss_after_slow_steps": after_slow,
            "final_loss": final,
            "params": [r.state.params["coeffs"] for r in fitted.per_run()],
        },
        checks=[
            between(
                f"loss change over {cfg.slow_steps} steps at lr {cfg.slow_lr:g} (barely moves)",
                slow_change,
                0,
                0.1,
                notes=(178.7359 - 173.2063) / 178.7359,
            ),
            below(
                f"final loss after {cfg.epochs} steps at lr {cfg.lr:g} (the best quadratic fits to ~3)",
                final,
                40,
                notes=25.677,
            ),
        ],
        diverged=fitted.divergences("quadratic", cfg.seed),
    )


EXPERIMENT = Experiment(
    __name__,
    "C2",
    "Quadratic fit by SGD",
    "a t² + b t + c fitted to 20 noisy speeds, 10 steps at lr 1e-5 then lr 1e-3",
    Config,
    run,
)

if __name__ == "__main__":
    sys.exit(EXPERIMENT.main(sys.argv[1:]))
