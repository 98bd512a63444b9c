"""C3 twin: the fastai book's linear model from scratch, as the notes write it (seed 001, cells
37-61): weights and bias ~ N(0, 1), ``linear1``, ``mnist_loss``, ``DataLoader(dset,
batch_size=256)`` (in order, not shuffled, the last batch partial), ``p.data -= p.grad*lr``,
``validate_epoch`` (the mean of the batch accuracies, rounded to 4 places); one epoch, then 20."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from twins.data import mnist_sample

NUMBERS = {
    "valid accuracy before training": {
        "notes": 0.4606,
        "ours": "valid_accuracy_per_epoch/0",
        "kind": "accuracy, early",
    },
    "valid accuracy after epoch 1": {
        "notes": 0.6331,
        "ours": "valid_accuracy_per_epoch/1",
        "kind": "accuracy, early",
    },
    "valid accuracy after 1 + 20 epochs": {
        "notes": 0.9681,
        "ours": "valid_accuracy_per_epoch/-1",
        "kind": "accuracy",
    },
}
# The numbers the notes print per epoch (before training, after the first epoch, then the 20 of
# ``for i in range(20)``), drawn beside ours and the twin's by ``python -m twins fidelity``.
CURVES = {
    "validation accuracy per epoch": {
        "notes": [0.4606, 0.6331, 0.7714, 0.8851, 0.9218, 0.9383, 0.9452, 0.953, 0.9564, 0.9593, 0.9618]
        + [0.9627, 0.9622, 0.9618, 0.9618, 0.9637, 0.9657, 0.9666, 0.9666, 0.9671, 0.9681, 0.9681],
        "ours": "valid_accuracy_per_epoch",
        "first_epoch": 0,
        "ylabel": "validation accuracy (mean of batch accuracies)",
    }
}


def init_params(size, std=1.0):
    return (torch.randn(size) * std).requires_grad_()


def mnist_loss(predictions, targets):
    predictions = predictions.sigmoid()
    return torch.where(targets == 1, 1 - predictions, predictions).mean()


def batch_accuracy(xb, yb):
    preds = xb.sigmoid()
    correct = (preds > 0.5) == yb
    return correct.float().mean()


def calc_grad(xb, yb, model):
    preds = model(xb)
    loss = mnist_loss(preds, yb)
    loss.backward()
    return loss


def step(params, lr):
    """The body of the book's ``train_epoch`` after ``calc_grad``."""
    for p in params:
        p.data -= p.grad * lr
        p.grad.zero_()


def run(seed: int, data_dir: str | None = None, epochs: int = 20) -> dict[str, float | list[float]]:
    torch.manual_seed(seed)
    (train_x, train_y), (valid_x, valid_y) = mnist_sample(data_dir)
    dl = DataLoader(list(zip(train_x, train_y, strict=True)), batch_size=256)
    valid_dl = DataLoader(list(zip(valid_x, valid_y, strict=True)), batch_size=256)
    weights = init_params((28 * 28, 1))
    bias = init_params(1)

    def linear1(xb):
        return xb @ weights + bias

    def train_epoch(model, lr, params):
        for xb, yb in dl:
            calc_grad(xb, yb, model)
            step(params, lr)

    def validate_epoch(model):
        accs = [batch_accuracy(model(xb), yb) for xb, yb in valid_dl]
        return round(torch.stack(accs).mean().item(), 4)

    lr = 1.0
    params = weights, bias
    accs = [validate_epoch(linear1)]
    train_epoch(linear1, lr, params)
    accs.append(validate_epoch(linear1))
    for _ in range(epochs):
        train_epoch(linear1, lr, params)
        accs.append(validate_epoch(linear1))
    return {
        "valid accuracy before training": accs[0],
        "valid accuracy after epoch 1": accs[1],
        "valid accuracy after 1 + 20 epochs": accs[-1],
        "validation accuracy per epoch": accs,
    }
