"""B13 (lab 08-2, "Backpropagation"): the chain rule by hand, as the notes explain it.

(a) The notes' computational graph: q = x·y, f = q + z at x = −2, y = 5, z = 3. Forward: q = −10,
f = −7. Backward: each node's local derivative, multiplied along the path (the chain rule),
gives ∂f/∂x = y = 5, ∂f/∂y = x = −2, ∂f/∂z = 1; ``jax.grad`` gives the same.

(b) The XOR net of B4 (2-2-1, sigmoids, BCE, SGD lr 1, 10,001 full-batch steps) trained with a
backward pass written out in plain ``jax.numpy``, in the notes' order: forward, loss, backward
step 1 (the output layer's weights), backward step 2 (the hidden layer's, through σ' = σ(1 − σ)),
update. At every step the hand gradients are compared with ``jax.grad``'s, and the whole loss
trajectory with B4's (lab 08-1's ``train_step``, ``jax.grad``) from the same initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState
from matplotlib.figure import Figure

from experiments.harness import plots, toy_data
from experiments.perceptron import train_step
from experiments.xor_mlp import XORNet
from jaxnets import losses

ID = "B13"
TITLE = "Backpropagation by hand: the chain rule, then the XOR net"
SUMMARY = "the notes' graph (-2*5)+3 = -7 backward by the chain rule; B4's 2-2-1 XOR net with hand gradients"


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 10001  # full-batch steps, as B4
    lr: float = 1.0
    log_every: int = 100


# --- (a) the computational graph ----------------------------------------------------------------


def graph(x: float, y: float, z: float) -> dict[str, float]:
    """Forward through q = x·y and f = q + z, then backward by the chain rule (``df_dx`` is ∂f/∂x)."""
    q = x * y  # forward
    f = q + z
    dq_dx, dq_dy, df_dq, df_dz = y, x, 1.0, 1.0  # each node's own (local) derivative
    return {  # backward: from f back to the inputs, the local derivatives multiplied along the path
        "q": q,
        "f": f,
        "dq_dx": dq_dx,
        "dq_dy": dq_dy,
        "df_dq": df_dq,
        "df_dz": df_dz,
        "df_dx": df_dq * dq_dx,
        "df_dy": df_dq * dq_dy,
    }


# --- (b) the XOR net, by hand ---------------------------------------------------------------------


def forward(params: dict, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """z1 = x W1 + b1, h = σ(z1); z2 = h W2 + b2, p = σ(z2) (the prediction, "hypothesis")."""
    h = jax.nn.sigmoid(x @ params["W1"] + params["b1"])
    return h, jax.nn.sigmoid(h @ params["W2"] + params["b2"])


def backward(params: dict, x: jax.Array, y: jax.Array) -> tuple[jax.Array, dict]:
    """The loss and its gradient with respect to every weight, output layer first."""
    h, p = forward(params, x)
    loss = losses.binary_cross_entropy(p, y).mean()
    # Step 1, the output layer: for BCE after a sigmoid, ∂loss/∂z2 = (p − y) / n (the δ at the output).
    delta2 = (p - y) / len(x)
    grad_w2, grad_b2 = h.T @ delta2, delta2.sum(0)
    # Step 2, the hidden layer: δ flows back through W2, then through σ'(z1) = h (1 − h).
    delta1 = (delta2 @ params["W2"].T) * h * (1 - h)
    grad_w1, grad_b1 = x.T @ delta1, delta1.sum(0)
    return loss, {"W1": grad_w1, "b1": grad_b1, "W2": grad_w2, "b2": grad_b2}


def autodiff(params: dict, x: jax.Array, y: jax.Array) -> dict:
    """The same gradient from ``jax.grad``."""
    return jax.grad(lambda p: losses.binary_cross_entropy(forward(p, x)[1], y).mean())(params)


def step_by_hand(params: dict, x: jax.Array, y: jax.Array, lr: float) -> tuple[dict, jax.Array, jax.Array]:
    """One update W ← W − lr · ∂loss/∂W with the hand gradients: the new weights, the loss before
    the update and the largest |hand − jax.grad| gradient entry."""
    loss, grads = backward(params, x, y)
    difference = jax.tree.map(lambda a, b: jnp.max(jnp.abs(a - b)), grads, autodiff(params, x, y))
    gap = jnp.max(jnp.stack(jax.tree.leaves(difference)))
    return jax.tree.map(lambda w, g: w - lr * g, params, grads), loss, gap


def from_flax(params: dict) -> dict:
    """B4's Flax parameters (Linear_0, Linear_1) under the notes' names W1, b1, W2, b2."""
    first, second = params["Linear_0"], params["Linear_1"]
    return {"W1": first["kernel"], "b1": first["bias"], "W2": second["kernel"], "b2": second["bias"]}


def run(cfg: Config, ws) -> dict:
    # (a) The graph, forward and backward, and jax.grad of f(x, y, z) = x·y + z.
    g = graph(-2.0, 5.0, 3.0)
    by_jax = jax.grad(lambda x, y, z: x * y + z, argnums=(0, 1, 2))(-2.0, 5.0, 3.0)

    # (b) B4's net and initialisation, from each seed (--seeds N: N at once, jax.vmap over them) ...
    x, y = map(jnp.asarray, toy_data.logic_gate("xor"))
    model = XORNet((2, 1))
    seeds = jnp.arange(cfg.seeds, dtype=jnp.uint32) + jnp.uint32(cfg.seed)
    params = jax.vmap(lambda seed: model.init(jax.random.key(seed), x)["params"])(seeds)
    # ... trained as B4 is (lab 08-1's train_step: jax.grad, then SGD), and by hand, from the same weights.
    state = jax.vmap(lambda p: TrainState.create(apply_fn=model.apply, params=p, tx=optax.sgd(cfg.lr)))(
        params
    )
    weights = from_flax(params)
    b4_step = jax.jit(jax.vmap(train_step, in_axes=(0, None, None)))
    hand_step = jax.jit(jax.vmap(step_by_hand, in_axes=(0, None, None, None)))
    b4_loss, hand_loss, gap = [], [], []
    for _ in range(cfg.epochs):  # for step in range(10001), both ways
        state, cost = b4_step(state, x, y)
        weights, loss, difference = hand_step(weights, x, y, cfg.lr)
        b4_loss.append(cost)
        hand_loss.append(loss)
        gap.append(difference)
    b4_loss, hand_loss, gap = (np.stack(a, axis=1) for a in (b4_loss, hand_loss, gap))  # (seeds, steps)
    logged = np.arange(0, cfg.epochs, cfg.log_every)
    runs = slice(None) if cfg.seeds > 1 else 0  # one seed: its numbers; N seeds: an axis of N

    fig = Figure(figsize=(11, 4.2))
    left, right = fig.subplots(1, 2)
    steps = np.arange(cfg.epochs)
    plots.band_line(left, steps, b4_loss, logy=True, label="B4: jax.grad (train_step)", lw=3, alpha=0.5)
    plots.band_line(left, steps, hand_loss, "--", logy=True, label="by hand (δ, then σ' = σ(1 − σ))")
    left.set(title="XOR 2-2-1: BCE per step", xlabel="step", ylabel="binary cross-entropy", yscale="log")
    left.legend(fontsize=8)
    worst = np.maximum(gap.max(axis=0), 1e-12)  # the worst seed at each step
    plots.band_line(right, steps, worst, ",", logy=True, label="largest |hand − jax.grad| entry")
    right.axhline(1e-6, color="red", ls=":", label="bar: 1e-6")
    right.set(
        title="Gradient difference at each step", xlabel="step", ylabel="max |difference| (log)", yscale="log"
    )
    right.legend(fontsize=8, loc="lower left")
    plots.save(fig, ws.plots / "backprop.png")

    by_hand = [g["df_dx"], g["df_dy"], g["df_dz"]]
    grad_gap = float(gap.max())  # over every step and seed
    loss_gap = float(np.abs(hand_loss - b4_loss)[:, logged].max())
    return {
        "graph": g,
        "graph_gradients_by_hand": by_hand,
        "graph_gradients_jax_grad": dict(zip(("df_dx", "df_dy", "df_dz"), map(float, by_jax), strict=True)),
        "max_gradient_difference": grad_gap,
        "max_loss_difference_at_logged_steps": loss_gap,
        "final_loss": hand_loss[runs, -1],
        "history": [
            {
                "seed": cfg.seed + k,
                "step": int(s),
                "loss_by_hand": float(hand_loss[k, s]),
                "loss_jax_grad": float(b4_loss[k, s]),
                "max_gradient_difference": float(gap[k, s]),
            }
            for k in range(cfg.seeds)
            for s in logged
        ],
        "log": [
            f"forward: q = x·y = {g['q']:g}, f = q + z = {g['f']:g}",
            f"local derivatives: ∂q/∂x = {g['dq_dx']:g}, ∂q/∂y = {g['dq_dy']:g}, ∂f/∂q = {g['df_dq']:g}, "
            f"∂f/∂z = {g['df_dz']:g}",
            f"chain rule: ∂f/∂x = ∂f/∂q·∂q/∂x = {by_hand[0]:g}, ∂f/∂y = ∂f/∂q·∂q/∂y = {by_hand[1]:g}, "
            f"∂f/∂z = {by_hand[2]:g}; jax.grad: {[float(v) for v in by_jax]}",
            f"XOR by hand: loss {hand_loss[:, 0].mean():.4f} → {hand_loss[:, -1].mean():.6f}; "
            f"largest gradient difference from jax.grad {grad_gap:.2e}, "
            f"largest loss difference from B4 {loss_gap:.2e}",
        ],
    }


NOTES = {
    "(a) forward: q = x·y, f = q + z": (("graph/q", "graph/f"), ["= -10", "= -7"], [-10, -7]),
    "(a) chain rule: [∂f/∂x, ∂f/∂y, ∂f/∂z]": (
        ("graph/df_dx", "graph/df_dy", "graph/df_dz"),
        ["= 5", "= -2", "= 1"],
        [5, -2, 1],
    ),
    "(a) jax.grad: [∂f/∂x, ∂f/∂y, ∂f/∂z]": (
        (
            "graph_gradients_jax_grad/df_dx",
            "graph_gradients_jax_grad/df_dy",
            "graph_gradients_jax_grad/df_dz",
        ),
        ["= 5", "= -2", "= 1"],
        [5, -2, 1],
    ),
    "(b) largest |hand − jax.grad| gradient entry over every step": (
        "max_gradient_difference",
        "≤ 1e-6",
        "equal",
    ),
    "(b) largest |loss by hand − B4's loss| at the logged steps": (
        "max_loss_difference_at_logged_steps",
        "≤ 1e-5",
        "the same training as B4",
    ),
}
