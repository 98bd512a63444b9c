"""D2, D3 twin: the study group's week-3 notebooks (seed 004 links them: HanyangTechAI/2023-Deep-
Learning-Study, ``Week3/train_mnist.ipynb`` and ``train_fashion_mnist.ipynb``, which changes only the
data set): ``nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))`` with PyTorch's
default init, ``nn.CrossEntropyLoss()``, ``DataLoader(batch_size=1024, shuffle=True)`` (the last
partial batch kept, the ``DataLoader`` default), ``torch.optim.Adam(lr=1e-3)``, 10 epochs, and the
notebook's ``test(dataloader)``: accuracy (%) = 100 · n_correct / n_samples.

The notebook trains on all 60,000 training images and measures its "train accuracy" on them; the
slides ask for a validation set cut out of the training set: here ``random_split`` into 90 % / 10 %
(as jaxnets' D2-D3 holds out 10 %), validation after each epoch where the notebook measured the
training images, and the test set once at the end."""

from __future__ import annotations

import torch
from torch import nn

from twins.data import image_datasets

DATASETS = {"D2 MNIST": "mnist", "D3 Fashion-MNIST": "fashion_mnist"}

NUMBERS = {
    # The notebook's "Test accuracy: 95.84%" (train_mnist.ipynb's last cell), trained on all 60,000
    # training images, without the validation split.
    "D2 MNIST test accuracy (%)": {
        "notes": 95.84,
        "ours": "test_accuracy_percent/D2 MNIST",
        "kind": "accuracy (%)",
    },
    "D2 MNIST validation accuracy (%)": {
        "notes": None,
        "ours": "valid_accuracy_percent/D2 MNIST",
        "kind": "accuracy (%)",
    },
    "D3 Fashion-MNIST test accuracy (%)": {
        "notes": None,
        "ours": "test_accuracy_percent/D3 Fashion-MNIST",
        "kind": "accuracy (%)",
    },
    "D3 Fashion-MNIST validation accuracy (%)": {
        "notes": None,
        "ours": "valid_accuracy_percent/D3 Fashion-MNIST",
        "kind": "accuracy (%)",
    },
}

num_epochs = 10
batch_size = 1024


def make_model() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(784, 128),
        nn.ReLU(),
        # nn.Linear(128, 64),
        # nn.ReLU(),
        nn.Linear(128, 10),
    )


def train_step(model, optimizer, loss_function, images, labels) -> float:
    """The body of the notebook's ``for i, (images, labels) in enumerate(dataloader)``; the loss."""
    images = images.reshape(-1, 28 * 28)
    # Forward pass
    outputs = model(images)
    # Loss 계산 및 저장
    loss = loss_function(outputs, labels)
    # Backward pass
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()


def test(model, dataloader) -> float:
    """The notebook's ``test``: accuracy (%) over ``dataloader``."""
    with torch.no_grad():
        n_correct = 0
        n_samples = 0
        for images, labels in dataloader:
            images = images.reshape(-1, 28 * 28)
            outputs = model(images)
            # value, index
            predictions = torch.argmax(outputs, dim=1)
            n_samples += labels.shape[0]
            n_correct += (predictions == labels).sum().item()
        acc = 100 * n_correct / n_samples
        return acc


def train(model, dataloader, valid_loader) -> float:
    """The notebook's ``train``, validating after each epoch; the last validation accuracy (%)."""
    loss_function = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(num_epochs):
        for images, labels in dataloader:
            train_step(model, optimizer, loss_function, images, labels)
        acc = test(model, valid_loader)
    return acc


def run(seed: int, data_dir: str | None = None) -> dict[str, float]:
    torch.manual_seed(seed)
    out = {}
    for name, dataset in DATASETS.items():
        train_dataset, test_dataset = image_datasets(dataset, data_dir)
        train_dataset, valid_dataset = torch.utils.data.random_split(train_dataset, [0.9, 0.1])
        train_loader = torch.utils.data.DataLoader(dataset=train_dataset, batch_size=batch_size, shuffle=True)
        valid_loader = torch.utils.data.DataLoader(
            dataset=valid_dataset, batch_size=batch_size, shuffle=False
        )
        test_loader = torch.utils.data.DataLoader(dataset=test_dataset, batch_size=batch_size, shuffle=False)
        model = make_model()
        out[f"{name} validation accuracy (%)"] = train(model, train_loader, valid_loader)
        out[f"{name} test accuracy (%)"] = test(model, test_loader)
    return out
