"""A1 (lab 07-1): the thumbtack's landing probability by gradient ascent on the likelihood.

n = 100 throws, k = 27 flat landings. L(θ) = C(n,k) θ^k (1-θ)^(n-k) is a hill over θ; climbing
it with θ := θ + α ∂log L/∂θ ends at its top, the maximum likelihood estimate θ̂ = k/n.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import optax

from experiments.harness import plots
from experiments.harness.checks import within
from experiments.harness.contract import Experiment, Outcome, Workspace
from jaxnets import losses
from jaxnets.optimize import minimize


@dataclass(frozen=True)
class Config:
    n: int = 100
    k: int = 27
    theta0: float = 0.5
    lr: float = 1e-3
    epochs: int = 100  # ascent steps


def run(cfg: Config, ws: Workspace) -> Outcome:
    # The likelihood of θ after k flat landings in n throws; ascent on log L is descent on -log L.
    def neg_log_likelihood(theta):
        return -losses.binomial_log_likelihood(theta, cfg.n, cfg.k)

    # Climb the hill from θ = 0.5.
    start = time.perf_counter()
    theta, nll, path = minimize(neg_log_likelihood, jnp.float32(cfg.theta0), optax.sgd(cfg.lr), cfg.epochs)
    step_time = (time.perf_counter() - start) / cfg.epochs
    theta = float(theta)
    history = [
        {"epoch": i + 1, "theta": float(t), "log_likelihood": -float(v), "time_s": step_time}
        for i, (t, v) in enumerate(zip(path, nll, strict=True))
    ]

    # The hill, the path up it, and the log-likelihood per step.
    grid = np.linspace(0.005, 0.995, 400)
    hill = np.exp(np.asarray(losses.binomial_log_likelihood(grid, cfg.n, cfg.k)))
    fig, (ax1, ax2) = plots.figure(1, 2, figsize=(10, 4))
    ax1.plot(grid, hill, label="L(θ)")
    path_l = np.exp(np.asarray(losses.binomial_log_likelihood(np.asarray(path), cfg.n, cfg.k)))
    ax1.plot(path, path_l, "o", ms=3, color="tab:orange", label="ascent path")
    ax1.axvline(theta, color="red", ls=":", label=f"θ̂ = {theta:.4f}")
    ax1.set(title=f"Likelihood hill, n={cfg.n}, k={cfg.k}", xlabel="θ", ylabel="likelihood")
    ax1.legend()
    ax2.plot([h["epoch"] for h in history], [h["log_likelihood"] for h in history])
    ax2.set(title="Gradient ascent", xlabel="step", ylabel="log-likelihood")
    plots.save(fig, ws.plots / "likelihood_hill.png")

    return Outcome(
        history=history,
        metrics={
            "theta_hat": theta,
            "mle_k_over_n": cfg.k / cfg.n,
            "log_likelihood": float(losses.binomial_log_likelihood(theta, cfg.n, cfg.k)),
        },
        checks=[within("θ̂ (gradient ascent)", theta, 0.27, 1e-4, notes=0.27)],
    )


EXPERIMENT = Experiment(
    __name__,
    "A1",
    "Thumbtack MLE by gradient ascent",
    "binomial likelihood of 27 flat landings in 100 throws, climbed to θ̂ = 0.27",
    Config,
    run,
)

if __name__ == "__main__":
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
