"""A1 (lab 07-1): the thumbtack's landing probability by gradient ascent on the likelihood.

n = 100 throws, k = 27 flat landings. L(θ) = C(n,k) θ^k (1-θ)^(n-k) is a hill over θ; climbing
it with θ := θ + α ∂log L/∂θ ends at its top, the maximum likelihood estimate θ̂ = k/n.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln
from matplotlib.figure import Figure

ID = "A1"
TITLE = "Thumbtack MLE by gradient ascent"
SUMMARY = "binomial likelihood of 27 flat landings in 100 throws, climbed to θ̂ = 0.27"


@dataclass(frozen=True)
class Config:
    n: int = 100
    k: int = 27
    theta0: float = 0.5
    lr: float = 1e-3
    epochs: int = 100  # ascent steps


def log_likelihood(theta, n, k):
    """log L(θ) = log C(n, k) + k log θ + (n − k) log(1 − θ): how likely k flat landings in n
    throws are if each lands flat with probability θ."""
    log_comb = gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)
    return log_comb + k * jnp.log(theta) + (n - k) * jnp.log1p(-theta)


@jax.jit
def ascent_step(theta, lr, n, k):
    """One step up the hill, θ := θ + α ∂log L/∂θ; returns the new θ and log L at the old one."""
    log_l, slope = jax.value_and_grad(log_likelihood)(theta, n, k)
    return theta + lr * slope, log_l


def run(cfg: Config, ws) -> dict:
    # Climb the hill from θ = 0.5, one jitted step at a time.
    theta, history = jnp.float32(cfg.theta0), []
    for step in range(1, cfg.epochs + 1):
        new_theta, log_l = ascent_step(theta, cfg.lr, cfg.n, cfg.k)
        history.append({"epoch": step, "theta": float(theta), "log_likelihood": float(log_l)})
        theta = new_theta
    theta_hat = float(theta)

    # The hill, the path up it, and the log-likelihood per step.
    grid = np.linspace(0.005, 0.995, 400)
    path = np.array([h["theta"] for h in history])
    fig = Figure(figsize=(10, 4))
    hill, climb = fig.subplots(1, 2)
    hill.plot(grid, np.exp(log_likelihood(grid, cfg.n, cfg.k)), label="L(θ)")
    hill.plot(
        path, np.exp(log_likelihood(path, cfg.n, cfg.k)), "o", ms=3, color="tab:orange", label="ascent path"
    )
    hill.axvline(theta_hat, color="red", ls=":", label=f"θ̂ = {theta_hat:.4f}")
    hill.set(title=f"Likelihood hill, n={cfg.n}, k={cfg.k}", xlabel="θ", ylabel="likelihood")
    hill.legend()
    climb.plot([h["epoch"] for h in history], [h["log_likelihood"] for h in history])
    climb.set(title="Gradient ascent", xlabel="step", ylabel="log-likelihood")
    fig.tight_layout()
    fig.savefig(ws.plots / "likelihood_hill.png", dpi=110)

    return {
        "theta_hat": theta_hat,
        "mle_k_over_n": cfg.k / cfg.n,
        "log_likelihood": float(log_likelihood(theta_hat, cfg.n, cfg.k)),
        "history": history,
    }


NOTES = {"θ̂ (gradient ascent)": ("theta_hat", "0.27 ± 0.0001", 0.27)}
