"""C2 (fastai ch. 4): fit a quadratic a·t² + b·t + c to noisy roller-coaster speeds by gradient
descent on √MSE. At lr 1e-5 the loss barely moves; at lr 1e-3 it falls fast."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from experiments.harness import plots
from jaxnets.train import seed_keys

ID = "C2"
TITLE = "Quadratic fit by SGD"
SUMMARY = "a t² + b t + c fitted to 20 noisy speeds, 10 steps at lr 1e-5 then lr 1e-3"


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    slow_lr: float = 1e-5
    slow_steps: int = 10
    lr: float = 1e-3
    epochs: int = 20  # steps at ``lr`` after the slow ones


def f(t, params):
    """The book's model: ``a*(t**2) + (b*t) + c``."""
    a, b, c = params
    return a * (t**2) + (b * t) + c


def mse(preds, targets):
    """The book's loss, which it calls ``mse``: the square root of the mean squared error."""
    return jnp.sqrt(((preds - targets) ** 2).mean())


@jax.jit
def apply_step(params, time, speed, lr):
    """The book's ``apply_step``: the loss of ``f(time, params)``, its gradient
    (``loss.backward()``), ``params.data -= lr*params.grad.data``; the new parameters and the
    loss it printed (before the step)."""
    loss, grad = jax.value_and_grad(lambda p: mse(f(time, p), speed))(params)
    return params - lr * grad, loss


def speeds_and_params(key, time):
    """One run of the book's cells: ``speed = torch.randn(20)*3 + 0.75*(time-9.5)**2 + 1`` and
    ``params = torch.randn(3)``."""
    noise, init = jax.random.split(key)
    speed = jax.random.normal(noise, (20,)) * 3 + 0.75 * (time - 9.5) ** 2 + 1
    return speed, jax.random.normal(init, (3,))


def run(cfg: Config, ws) -> dict:
    time = jnp.arange(0, 20).astype(jnp.float32)
    # Each seed draws its own speeds and coefficients, as each run of the notes' cells does;
    # --seeds N: the N runs as one program, every function vmapped over the seeds' axis.
    keys = seed_keys(range(cfg.seed, cfg.seed + cfg.seeds))
    speed, params = jax.vmap(speeds_and_params, (0, None))(keys, time)  # (seeds, 20), (seeds, 3)
    step = jax.vmap(apply_step, (0, None, 0, None))
    # for i in range(10): apply_step(params) at lr 1e-5, then on at lr 1e-3.
    losses, slow_params = [], params
    for i in range(cfg.slow_steps + cfg.epochs):
        params, loss = step(params, time, speed, cfg.slow_lr if i < cfg.slow_steps else cfg.lr)
        losses.append(loss)
        if i + 1 == cfg.slow_steps:
            slow_params = params
    loss = np.stack(losses, -1)  # (seeds, steps): each step's loss, before its update
    final = np.asarray(jax.vmap(lambda p, s: mse(f(time, p), s))(params, speed))
    after_slow = loss[:, cfg.slow_steps] if cfg.epochs else final

    fig = Figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.scatter(time, speed[0], label=f"data (seed {cfg.seed})", color="tab:blue")
    ax1.plot(time, f(time, slow_params[0]), "x", color="tab:gray", label=f"after step {cfg.slow_steps}")
    ax1.plot(time, f(time, params[0]), "o", color="tab:red", label=f"after step {loss.shape[1]}")
    ax1.set(title=f"Speed vs time: data and predictions (seed {cfg.seed})", xlabel="time", ylabel="speed")
    ax1.legend()
    ax2.plot(np.arange(loss.shape[1]), loss.T, "o-", ms=3, alpha=0.8 if cfg.seeds == 1 else 0.3)
    ax2.axvline(cfg.slow_steps - 0.5, color="gray", ls=":", label=f"lr {cfg.slow_lr:g} → {cfg.lr:g}")
    ax2.set(title="Loss (√MSE) before each step", xlabel="step", ylabel="loss", yscale="log")
    ax2.legend()
    plots.save(fig, ws.plots / "quadratic_fit.png")

    numbers = {
        "initial_loss": loss[:, 0],
        "loss_after_slow_steps": after_slow,
        "final_loss": final,
        "slow_change": (loss[:, 0] - after_slow) / loss[:, 0],
        "params": np.asarray(params),  # (a, b, c)
    }
    if cfg.seeds == 1:  # one run: its numbers, without the seeds' axis
        numbers = {k: v[0] for k, v in numbers.items()}
    history = [
        {"seed": cfg.seed + k, "step": i, "loss": float(v)}
        for k, run_loss in enumerate(loss)
        for i, v in enumerate(run_loss)
    ]
    return numbers | {"history": history}


NOTES = {
    "loss change over 10 steps at lr 1e-05 (barely moves)": (
        "slow_change",
        "from 0 to 0.1",
        (178.7359 - 173.2063) / 178.7359,
    ),
    "final loss after 20 steps at lr 0.001 (the best quadratic fits to ~3)": ("final_loss", "< 40", 25.677),
}
