"""C4 twin: the fastai book's ``BasicOptim`` on ``nn.Linear(28*28, 1)``, as the notes write it
(seed 001, cells 62-64): PyTorch's default init, ``mnist_loss``, the book's unshuffled
``DataLoader(dset, batch_size=256)``, lr 1, 20 epochs, ``validate_epoch`` after each."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader

from twins.data import mnist_sample
from twins.linear_scratch import batch_accuracy, calc_grad

NUMBERS = {
    "valid accuracy after epoch 1": {
        "notes": 0.4932,
        "ours": "valid_accuracy_per_epoch/0",
        "kind": "accuracy, early",
    },
    "valid accuracy after 20 epochs": {"notes": 0.9785, "ours": "valid_accuracy", "kind": "accuracy"},
}
# ``train_model(linear_model, 20)`` prints each epoch's ``validate_epoch``: drawn beside ours and
# the twin's by ``python -m twins fidelity``.
CURVES = {
    "validation accuracy per epoch": {
        "notes": [0.4932, 0.8813, 0.8149, 0.9087, 0.9316, 0.9472, 0.9555, 0.9619, 0.9658, 0.9678]
        + [0.9697, 0.9726, 0.9736, 0.9746, 0.9761, 0.9765, 0.9775, 0.978, 0.9785, 0.9785],
        "ours": "valid_accuracy_per_epoch",
        "first_epoch": 1,
        "ylabel": "validation accuracy (mean of batch accuracies)",
    }
}


class BasicOptim:
    def __init__(self, params, lr):
        self.params = list(params)
        self.lr = lr

    def step(self, *args, **kwargs):
        for p in self.params:
            p.data -= p.grad.data * self.lr

    def zero_grad(self, *args, **kwargs):
        for p in self.params:
            p.grad = None


def train_step(model, opt, xb, yb) -> float:
    """The body of the book's ``train_epoch``; the batch's loss."""
    loss = calc_grad(xb, yb, model)
    opt.step()
    opt.zero_grad()
    return loss.item()


def run(seed: int, data_dir: str | None = None, epochs: int = 20) -> dict[str, float | list[float]]:
    torch.manual_seed(seed)
    (train_x, train_y), (valid_x, valid_y) = mnist_sample(data_dir)
    dl = DataLoader(list(zip(train_x, train_y, strict=True)), batch_size=256)
    valid_dl = DataLoader(list(zip(valid_x, valid_y, strict=True)), batch_size=256)
    lr = 1.0
    linear_model = nn.Linear(28 * 28, 1)
    opt = BasicOptim(linear_model.parameters(), lr)

    def validate_epoch(model):
        accs = [batch_accuracy(model(xb), yb) for xb, yb in valid_dl]
        return round(torch.stack(accs).mean().item(), 4)

    accs = []
    for _ in range(epochs):
        for xb, yb in dl:
            train_step(linear_model, opt, xb, yb)
        accs.append(validate_epoch(linear_model))
    return {
        "valid accuracy after epoch 1": accs[0],
        "valid accuracy after 20 epochs": accs[-1],
        "validation accuracy per epoch": accs,
    }
