"""B3 (lab 08-1): a single perceptron, Linear(2, 1) + sigmoid, trained with BCE and SGD (lr 1)
for 10,001 full-batch steps on the four points of AND, OR and XOR. AND and OR are linearly
separable and are learned; XOR is not: its loss stalls near ln 2 ≈ 0.693."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from experiments.harness import plots, toy_data
from experiments.harness.checks import above, all_of, at_most, below, equal
from experiments.harness.contract import Experiment, Outcome, Workspace
from experiments.harness.stats import dist
from jaxnets import losses, models, optim
from jaxnets.loop import seeded_state
from jaxnets.state import each_run
from jaxnets.steps import predict, train_full_batch

GATES = ("and", "or", "xor")


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 10001  # full-batch steps, as the lab's `for step in range(10001)`
    lr: float = 1.0
    log_every: int = 100


def run(cfg: Config, ws: Workspace) -> Outcome:
    # One neuron: Linear(2, 1) → sigmoid, BCE, SGD lr 1.
    model = models.perceptron()
    tx = optim.optimizer("sgd", cfg.lr)
    history, metrics, log = [], {}, []
    fig, axes = plots.figure(1, 4, figsize=(16, 4))
    for ax, gate in zip(axes[1:], GATES, strict=True):
        # Each gate's four points, trained for 10,001 steps (all seeds as one program).
        x, y = toy_data.logic_gate(gate)
        state, _ = seeded_state(
            model, tx, x[:1], seed=cfg.seed, seeds=cfg.seeds, loss_fn=losses.binary_cross_entropy
        )
        state, step_metrics = train_full_batch(state, (x, y), cfg.epochs)
        curves = np.asarray(step_metrics["loss"]).reshape(cfg.seeds, -1)  # seeds × steps
        probs = np.asarray(predict(state, x)).reshape(cfg.seeds, -1)
        accuracy = dist(np.mean((probs > 0.5) == (y.ravel() > 0.5), axis=1))
        history += [
            {"gate": gate, "seed": cfg.seed + k, "step": s, "loss": float(curve[s])}
            for k, curve in enumerate(curves)
            for s in range(0, cfg.epochs, cfg.log_every)
        ]
        metrics[gate] = {
            "final_loss": dist(curves[:, -1]),
            "accuracy": accuracy,
            "predictions": (probs[0] > 0.5).astype(int).tolist(),  # the first seed's
            "loss_at_200": dist(curves[:, min(200, curves.shape[1] - 1)]),
        }
        log.append(
            f"{gate.upper()}: loss {dist(curves[:, 0]):.4f} → {metrics[gate]['final_loss']:.4f}, "
            f"predictions {metrics[gate]['predictions']}"
        )
        plots.band_line(axes[0], np.arange(curves.shape[1]), curves, label=gate.upper())
        first = each_run(state)[0]
        plots.decision_regions(
            ax,
            lambda g, p=first.params: model.apply({"params": p}, g),
            x,
            y,
            f"{gate.upper()}: accuracy {accuracy:.2f}",
        )
    axes[0].set(title="Perceptron: BCE per step", xlabel="step", ylabel="binary cross-entropy", yscale="log")
    axes[0].axhline(np.log(2), color="gray", ls=":", label="ln 2 = 0.693")
    axes[0].legend(fontsize=8)
    plots.save(fig, ws.plots / "perceptron.png")

    xor = metrics["xor"]
    stall = float(np.max(np.abs(np.subtract(xor["final_loss"].values, xor["loss_at_200"].values))))
    return Outcome(
        history=history,
        metrics=metrics,
        checks=[
            equal("AND accuracy (every seed)", metrics["and"]["accuracy"], 1.0, notes=1.0),
            equal("OR accuracy (every seed)", metrics["or"]["accuracy"], 1.0, notes=1.0),
            all_of(
                "XOR accuracy, final loss",
                [xor["accuracy"], xor["final_loss"]],
                [at_most("accuracy", xor["accuracy"], 0.75), above("loss", xor["final_loss"], 0.69)],
                notes="not learned, ~0.693",
            ),
            below(
                "XOR: |loss(step 10000) - loss(step 200)|, largest over seeds",
                stall,
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
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
