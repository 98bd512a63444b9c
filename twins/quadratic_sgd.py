"""C2 twin: the fastai book's quadratic fit by SGD, as the notes write it (seed 001, "시간에 따른 속력"):
``time = torch.arange(0, 20).float()``, ``speed = torch.randn(20)*3 + 0.75*(time-9.5)**2 + 1``,
``f(t, params) = a*(t**2) + (b*t) + c``, ``mse`` = √(mean squared error), ``params =
torch.randn(3).requires_grad_()``, ``apply_step``: loss, ``loss.backward()``, ``params.data -=
lr*params.grad.data``, ``params.grad = None``; 10 steps at lr 1e-5, then steps at lr 1e-3.

The notes' notebook takes its steps in a muddled order (one step by hand, then ``for i in
range(10): apply_step(params)`` at lr 1e-5, run again; a step by hand at 1e-3, then 10 more): the
twin takes the catalog's and our port's 10 steps at lr 1e-5 and 20 at lr 1e-3, each loss before
its step, as ``apply_step`` prints it. ``apply_step`` takes ``time``, ``speed`` and ``lr`` as
arguments where the notes use the notebook's globals. The notes set no seed (the book neither):
``run`` seeds the data and the initial parameters with the experiment's seed (our port draws the
data from NumPy with it, the parameters from JAX)."""

from __future__ import annotations

import torch

NUMBERS = {
    "loss before training": {"notes": 178.7359, "ours": "initial_loss", "kind": "cost, initial"},
    # The notes' last printed loss of the lr-1e-5 loop: the loss after 10 steps.
    "loss after 10 steps at lr 1e-5": {
        "notes": 173.20626831054688,
        "ours": "loss_after_slow_steps",
        "kind": "cost, initial",
    },
    "loss after 20 more steps at lr 1e-3": {"notes": 25.67719268798828, "ours": "final_loss", "kind": "cost"},
}

SLOW_STEPS, STEPS = 10, 20


def f(t, params):
    a, b, c = params
    return a * (t**2) + (b * t) + c


def mse(preds, targets):
    return ((preds - targets) ** 2).mean().sqrt()


def apply_step(params, time, speed, lr) -> float:
    """The notes' ``apply_step``: the loss printed (before the update)."""
    preds = f(time, params)
    loss = mse(preds, speed)
    loss.backward()
    params.data -= lr * params.grad.data
    params.grad = None
    return loss.item()


def run(seed: int, data_dir: str | None = None) -> dict[str, float]:
    torch.manual_seed(seed)
    time = torch.arange(0, 20).float()
    speed = torch.randn(20) * 3 + 0.75 * (time - 9.5) ** 2 + 1
    params = torch.randn(3).requires_grad_()
    losses = [apply_step(params, time, speed, 1e-5) for _ in range(SLOW_STEPS)]
    losses += [apply_step(params, time, speed, 1e-3) for _ in range(STEPS)]
    return {
        "loss before training": losses[0],
        "loss after 10 steps at lr 1e-5": losses[SLOW_STEPS],
        "loss after 20 more steps at lr 1e-3": mse(f(time, params), speed).item(),
    }
