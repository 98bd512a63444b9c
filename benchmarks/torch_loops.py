"""The PyTorch side of the benchmark: the labs' models in PyTorch, and one epoch of their
training loop two ways (the labs' DataLoader loop, and a faster loop over tensors in memory)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def mlp(widths, batch_norm=False, dropout=0.0):
    """A builder of the MLP of ``jaxnets.models.MLP`` (784 inputs) in PyTorch."""
    import torch

    def build():
        layers, fan_in = [torch.nn.Flatten()], 784
        for width in widths[:-1]:
            layers.append(torch.nn.Linear(fan_in, width))
            if batch_norm:
                layers.append(torch.nn.BatchNorm1d(width))
            layers.append(torch.nn.ReLU())
            if dropout:
                layers.append(torch.nn.Dropout(dropout))
            fan_in = width
        layers.append(torch.nn.Linear(fan_in, widths[-1]))
        return torch.nn.Sequential(*layers)

    return build


def small_cnn(n_classes: int = 10):
    """A builder of ``jax_epochs.SmallCNN`` in PyTorch."""
    from torch import nn as tnn

    def build():
        layers, c_in = [], 1
        for c in (16, 32):
            layers += [tnn.Conv2d(c_in, c, 3, padding=1), tnn.BatchNorm2d(c), tnn.ReLU(), tnn.MaxPool2d(2)]
            c_in = c
        return tnn.Sequential(*layers, tnn.Flatten(), tnn.Linear(32 * 7 * 7, n_classes))

    return build


def resnet18(n_classes: int = 2):
    """A builder of the same ResNet-18 as ``jaxnets.models.ResNet18`` (grey input, 7×7 stem, max pool)."""
    import torch
    from torch import nn as tnn

    class Block(tnn.Module):
        def __init__(self, c_in, c_out, stride):
            super().__init__()
            self.c1 = tnn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            self.b1 = tnn.BatchNorm2d(c_out)
            self.c2 = tnn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
            self.b2 = tnn.BatchNorm2d(c_out)
            self.short = (
                tnn.Sequential(tnn.Conv2d(c_in, c_out, 1, stride, bias=False), tnn.BatchNorm2d(c_out))
                if stride != 1 or c_in != c_out
                else tnn.Identity()
            )

        def forward(self, x):
            y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
            return torch.relu(self.short(x) + y)

    def build():
        layers = [
            tnn.Conv2d(1, 64, 7, 2, 3, bias=False),
            tnn.BatchNorm2d(64),
            tnn.ReLU(),
            tnn.MaxPool2d(3, 2, 1),
        ]
        c_in = 64
        for i, c in enumerate((64, 128, 256, 512)):
            for j in range(2):
                layers.append(Block(c_in, c, 2 if i > 0 and j == 0 else 1))
                c_in = c
        layers += [tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(512, n_classes)]
        return tnn.Sequential(*layers)

    return build


def epoch_runner(
    build: Callable, images: np.ndarray, labels: np.ndarray, batch_size: int, lr: float, loop: str
) -> Callable[[], float]:
    """One epoch of Adam training, as a function that runs it and returns its wall time.

    ``loop="seeds"`` is the labs' code: a ``DataLoader`` (batch size, shuffle, drop_last) over a
    data set that turns each uint8 image into a float tensor / 255 as it is fetched (what
    torchvision's ``MNIST(transform=ToTensor())`` does, without the PIL round trip), and
    ``avg_cost += cost / total_batch``; ``loop="tensors"`` indexes float tensors already in
    memory by a random permutation, the fastest plain PyTorch loop.
    """
    import torch

    torch.manual_seed(0)
    model = build()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = torch.nn.CrossEntropyLoss()
    steps = len(images) // batch_size

    class SeedsDataset(torch.utils.data.Dataset):
        """uint8 images made float / 255 one at a time, as ``ToTensor`` does."""

        def __init__(self):
            self.images = torch.from_numpy(images.copy())
            self.labels = torch.from_numpy(labels.astype(np.int64))

        def __len__(self):
            return len(self.images)

        def __getitem__(self, i):
            return self.images[i].float().div(255).unsqueeze(0), self.labels[i]

    if loop == "seeds":
        loader = torch.utils.data.DataLoader(
            SeedsDataset(), batch_size=batch_size, shuffle=True, drop_last=True
        )
        batches = lambda: iter(loader)  # noqa: E731
    else:
        xs = torch.from_numpy(images.astype(np.float32) / 255).unsqueeze(1)
        ys = torch.from_numpy(labels.astype(np.int64))

        def batches():
            order = torch.randperm(len(xs))
            for i in range(steps):
                idx = order[i * batch_size : (i + 1) * batch_size]
                yield xs[idx], ys[idx]

    def epoch() -> float:
        start = time.perf_counter()
        avg_cost = 0
        for X, Y in batches():
            opt.zero_grad()
            cost = criterion(model(X), Y)
            cost.backward()
            opt.step()
            avg_cost += cost / steps
        avg_cost.item()
        return time.perf_counter() - start

    return epoch
