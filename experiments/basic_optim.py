"""C4 (fastai ch. 4): the optimizer as an object. The book's ``BasicOptim`` (``step``: p ← p −
lr·g; ``zero_grad``) becomes a tiny Optax ``GradientTransformation`` of our own, stepping a
Linear(784, 1) layer with PyTorch's default init, ``mnist_loss``, batch 256, lr 1.0, 20 epochs,
on the book's data loader: 3s then 7s, in order (not shuffled), the last batch partial, and
``validate_epoch`` (the mean of the accuracies of batches of 256) after each epoch. Then, as the
book does, the library's SGD (``optax.sgd``) replaces it and gives the very same parameters."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
import optax

from experiments.harness import plots, toy_data
from jaxnets import data, losses
from jaxnets.metrics import logit_binary_metrics
from jaxnets.models import Linear
from jaxnets.train import evaluate, seeded_state, train_step

ID = "C4"
TITLE = "BasicOptim: the SGD step as an Optax transformation, then optax.sgd"
SUMMARY = (
    "Linear(784,1) (PyTorch init), mnist_loss, our BasicOptim vs optax.sgd, lr 1.0, batch 256, 20 epochs"
)

# What the notes printed after each of the 20 epochs (validate_epoch, the BasicOptim run).
NOTES_CURVE = (0.4932, 0.8813, 0.8149, 0.9087, 0.9316, 0.9472, 0.9555, 0.9619, 0.9658, 0.9678)
NOTES_CURVE += (0.9697, 0.9726, 0.9736, 0.9746, 0.9761, 0.9765, 0.9775, 0.978, 0.9785, 0.9785)


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    epochs: int = 20
    lr: float = 1.0
    batch_size: int = 256
    data_dir: str | None = None


QUICK = {"epochs": 3}


def basic_optim(lr: float) -> optax.GradientTransformation:
    """The book's ``BasicOptim``: its ``step`` is p ← p − lr·g and nothing else, so its state is
    empty; ``zero_grad`` has no counterpart (JAX's gradients are returned, not accumulated)."""

    def init(params):
        return optax.EmptyState()

    def update(grads, state, params=None):
        return jax.tree.map(lambda g: -lr * g, grads), state

    return optax.GradientTransformation(init, update)


def run(cfg: Config, ws) -> dict:
    # The book's dl and valid_dl: DataLoader(dset, batch_size=256), 3s then 7s, unshuffled.
    (x, y), (xv, yv) = map(toy_data.threes_then_sevens, data.load_float("mnist_sample", cfg.data_dir))
    x, valid = x.reshape(-1, 28 * 28), (xv.reshape(-1, 28 * 28), yv)  # .view(-1, 28*28)
    accuracies, states = {}, {}
    for name, tx in (("BasicOptim", basic_optim(cfg.lr)), ("optax.sgd", optax.sgd(cfg.lr))):
        # linear_model = nn.Linear(28*28, 1), one per seed (--seeds N: stacked, stepped as one).
        state, _ = seeded_state(
            Linear(1),
            tx,
            x[:1],
            seed=cfg.seed,
            seeds=cfg.seeds,
            loss_fn=losses.mnist_loss,
            metrics_fn=logit_binary_metrics,
        )
        accuracies[name] = []
        for _ in range(cfg.epochs):  # train_model(linear_model, 20)
            for i in range(0, len(x), cfg.batch_size):  # train_epoch: every batch, the last partial
                state, _ = train_step(state, (x[i : i + cfg.batch_size], y[i : i + cfg.batch_size]))
            # validate_epoch: the mean of the batches' accuracies, each batch counting once
            accuracies[name].append(
                evaluate(state, valid, batch_size=cfg.batch_size, batch_mean=True)["accuracy"]
            )
        print(f"{name}:", " ".join(f"{np.mean(a):.4f}" for a in accuracies[name]))
        states[name] = state
    # The same steps from the same start: BasicOptim and optax.sgd end on the same parameters.
    leaves = zip(*(jax.tree.leaves(s.params) for s in states.values()), strict=True)
    max_diff = max(float(np.max(np.abs(a - b))) for a, b in leaves)
    per_epoch = {k: np.stack(v, -1) for k, v in accuracies.items()}  # (seeds, epochs), or (epochs,)
    epochs = np.arange(1, cfg.epochs + 1)
    plots.curves(
        ws.plots / "basic_optim.png",
        {k: (epochs, v) for k, v in per_epoch.items()}
        | {"the notes (one run)": (epochs, NOTES_CURVE[: cfg.epochs])},
        title="Linear(784, 1): validation accuracy, ours and the notes",
        ylabel="validation accuracy (mean of batch accuracies)",
        markers=True,
    )
    return {
        "valid_accuracy": accuracies["BasicOptim"][-1],
        "valid_accuracy_per_epoch": per_epoch["BasicOptim"],
        "valid_accuracy_exact": evaluate(states["BasicOptim"], valid)["accuracy"],
        "params_identical": max_diff == 0.0,
        "max_param_difference": max_diff,
        "history": [
            {"optimizer": k, "epoch": e, "valid_accuracy": float(np.mean(a))}
            for k, v in accuracies.items()
            for e, a in enumerate(v, 1)
        ],
    }


NOTES = {
    "valid accuracy after the last epoch": ("valid_accuracy", "≥ 0.97", 0.9785),
    "BasicOptim params == optax.sgd params, bit for bit": ("params_identical", "= True", True),
}
