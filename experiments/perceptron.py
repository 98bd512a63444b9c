"""B3 (lab 08-1): a single perceptron, Linear(2, 1) + sigmoid, trained with BCE and SGD (lr 1)
for 10,001 full-batch steps on the four points of AND, OR and XOR. AND and OR are linearly
separable and are learned; XOR is not: its loss stalls near ln 2 ≈ 0.693."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import jax
import numpy as np

from experiments.experiment import Experiment, Outcome, Workspace
from jaxnets import losses, models, optim, plots, small_data
from jaxnets.checks import below, equal, holds
from jaxnets.optimize import train_full_batch

GATES = ("and", "or", "xor")


@dataclass(frozen=True)
class Config:
    seed: int = 0
    epochs: int = 10001  # full-batch steps, as the lab's `for step in range(10001)`
    lr: float = 1.0
    log_every: int = 100


def run(cfg: Config, ws: Workspace) -> Outcome:
    # One neuron: Linear(2, 1) → sigmoid, BCE, SGD lr 1.
    model = models.perceptron()
    tx = optim.optimizer("sgd", cfg.lr)
    keys = jax.random.key(cfg.seed)[None]
    history, metrics, log = [], {}, []
    fig, axes = plots.figure(1, 4, figsize=(16, 4))
    for ax, gate in zip(axes[1:], GATES, strict=True):
        # Each gate's four points, trained for 10,001 steps.
        x, y = small_data.logic_gate(gate)
        params, step_losses = train_full_batch(
            model, tx, (x, y), cfg.epochs, keys, losses.binary_cross_entropy
        )
        params = jax.tree.map(lambda a: a[0], params)
        curve = np.asarray(step_losses[0])
        probs = np.asarray(model.apply({"params": params}, x)).ravel()
        acc = float(np.mean((probs > 0.5) == (y.ravel() > 0.5)))
        history += [
            {"gate": gate, "step": s, "loss": float(curve[s])} for s in range(0, cfg.epochs, cfg.log_every)
        ]
        metrics[gate] = {
            "final_loss": float(curve[-1]),
            "accuracy": acc,
            "predictions": (probs > 0.5).astype(int).tolist(),
            "loss_at_200": float(curve[min(200, len(curve) - 1)]),
        }
        log.append(
            f"{gate.upper()}: loss {curve[0]:.4f} → {curve[-1]:.4f}, "
            f"predictions {metrics[gate]['predictions']}"
        )
        axes[0].plot(np.arange(len(curve)), curve, label=gate.upper())
        plots.decision_regions(
            ax, lambda g, p=params: model.apply({"params": p}, g), x, y, f"{gate.upper()}: accuracy {acc:.2f}"
        )
    axes[0].set(title="Perceptron: BCE per step", xlabel="step", ylabel="binary cross-entropy", yscale="log")
    axes[0].axhline(np.log(2), color="gray", ls=":", label="ln 2 = 0.693")
    axes[0].legend()
    plots.save(fig, ws.plots / "perceptron.png")

    xor = metrics["xor"]
    return Outcome(
        history=history,
        metrics=metrics,
        checks=[
            equal("AND accuracy", metrics["and"]["accuracy"], 1.0, notes=1.0),
            equal("OR accuracy", metrics["or"]["accuracy"], 1.0, notes=1.0),
            holds(
                "XOR accuracy, final loss",
                [xor["accuracy"], xor["final_loss"]],
                "accuracy ≤ 0.75 and loss > 0.69",
                xor["accuracy"] <= 0.75 and xor["final_loss"] > 0.69,
                notes="not learned, ~0.693",
            ),
            below(
                "XOR: |loss(step 10000) - loss(step 200)|",
                abs(xor["final_loss"] - xor["loss_at_200"]),
                0.01,
                notes="stalls from ~step 200",
            ),
        ],
        log=log,
    )


EXPERIMENT = Experiment(
    __name__,
    "B3",
    "Perceptron on AND, OR and XOR",
    "Linear(2,1)+sigmoid, BCE, SGD lr 1, 10,001 full-batch steps on each logic gate",
    Config,
    run,
)

if __name__ == "__main__":
    sys.exit(EXPERIMENT.main(sys.argv[1:]))
