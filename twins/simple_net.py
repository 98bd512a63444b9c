"""C5 twin: the fastai book's simple net, as the notes write it (seed 001, cells 66-71):
``nn.Sequential(nn.Linear(28*28, 30), nn.ReLU(), nn.Linear(30, 1))``, ``Learner(dls, simple_net,
opt_func=SGD, loss_func=mnist_loss, metrics=batch_accuracy).fit(40, 0.1)`` on the book's
unshuffled loaders. fastai's ``Learner.fit`` in plain PyTorch: per batch ``loss.backward()``,
``opt.step()``, ``opt.zero_grad()`` (fastai's ``SGD`` without momentum is ``torch.optim.SGD``), and
the metric averaged over the validation examples (fastai's ``AvgMetric``)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader

from twins.data import mnist_sample
from twins.linear_scratch import batch_accuracy, mnist_loss

NUMBERS = {
    "valid accuracy after 40 epochs": {"notes": 0.9828, "ours": "valid_accuracy", "kind": "accuracy"},
}


def simple_net_model() -> nn.Module:
    return nn.Sequential(nn.Linear(28 * 28, 30), nn.ReLU(), nn.Linear(30, 1))


def train_step(model, opt, xb, yb) -> float:
    """One step of fastai's training loop; the batch's loss."""
    loss = mnist_loss(model(xb), yb)
    loss.backward()
    opt.step()
    opt.zero_grad()
    return loss.item()


def run(seed: int, data_dir: str | None = None, epochs: int = 40) -> dict[str, float]:
    torch.manual_seed(seed)
    (train_x, train_y), (valid_x, valid_y) = mnist_sample(data_dir)
    dl = DataLoader(list(zip(train_x, train_y, strict=True)), batch_size=256)
    valid_dl = DataLoader(list(zip(valid_x, valid_y, strict=True)), batch_size=256)
    simple_net = simple_net_model()
    opt = torch.optim.SGD(simple_net.parameters(), lr=0.1)
    for _ in range(epochs):
        simple_net.train()
        for xb, yb in dl:
            train_step(simple_net, opt, xb, yb)
        simple_net.eval()
        with torch.no_grad():
            correct = sum(batch_accuracy(simple_net(xb), yb).item() * len(xb) for xb, yb in valid_dl)
    return {"valid accuracy after 40 epochs": correct / len(valid_x)}
