"""The data arrays the twins train on: jaxnets' loaders (the same files, the same arrays), as
torch tensors. The only jaxnets import of the twins."""

from __future__ import annotations

import numpy as np
import torch

from experiments.harness import toy_data
from jaxnets import data


def mnist_sample(data_dir: str | None = None):
    """The fastai book's 3s and 7s, as its cells 34 and 36 build them: ``(train_x, train_y),
    (valid_x, valid_y)``, every 3 then every 7, x of shape (N, 784) in [0, 1], y of shape (N, 1)
    with 1 for a 3 and 0 for a 7."""
    out = []
    for images, labels in map(toy_data.threes_then_sevens, data.load("mnist_sample", data_dir)):
        x = torch.from_numpy(data.to_float(np.asarray(images))).view(-1, 28 * 28)
        out.append((x, torch.from_numpy(np.asarray(labels, np.int64)).unsqueeze(1)))
    return tuple(out)


def image_datasets(name: str, data_dir: str | None = None):
    """``(train, test)`` of "mnist" or "fashion_mnist" as ``torchvision.datasets.MNIST(...,
    transform=transforms.ToTensor())`` (or ``FashionMNIST``) yields them: ``TensorDataset``s of
    images (1, 28, 28), float in [0, 1], and int64 labels, in the files' order."""
    out = []
    for images, labels in data.load(name, data_dir):
        x = torch.from_numpy(data.to_float(np.asarray(images))).unsqueeze(1)
        out.append(torch.utils.data.TensorDataset(x, torch.from_numpy(np.asarray(labels, np.int64))))
    return tuple(out)


def mnist_test_data(data_dir: str | None = None):
    """The MNIST test set as the labs' test code reads it off ``torchvision.datasets.MNIST(...,
    train=False)``: ``(mnist_test.test_data, mnist_test.test_labels)``, the raw uint8 images
    (N, 28, 28), not through ``ToTensor`` (0-255), and int64 labels."""
    _, (images, labels) = data.load("mnist", data_dir)
    return torch.from_numpy(np.array(images)), torch.from_numpy(np.asarray(labels, np.int64))
