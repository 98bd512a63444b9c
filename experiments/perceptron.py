"""B3 (lab 08-1): a single perceptron, Linear(2, 1) + sigmoid, trained with BCE and SGD (lr 1)
for 10,001 full-batch steps on the four points of AND, OR and XOR. AND and OR are linearly
separable and are learned; XOR is not: its loss stalls near ln 2 ≈ 0.693."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn
from flax.training.train_state import TrainState
from matplotlib.figure import Figure

from experiments.harness import plots, toy_data
from jaxnets import losses
from jaxnets.models import Linear

ID = "B3"
TITLE = "Perceptron on AND, OR and XOR"
SUMMARY = "Linear(2,1)+sigmoid, BCE, SGD lr 1, 10,001 full-batch steps on each logic gate"

GATES = ("and", "or", "xor")


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 10001  # full-batch steps, as the lab's `for step in range(10001)`
    lr: float = 1.0
    log_every: int = 100


class Perceptron(nn.Module):
    """The lab's ``torch.nn.Sequential(linear, sigmoid)``: ``Linear(2, 1, bias=True)`` with
    PyTorch's default init, then a sigmoid: the probability of class 1."""

    @nn.compact
    def __call__(self, x):
        return nn.sigmoid(Linear(1)(x))


@jax.jit
def train_step(state: TrainState, x: jax.Array, y: jax.Array) -> tuple[TrainState, jax.Array]:
    """The body of the lab's ``for step in range(10001)``: ``hypothesis = model(X)``, ``cost =
    criterion(hypothesis, Y)`` (``BCELoss``, the mean), ``cost.backward()`` (``jax.value_and_grad``)
    and ``optimizer.step()`` (``apply_gradients``); the cost is the one before the step. There is no
    ``optimizer.zero_grad()``: JAX returns the gradients, it does not accumulate them."""

    def cost_fn(params):
        hypothesis = state.apply_fn({"params": params}, x)
        return losses.binary_cross_entropy(hypothesis, y).mean()

    cost, grads = jax.value_and_grad(cost_fn)(state.params)
    return state.apply_gradients(grads=grads), cost


def run(cfg: Config, ws) -> dict:
    model, optimizer = Perceptron(), optax.sgd(cfg.lr)  # optim.SGD(model.parameters(), lr=1)

    def create_state(seed, x):  # torch.manual_seed(seed), then the model's parameters
        params = model.init(jax.random.key(seed), x)["params"]
        return TrainState.create(apply_fn=model.apply, params=params, tx=optimizer)

    # --seeds N: the lab from the seeds seed, seed + 1, … at once, as one program: jax.vmap over
    # their states, X and Y shared. Its numbers: one seed's as they are, N seeds' with an axis of N.
    seeds = jnp.arange(cfg.seeds, dtype=jnp.uint32) + jnp.uint32(cfg.seed)
    train_step_each = jax.jit(jax.vmap(train_step, in_axes=(0, None, None)))
    runs = slice(None) if cfg.seeds > 1 else 0
    at_200 = min(200, cfg.epochs - 1)
    out, curves, history, log = {}, {}, [], []
    fig = Figure(figsize=(16, 4))
    axes = fig.subplots(1, 4)
    for ax, gate in zip(axes[1:], GATES, strict=True):
        x, y = toy_data.logic_gate(gate)  # the lab's X and the gate's Y
        state, costs = jax.vmap(create_state, in_axes=(0, None))(seeds, x), []
        for _ in range(cfg.epochs):  # for step in range(10001)
            state, cost = train_step_each(state, x, y)
            costs.append(cost)
        curves[gate] = costs = np.stack(costs, axis=1)  # (seeds, steps): each step's cost, before its update
        # The lab's `if step % 100 == 0: print(step, cost.item())`, as rows of the history.
        history += [
            {"gate": gate, "seed": cfg.seed + k, "step": s, "loss": float(costs[k, s])}
            for k in range(cfg.seeds)
            for s in range(0, cfg.epochs, cfg.log_every)
        ]
        # predicted = (model(X) > 0.5).float(); accuracy = (predicted == Y).float().mean()
        hypothesis = jax.vmap(lambda s, x=x: s.apply_fn({"params": s.params}, x))(state)
        predicted = np.asarray(hypothesis > 0.5)[..., 0]  # (seeds, 4 points)
        accuracy = (predicted == (y[:, 0] > 0.5)).mean(axis=1)
        out[gate] = {
            "final_loss": costs[runs, -1],
            "accuracy": accuracy[runs],
            "predictions": predicted[0].astype(int).tolist(),  # the first seed's
            "loss_at_200": costs[runs, at_200],
        }
        log.append(
            f"{gate.upper()}: loss {costs[:, 0].mean():.4f} → {costs[:, -1].mean():.4f}, "
            f"predictions {out[gate]['predictions']}"
        )
        plots.band_line(axes[0], np.arange(cfg.epochs), costs, label=gate.upper())
        first = jax.tree.map(lambda a: a[0], state.params)  # the first seed's model
        plots.decision_regions(
            ax,
            lambda g, p=first: model.apply({"params": p}, g),
            x,
            y,
            f"{gate.upper()}: accuracy {accuracy.mean():.2f}",
        )
    # XOR's cost barely moves after step ~200: by how much, at most, over the seeds.
    xor = curves["xor"]
    out["xor"]["largest_change_after_step_200"] = float(np.abs(xor[:, -1] - xor[:, at_200]).max())
    axes[0].set(title="Perceptron: BCE per step", xlabel="step", ylabel="binary cross-entropy", yscale="log")
    axes[0].axhline(np.log(2), color="gray", ls=":", label="ln 2 = 0.693")
    axes[0].legend(fontsize=8)
    plots.save(fig, ws.plots / "perceptron.png")
    return {**out, "history": history, "log": log}


NOTES = {
    "AND accuracy (every seed)": ("and/accuracy", "= 1.0", 1.0),
    "OR accuracy (every seed)": ("or/accuracy", "= 1.0", 1.0),
    "XOR accuracy, final loss": (
        ("xor/accuracy", "xor/final_loss"),
        ["≤ 0.75", "> 0.69"],
        "not learned, ~0.693",
    ),
    "XOR: |loss(step 10000) - loss(step 200)|, largest over seeds": (
        "xor/largest_change_after_step_200",
        "< 0.01",
        "stalls from ~step 200",
    ),
}
