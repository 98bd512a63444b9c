"""B3 (lab 08-1): a single perceptron, Linear(2, 1) + sigmoid, trained with BCE and SGD (lr 1)
for 10,001 full-batch steps on the four points of AND, OR and XOR. AND and OR are linearly
separable and are learned; XOR is not: its loss stalls near ln 2 ≈ 0.693."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np

from jaxnets import data, losses, models, optim, plots
from jaxnets.results import check
from jaxnets.train import fit_full_batch

ID = "B3"
TITLE = "Perceptron on AND, OR and XOR"
DESCRIPTION = "Linear(2,1)+sigmoid, BCE, SGD lr 1, 10,001 full-batch steps on each logic gate"
GATES = ("and", "or", "xor")


# `--quick`: a reduced run for a first look (and the tests); {} when the full run is already quick.
QUICK: dict = {}


@dataclass(frozen=True)
class Config:
    seed: int = 0
    epochs: int = 10001  # full-batch steps, as the lab's `for step in range(10001)`
    lr: float = 1.0
    log_every: int = 100


def run(cfg: Config, out: Path) -> dict:
    model = models.perceptron()
    tx = optim.optimizer("sgd", cfg.lr)
    keys = jax.random.key(cfg.seed)[None]
    history, metrics, log = [], {}, []
    fig, axes = plt.subplots(1, 4, figsize=(16, 4))
    for ax, gate in zip(axes[1:], GATES, strict=True):
        x, y = data.logic_gate(gate)
        params, step_losses = fit_full_batch(model, tx, (x, y), cfg.epochs, keys, losses.binary_cross_entropy)
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
    plots.save(fig, out / "perceptron.png")

    xor = metrics["xor"]
    stall = abs(xor["final_loss"] - xor["loss_at_200"])
    return {
        "history": history,
        "metrics": metrics,
        "log": log,
        "checks": [
            check("AND accuracy", metrics["and"]["accuracy"], 1.0, "= 1", metrics["and"]["accuracy"] == 1.0),
            check("OR accuracy", metrics["or"]["accuracy"], 1.0, "= 1", metrics["or"]["accuracy"] == 1.0),
            check(
                "XOR accuracy, final loss",
                [xor["accuracy"], xor["final_loss"]],
                "not learned, ~0.693",
                "accuracy ≤ 0.75 and loss > 0.69",
                xor["accuracy"] <= 0.75 and xor["final_loss"] > 0.69,
            ),
            check(
                "XOR: |loss(step 10000) - loss(step 200)|",
                stall,
                "stalls from ~step 200",
                "< 0.01",
                stall < 0.01,
            ),
        ],
    }


if __name__ == "__main__":
    from experiments.cli import main

    sys.exit(main([ID, *sys.argv[1:]]))
