"""C2 (fastai ch. 4): fit a quadratic a·t² + b·t + c to noisy roller-coaster speeds by gradient
descent on √MSE. At lr 1e-5 the loss barely moves; at lr 1e-3 it falls fast."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import optax

from experiments.harness import over_seeds, plots, toy_data
from experiments.harness.checks import below, between
from experiments.harness.contract import Experiment, Outcome, Workspace
from experiments.harness.stats import dist
from jaxnets import losses, models
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


def fit(cfg: Config, seed: int):
    """One run as the notes' cells do it: new noisy speeds, a quadratic with N(0, 1) coefficients,
    √MSE, plain SGD, slow steps then fast; (t, speeds, the fit, predictions after each step)."""
    t, speed = toy_data.speed_curve(seed)
    schedule = optax.piecewise_constant_schedule(cfg.slow_lr, {cfg.slow_steps: cfg.lr / cfg.slow_lr})
    snapshots = {}
    fitted = train_model(
        models.Polynomial(2),
        optax.sgd(schedule),
        (t, speed),
        epochs=cfg.slow_steps + cfg.epochs,
        seed=seed,
        loss_fn=losses.rmse,
        shuffle=False,
        on_epoch=lambda e, s, _: snapshots.update({e: np.asarray(predict(s, t)).reshape(-1)}),
    )
    return t, speed, fitted, snapshots


def run(cfg: Config, ws: Workspace) -> Outcome:
    # Each seed draws its own speeds, as each run of the notes' cells does (and its coefficients):
    # 30 steps of a 3-parameter model, so one seed after the other (each its own data).
    seeds = range(cfg.seed, cfg.seed + cfg.seeds)
    runs = [fit(cfg, seed) for seed in seeds]
    t, speed, _, snapshots = runs[0]
    loss = np.concatenate(
        [over_seeds.curve(fitted, "train_loss") for _, _, fitted, _ in runs]
    )  # seeds × steps
    final = dist(
        [
            float(losses.rmse(predict(fitted.state, jnp.asarray(ts)).reshape(-1), jnp.asarray(ys)))
            for ts, ys, fitted, _ in runs
        ]
    )
    after_slow = dist(loss[:, cfg.slow_steps]) if loss.shape[1] > cfg.slow_steps else final

    fig, (ax1, ax2) = plots.figure(1, 2, figsize=(10, 4))
    ax1.scatter(t, speed, label=f"data (seed {cfg.seed})", color="tab:blue")
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
        history=[
            row
            for seed, (*_, fitted, _) in zip(seeds, runs, strict=True)
            for row in over_seeds.rows(fitted, seed)
        ],
        metrics={
            "initial_loss": dist(loss[:, 0]),
            "loss_after_slow_steps": after_slow,
            "final_loss": final,
            "params": [fitted.state.params["coeffs"] for *_, fitted, _ in runs],
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
        diverged={
            over_seeds.run_name("quadratic", seed, cfg.seeds): fitted.run(0).diverged
            for seed, (*_, fitted, _) in zip(seeds, runs, strict=True)
        },
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
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
