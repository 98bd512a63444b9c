"""C3 (fastai ch. 4): a linear 3-vs-7 classifier from scratch. The parameters are a plain
pytree (weights 784×1 and a bias, both N(0, 1)), the loss is ``mnist_loss`` (how far
sigmoid(prediction) is from the target), the gradient comes from ``jax.grad`` and the step is
p ← p − lr·g; batch 256, lr 1.0, validation accuracy after every epoch: as the book runs it, one
epoch, then ``for i in range(20)`` more (21 in all). Also: why accuracy cannot be the loss (its
gradient is zero almost everywhere)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from experiments.harness import plots, toy_data
from jaxnets import data
from jaxnets.train import seed_keys

ID = "C3"
TITLE = "Linear 3-vs-7 model from scratch: mnist_loss, jax.grad, p -= lr * g"
SUMMARY = "784x1 weights + bias ~ N(0,1), mnist_loss, batch 256, lr 1.0, 1 + 20 epochs on MNIST_SAMPLE"


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 20  # after the first one: the book's `for i in range(20)`
    lr: float = 1.0
    batch_size: int = 256
    data_dir: str | None = None


QUICK = {"epochs": 8}


def init_params(key):
    """``weights = init_params((28*28, 1))``, ``bias = init_params(1)``: both ``torch.randn``."""
    kw, kb = jax.random.split(key)
    return {"weights": jax.random.normal(kw, (28 * 28, 1)), "bias": jax.random.normal(kb, (1,))}


def linear1(params, xb):
    """The model: ``xb@weights + bias``."""
    return xb @ params["weights"] + params["bias"]


def mnist_loss(predictions, targets):
    """How far sigmoid(prediction) is from the target: 1 − p for a 3, p for a 7, averaged."""
    predictions = jax.nn.sigmoid(predictions)
    return jnp.where(targets == 1, 1 - predictions, predictions).mean()


def batch_accuracy(xb, yb):
    """The share of a batch's predictions on the right side of 0.5."""
    preds = jax.nn.sigmoid(xb)
    correct = (preds > 0.5) == yb
    return correct.astype(jnp.float32).mean()


def largest_gradient(loss, params, xb, yb):
    """max |∂loss/∂p| over every parameter p of ``linear1``."""
    grads = jax.grad(lambda p: loss(linear1(p, xb), yb))(params)
    return jnp.max(jnp.stack([jnp.abs(g).max() for g in jax.tree.leaves(grads)]))


@jax.jit
def calc_grad_and_step(params, xb, yb, lr):
    """The book's ``calc_grad`` and the body of ``train_epoch``: the gradient of ``mnist_loss``
    (``loss.backward()``), then ``p.data -= p.grad*lr`` for every parameter."""
    grads = jax.grad(lambda p: mnist_loss(linear1(p, xb), yb))(params)
    return jax.tree.map(lambda p, g: p - lr * g, params, grads)


def run(cfg: Config, ws) -> dict:
    # train_x, train_y: every 3, then every 7, as rows of 784 pixels, the targets as a column (1 for a 3).
    (x, y), (xv, yv) = map(toy_data.threes_then_sevens, data.load_float("mnist_sample", cfg.data_dir))
    x, y, xv, yv = x.reshape(-1, 28 * 28), y[:, None], xv.reshape(-1, 28 * 28), yv[:, None]
    # dl = DataLoader(dset, batch_size=256): batches in order, not shuffled, the last one partial.
    bs = cfg.batch_size
    dl = [(x[i : i + bs], y[i : i + bs]) for i in range(0, len(x), bs)]
    valid_dl = [(xv[i : i + bs], yv[i : i + bs]) for i in range(0, len(xv), bs)]

    # --seeds N: each seed's weights and bias, stacked on a leading axis, every step vmapped over it.
    params = jax.vmap(init_params)(seed_keys(range(cfg.seed, cfg.seed + cfg.seeds)))
    step = jax.jit(jax.vmap(calc_grad_and_step, (0, None, None, None)))
    accuracy = jax.jit(jax.vmap(lambda p, xb, yb: batch_accuracy(linear1(p, xb), yb), (0, None, None)))

    def validate_epoch(params):
        """The mean of the batches' accuracies, rounded to 4 places (one per seed)."""
        accs = [accuracy(params, xb, yb) for xb, yb in valid_dl]
        return np.round(np.asarray(jnp.stack(accs).mean(0)), 4)

    # Accuracy as a loss: a step function of the parameters, so its gradient is zero (each seed's
    # parameters before training, on the first batch).
    max_abs_gradient = {
        name: np.asarray(jax.vmap(partial(largest_gradient, loss), (0, None, None))(params, *dl[0]))
        for name, loss in (("accuracy", batch_accuracy), ("mnist_loss", mnist_loss))
    }

    # train_epoch, then validate_epoch: one epoch, then `for i in range(20)` more.
    accs = [validate_epoch(params)]
    for _ in range(1 + cfg.epochs):
        for xb, yb in dl:
            params = step(params, xb, yb, cfg.lr)
        accs.append(validate_epoch(params))
    accs = np.stack(accs, -1)  # (seeds, 1 + 1 + epochs)

    plots.curves(
        ws.plots / "linear_scratch.png",
        {"validation accuracy": (np.arange(accs.shape[1]), accs)},
        title="Linear model from scratch: validation accuracy per epoch",
        ylabel="accuracy (mean of batch accuracies)",
        markers=True,
    )
    numbers = {
        "valid_accuracy_per_epoch": accs,
        "valid_accuracy": {"before": accs[:, 0], "epoch 1": accs[:, 1], "last": accs[:, -1]},
        "valid_accuracy_exact": np.asarray(accuracy(params, xv, yv)),
        "max_abs_gradient": max_abs_gradient,
    }
    if cfg.seeds == 1:  # one run: its numbers, without the seeds' axis
        numbers = jax.tree.map(lambda a: a[0], numbers)
    history = [
        {"seed": cfg.seed + k, "epoch": e, "valid_batch_accuracy": float(a)}
        for k, row in enumerate(accs)
        for e, a in enumerate(row)
    ]
    return numbers | {
        "history": history,
        "log": [" ".join(f"{a:.4f}" for a in accs.mean(0))],  # what the book prints, epoch by epoch
    }


NOTES = {
    "valid accuracy: before → epoch 1": (
        ("valid_accuracy/before", "valid_accuracy/epoch 1"),
        "rises",
        [0.4606, 0.6331],
    ),
    "valid accuracy after 1 + 20 epochs": ("valid_accuracy/last", "≥ 0.96", 0.9681),
    "max |gradient| of accuracy-as-loss vs mnist_loss": (
        ("max_abs_gradient/accuracy", "max_abs_gradient/mnist_loss"),
        ["= 0", "> 0"],
        "zero vs non-zero",
    ),
}
