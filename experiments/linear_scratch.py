"""C3 (fastai ch. 4): a linear 3-vs-7 classifier from scratch. The parameters are a plain
pytree (weights 784×1 and a bias, both N(0, 1)), the loss is ``mnist_loss`` (how far
sigmoid(prediction) is from the target), the gradient comes from ``jax.grad`` and the step is
p ← p − lr·g; batch 256, lr 1.0, validation accuracy after every epoch: as the book runs it, one
epoch, then ``for i in range(20)`` more (21 in all). Also: why accuracy cannot be the loss (its
gradient is zero almost everywhere)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments.harness import plots, toy_data
from experiments.harness.checks import above, all_of, at_least, equal, rises
from experiments.harness.contract import Experiment, Outcome, Workspace
from experiments.harness.stats import dist
from jaxnets import data, losses
from jaxnets.loop import seed_keys
from jaxnets.metrics import logit_accuracy


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 20  # after the first one: the book's `for i in range(20)`
    lr: float = 1.0
    batch_size: int = 256
    data_dir: str | None = None


def linear1(params: dict, xb: jax.Array) -> jax.Array:
    """The model: xb @ weights + bias."""
    return xb @ params["weights"] + params["bias"]


@jax.jit
def calc_grad_and_step(params: dict, xb: jax.Array, yb: jax.Array, lr: float) -> dict:
    """The book's ``calc_grad`` and update in one: p ← p − lr · ∂mnist_loss/∂p."""
    grads = jax.grad(lambda p: losses.mnist_loss(linear1(p, xb), yb).mean())(params)
    return jax.tree.map(lambda p, g: p - lr * g, params, grads)


@jax.jit
def batch_accuracy(params: dict, xb: jax.Array, yb: jax.Array) -> jax.Array:
    return logit_accuracy(linear1(params, xb), yb).mean()


def validate_epoch(params: dict, valid: tuple, batch_size: int) -> np.ndarray:
    """The book's validation metric: the mean of the per-batch accuracies, rounded to 4 places
    (one per seed: ``params`` holds every seed's, stacked)."""
    xv, yv = valid
    accs = [
        jax.vmap(batch_accuracy, (0, None, None))(params, xv[i : i + batch_size], yv[i : i + batch_size])
        for i in range(0, len(xv), batch_size)
    ]
    return np.round(np.asarray(jnp.stack(accs).mean(0)), 4)


def init_params(key: jax.Array) -> dict:
    """Weights 784×1 and a bias, both N(0, 1)."""
    kw, kb = jax.random.split(key)
    return {"weights": jax.random.normal(kw, (28 * 28, 1)), "bias": jax.random.normal(kb, (1,))}


def run(cfg: Config, ws: Workspace) -> Outcome:
    # The 3s and 7s as rows of 784 pixels; each seed's weights and bias ~ N(0, 1), stacked.
    # The 3s and 7s as the book stacks them: every 3, then every 7.
    (x, y), (xv, yv) = map(toy_data.threes_then_sevens, data.load_float("mnist_sample", cfg.data_dir))
    x, xv = x.reshape(-1, 28 * 28), xv.reshape(-1, 28 * 28)
    seeds = range(cfg.seed, cfg.seed + cfg.seeds)
    params = jax.vmap(init_params)(seed_keys(seeds))

    # Accuracy as a loss: a step function of the parameters, so its gradient is zero.
    first = jax.tree.map(lambda p: p[0], params)
    xb, yb = x[:256], y[:256]
    acc_grad = jax.grad(lambda p: 1 - logit_accuracy(linear1(p, xb), yb).mean())(first)
    loss_grad = jax.grad(lambda p: losses.mnist_loss(linear1(p, xb), yb).mean())(first)
    max_abs = {
        name: float(max(jnp.abs(g).max() for g in jax.tree.leaves(grad)))
        for name, grad in (("accuracy", acc_grad), ("mnist_loss", loss_grad))
    }

    # train_epoch: the book's DataLoader(dset, batch_size=256): batches in order, not shuffled (so
    # 3s, then 7s), the last one partial, one step each; every seed takes its step at once (the
    # same step, vmapped over the seeds' parameters).
    step = jax.jit(jax.vmap(calc_grad_and_step, (0, None, None, None)))
    accs = [validate_epoch(params, (xv, yv), cfg.batch_size)]
    for _ in range(1 + cfg.epochs):
        for i in range(0, len(x), cfg.batch_size):
            params = step(params, x[i : i + cfg.batch_size], y[i : i + cfg.batch_size], cfg.lr)
        accs.append(validate_epoch(params, (xv, yv), cfg.batch_size))
    accs = np.array(accs).T  # seeds × (epochs + 1)
    exact = dist(jax.vmap(batch_accuracy, (0, None, None))(params, xv, yv))

    plots.curves(
        ws.plots / "linear_scratch.png",
        {"validation accuracy": (np.arange(accs.shape[1]), accs)},
        title="Linear model from scratch: validation accuracy per epoch",
        ylabel="accuracy (mean of batch accuracies)",
        markers=True,
    )
    before, after_one, last = dist(accs[:, 0]), dist(accs[:, 1]), dist(accs[:, -1])
    return Outcome(
        history=[
            {"seed": s, "epoch": e, "valid_batch_accuracy": a}
            for s, row in zip(seeds, accs, strict=True)
            for e, a in enumerate(row)
        ],
        metrics={
            "valid_accuracy_per_epoch": [dist(a) for a in accs.T],
            "valid_accuracy_exact": exact,
            "max_abs_gradient": max_abs,
        },
        checks=[
            rises(
                "valid accuracy: before → epoch 1",
                before,
                after_one,
                notes=[0.4606, 0.6331],
            ),
            at_least(f"valid accuracy after 1 + {cfg.epochs} epochs", last, 0.96, notes=0.9681),
            all_of(
                "max |gradient| of accuracy-as-loss vs mnist_loss",
                [max_abs["accuracy"], max_abs["mnist_loss"]],
                [equal("accuracy", max_abs["accuracy"], 0), above("mnist_loss", max_abs["mnist_loss"], 0)],
                notes="zero vs non-zero",
            ),
        ],
        log=[" ".join(f"{dist(a):.4f}" for a in accs.T)],
    )


EXPERIMENT = Experiment(
    __name__,
    "C3",
    "Linear 3-vs-7 model from scratch: mnist_loss, jax.grad, p -= lr * g",
    "784x1 weights + bias ~ N(0,1), mnist_loss, batch 256, lr 1.0, 1 + 20 epochs on MNIST_SAMPLE",
    Config,
    run,
    quick={"epochs": 8},
)

if __name__ == "__main__":
    from experiments.harness.cli import main

    sys.exit(main([EXPERIMENT.id, *sys.argv[1:]]))
