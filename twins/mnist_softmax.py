"""B1, B2 twin: softmax regression on MNIST as the notes write it (seed 002, labs 07-2 and 09-1
Code1): ``torch.nn.Linear(784, 10, bias=True)`` with PyTorch's default init,
``torch.nn.CrossEntropyLoss()`` (mean over the batch), ``DataLoader(dataset=mnist_train,
batch_size=100, shuffle=True, drop_last=True)``, 15 epochs of the notes' loop
(``optimizer.zero_grad()``, ``cost.backward()``, ``optimizer.step()``,
``avg_cost += cost / total_batch``); B1 with ``torch.optim.SGD(lr=0.1)`` (07-2), B2 with
``torch.optim.Adam(lr=0.001)`` (09-1: "the difference from 07-2 is Adam"). Each lab is its own
script, so each starts from ``torch.manual_seed(seed)``.

torchvision's ``dsets.MNIST(transform=transforms.ToTensor())`` is ``twins.data.image_datasets``
(the same files, /255). The notes leave 07-2's test code out ("in 09-1"); 09-1's code reads the
test images unscaled (``mnist_test.test_data.view(-1, 28 * 28).float()``), while ours reports
the accuracy on /255 test images only, so the twin tests on the /255 images (``ToTensor``'s) to
measure the same thing."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from twins.data import image_datasets

NUMBERS = {
    "B1 (SGD) test accuracy": {"notes": None, "ours": "test/B1 SGD/accuracy", "kind": "accuracy"},
    "B2 (Adam) test accuracy": {"notes": None, "ours": "test/B2 Adam/accuracy", "kind": "accuracy"},
}

training_epochs = 15
batch_size = 100
OPTIMIZERS = {
    "B1": lambda params: torch.optim.SGD(params, lr=0.1),
    "B2": lambda params: torch.optim.Adam(params, lr=0.001),
}


def softmax_model() -> torch.nn.Module:
    # MNIST data image of shape 28 * 28 = 784
    return torch.nn.Linear(784, 10, bias=True)


def train_step(model, criterion, optimizer, X, Y) -> torch.Tensor:
    """The body of the notes' ``for X, Y in data_loader:`` loop; the batch's cost (a tensor, which
    the loop adds to ``avg_cost``)."""
    # reshape input image into [batch_size by 784]
    # label is not one-hot encoded
    X = X.view(-1, 28 * 28)
    optimizer.zero_grad()
    hypothesis = model(X)
    cost = criterion(hypothesis, Y)
    cost.backward()
    optimizer.step()
    return cost


def train(model, optimizer, data_loader, epochs: int = training_epochs) -> list[float]:
    """The notes' training loop; each epoch's ``avg_cost``."""
    criterion = torch.nn.CrossEntropyLoss()  # Softmax is internally computed.
    total_batch = len(data_loader)
    costs = []
    for _ in range(epochs):
        avg_cost = 0
        for X, Y in data_loader:
            cost = train_step(model, criterion, optimizer, X, Y)
            avg_cost += cost / total_batch
        costs.append(avg_cost.item())
    return costs


def test_accuracy(model, X_test, Y_test) -> float:
    """The notes' "Test the model using test sets" (09-1, 09-2), on inputs (N, 784)."""
    with torch.no_grad():
        prediction = model(X_test)
        correct_prediction = torch.argmax(prediction, 1) == Y_test
        accuracy = correct_prediction.float().mean()
    return accuracy.item()


def lab(name: str, seed: int, data_dir: str | None = None, epochs: int = training_epochs) -> float:
    """One lab (B1 or B2) as its own script: its test accuracy."""
    torch.manual_seed(seed)
    mnist_train, mnist_test = image_datasets("mnist", data_dir)
    data_loader = DataLoader(dataset=mnist_train, batch_size=batch_size, shuffle=True, drop_last=True)
    linear = softmax_model()
    optimizer = OPTIMIZERS[name](linear.parameters())
    train(linear, optimizer, data_loader, epochs)
    X_test, Y_test = mnist_test.tensors
    return test_accuracy(linear, X_test.view(-1, 28 * 28), Y_test)


def run(seed: int, data_dir: str | None = None, epochs: int = training_epochs) -> dict[str, float]:
    return {
        "B1 (SGD) test accuracy": lab("B1", seed, data_dir, epochs),
        "B2 (Adam) test accuracy": lab("B2", seed, data_dir, epochs),
    }
