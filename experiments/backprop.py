"""B13 (lab 08-2, "Backpropagation"): the chain rule by hand, as the notes explain it.

(a) The notes' computational graph: q = x·y, f = q + z at x = −2, y = 5, z = 3. Forward: q = −10,
f = −7. Backward: each node's local derivative, multiplied along the path (the chain rule),
gives ∂f/∂x = y = 5, ∂f/∂y = x = −2, ∂f/∂z = 1; ``jax.grad`` gives the same.

(b) The XOR net of B4 (2-2-1, sigmoids, BCE, SGD lr 1, 10,001 full-batch steps) trained with a
backward pass written out in plain ``jax.numpy``, in the notes' order: forward, loss, backward
step 1 (the output layer's weights), backward step 2 (the hidden layer's, through σ' = σ(1 − σ)),
update. At every step the hand gradients are compared with ``jax.grad``'s, and the whole loss
trajectory with B4's (the engine, ``jax.grad``) from the same initialisation.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments.harness import plots, toy_data
from experiments.harness.checks import at_most, equal
from experiments.harness.contract import Experiment, Outcome, Workspace
from experiments.harness.stats import dist
from jaxnets import losses, models, optim
from jaxnets.loop import seeded_state
from jaxnets.state import each_run
from jaxnets.steps import train_full_batch


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 10001  # full-batch steps, as B4
    lr: float = 1.0
    log_every: int = 100


# --- (a) the computational graph ----------------------------------------------------------------


def graph(x: float, y: float, z: float) -> dict[str, float]:
    """Forward through q = x·y and f = q + z, then backward by the chain rule."""
    q = x * y  # forward
    f = q + z
    local = {"∂q/∂x": y, "∂q/∂y": x, "∂f/∂q": 1.0, "∂f/∂z": 1.0}  # each node's own derivative
    df_dq = local["∂f/∂q"]  # backward: from f back to the inputs
    return {
        "q": q,
        "f": f,
        **local,
        "∂f/∂x": df_dq * local["∂q/∂x"],
        "∂f/∂y": df_dq * local["∂q/∂y"],
        "∂f/∂z": local["∂f/∂z"],
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


def train_by_hand(params: dict, x: jax.Array, y: jax.Array, lr: float, steps: int):
    """``steps`` updates W ← W − lr · ∂loss/∂W with the hand gradients, in one ``lax.scan``.
    Returns each step's loss (before its update) and the largest |hand − jax.grad| gradient entry."""

    def step(params, _):
        loss, grads = backward(params, x, y)
        difference = jax.tree.map(lambda a, b: jnp.max(jnp.abs(a - b)), grads, autodiff(params, x, y))
        gap = jnp.max(jnp.stack(jax.tree.leaves(difference)))
        return jax.tree.map(lambda w, g: w - lr * g, params, grads), (loss, gap)

    return jax.lax.scan(step, params, length=steps)[1]


def from_flax(params: dict) -> dict:
    """B4's Flax parameters (Linear_0, Linear_1) under the notes' names W1, b1, W2, b2."""
    first, second = params["Linear_0"], params["Linear_1"]
    return {"W1": first["kernel"], "b1": first["bias"], "W2": second["kernel"], "b2": second["bias"]}


def run(cfg: Config, ws: Workspace) -> Outcome:
    # (a) The graph, forward and backward, and jax.grad of f(x, y, z) = x·y + z.
    g = graph(-2.0, 5.0, 3.0)
    by_hand = [g["∂f/∂x"], g["∂f/∂y"], g["∂f/∂z"]]
    by_jax = [float(v) for v in jax.grad(lambda x, y, z: x * y + z, argnums=(0, 1, 2))(-2.0, 5.0, 3.0)]

    # (b) B4's net and initialisation (each seed's), trained by the engine (jax.grad) ...
    x, y = map(jnp.asarray, toy_data.logic_gate("xor"))
    model = models.MLP((2, 1), activation="sigmoid", output_activation="sigmoid")
    state, _ = seeded_state(
        model,
        optim.optimizer("sgd", cfg.lr),
        x[:1],
        seed=cfg.seed,
        seeds=cfg.seeds,
        loss_fn=losses.binary_cross_entropy,
    )
    start = jax.tree.map(lambda *a: jnp.stack(a), *[from_flax(s.params) for s in each_run(state)])  # copies
    _, engine = train_full_batch(state, (x, y), cfg.epochs)  # (the state is donated)
    engine_loss = np.asarray(engine["loss"]).reshape(cfg.seeds, -1)
    # ... and by hand, from the same parameters, every seed at once.
    hand = jax.jit(jax.vmap(lambda p: train_by_hand(p, x, y, cfg.lr, cfg.epochs)))
    hand_loss, gap = (np.asarray(a) for a in hand(start))

    logged = np.arange(0, cfg.epochs, cfg.log_every)
    loss_gap = dist(np.max(np.abs(hand_loss - engine_loss)[:, logged], axis=1))
    grad_gap = dist(gap.max(axis=1))

    fig, (left, right) = plots.figure(1, 2, figsize=(11, 4.2))
    steps = np.arange(cfg.epochs)
    plots.band_line(left, steps, engine_loss, logy=True, label="B4: jax.grad (the engine)", lw=3, alpha=0.5)
    plots.band_line(left, steps, hand_loss, "--", logy=True, label="by hand (δ, then σ' = σ(1 − σ))")
    left.set(title="XOR 2-2-1: BCE per step", xlabel="step", ylabel="binary cross-entropy", yscale="log")
    left.legend(fontsize=8)
    worst = np.maximum(gap.max(axis=0), 1e-12)  # the worst seed at each step
    plots.finite_line(right, steps, worst, ",", logy=True, label="largest |hand − jax.grad| entry")
    right.axhline(1e-6, color="red", ls=":", label="bar: 1e-6")
    right.set(
        title="Gradient difference at each step", xlabel="step", ylabel="max |difference| (log)", yscale="log"
    )
    right.legend(fontsize=8, loc="lower left")
    plots.save(fig, ws.plots / "backprop.png")

    return Outcome(
        history=[
            {
                "seed": cfg.seed + k,
                "step": int(s),
                "loss_by_hand": float(hand_loss[k, s]),
                "loss_jax_grad": float(engine_loss[k, s]),
                "max_gradient_difference": float(gap[k, s]),
            }
            for k in range(cfg.seeds)
            for s in logged
        ],
        metrics={
            "graph": g,
            "graph_gradients_by_hand": by_hand,
            "graph_gradients_jax_grad": by_jax,
            "max_gradient_difference": grad_gap,
            "max_loss_difference_at_logged_steps": loss_gap,
            "final_loss": dist(hand_loss[:, -1]),
        },
        checks=[
            equal("(a) forward: q = x·y, f = q + z", [g["q"], g["f"]], [-10.0, -7.0], notes=[-10, -7]),
            equal("(a) chain rule: [∂f/∂x, ∂f/∂y, ∂f/∂z]", by_hand, [5.0, -2.0, 1.0], notes=[5, -2, 1]),
            equal("(a) jax.grad: [∂f/∂x, ∂f/∂y, ∂f/∂z]", by_jax, by_hand, notes=[5, -2, 1]),
            at_most(
                "(b) largest |hand − jax.grad| gradient entry over every step",
                grad_gap.max,
                1e-6,
                notes="equal",
            ),
            at_most(
                "(b) largest |loss by hand − B4's loss| at the logged steps",
                loss_gap.max,
                1e-5,
                notes="the same training as B4",
            ),
        ],
        log=[
            f"forward: q = x·y = {g['q']:g}, f = q + z = {g['f']:g}",
            "local derivatives: "
            + ", ".join(f"{k} = {g[k]:g}" for k in ("∂q/∂x", "∂q/∂y", "∂f/∂q", "∂f/∂z")),
            f"chain rule: ∂f/∂x = ∂f/∂q·∂q/∂x = {by_hand[0]:g}, ∂f/∂y = ∂f/∂q·∂q/∂y = {by_hand[1]:g}, "
            f"∂f/∂z = {by_hand[2]:g}; jax.grad: {by_jax}",
            f"XOR by hand: loss {dist(hand_loss[:, 0]):.4f} → {dist(hand_loss[:, -1]):.6f}; "
            f"largest gradient difference from jax.grad {grad_gap.max:.2e}, "
            f"largest loss difference from B4 {loss_gap.max:.2e}",
        ],
    )


EXPERIMENT = Experiment(
    __name__,
    "B13",
    "Backpropagation by hand: the chain rule, then the XOR net",
    "the notes' graph (-2*5)+3 = -7 backward by the chain rule; B4's 2-2-1 XOR net with hand gradients",
    Config,
    run,
)

if __name__ == "__main__":
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
