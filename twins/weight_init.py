"""B7, B8, B9 twin: the MNIST MLP of labs 09-1 Code2 and 09-2 as the notes write it (seed 002):
``linear1 = torch.nn.Linear(784, 256, bias=True)``, ``linear2`` (256, 256), ``linear3`` (256, 10),
``torch.nn.Sequential(linear1, relu, linear2, relu, linear3)``, each weight re-initialised (biases
keep PyTorch's default) by ``torch.nn.init.normal_`` (B7), ``xavier_uniform_`` (B8) or, for He
(B9, for which the notes give the formula but no code), ``kaiming_normal_`` (N(0, 2/fan_in)) in
the same place; ``CrossEntropyLoss``, ``Adam(lr=0.001)``, the loader of 09-2 (batch 100,
``shuffle=True``, ``drop_last=True``), 15 epochs of ``avg_cost += cost / total_batch``. Each lab
is its own script, so each starts from ``torch.manual_seed(seed)``.

The notes' test code feeds the test images unscaled (``mnist_test.test_data.view(-1, 28 *
28).float()``, 0-255) to a model trained on /255 images: their figures (B7 0.9451, B8 0.9805)
are that accuracy, which ours reports as ``test_accuracy_unscaled_pixels``; the accuracy on /255
test images is compared too (ours' ``test``)."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from twins.data import image_datasets, mnist_test_data
from twins.mnist_softmax import batch_size, test_accuracy, train, training_epochs

# The experiment's names of the three runs (its result.json's keys).
RUNS = {"B7": "B7 normal(0,1)", "B8": "B8 Xavier", "B9": "B9 He"}
INITS = {
    "B7": torch.nn.init.normal_,
    "B8": torch.nn.init.xavier_uniform_,
    "B9": torch.nn.init.kaiming_normal_,
}

NUMBERS = {
    "B7 test accuracy": {
        "notes": 0.9451,
        "ours": "test_accuracy_unscaled_pixels/B7 normal(0,1)",
        "kind": "accuracy",
    },
    "B7 test accuracy, /255 test pixels": {
        "notes": None,
        "ours": "test/B7 normal(0,1)/accuracy",
        "kind": "accuracy",
    },
    "B8 test accuracy": {
        "notes": 0.9805,
        "ours": "test_accuracy_unscaled_pixels/B8 Xavier",
        "kind": "accuracy",
    },
    "B8 test accuracy, /255 test pixels": {
        "notes": None,
        "ours": "test/B8 Xavier/accuracy",
        "kind": "accuracy",
    },
    "B9 test accuracy": {"notes": None, "ours": "test_accuracy_unscaled_pixels/B9 He", "kind": "accuracy"},
    "B9 test accuracy, /255 test pixels": {"notes": None, "ours": "test/B9 He/accuracy", "kind": "accuracy"},
}
# B7's script prints each epoch's average cost (``print('Epoch:', ..., 'cost =', avg_cost)``):
# drawn beside ours (its history) and the twin's by ``python -m twins fidelity``.
CURVES = {
    "B7 average cost per epoch": {
        "notes": [129.379852, 36.195644, 23.019363, 15.959908, 11.481481, 8.563684, 6.402722, 4.730027]
        + [3.540747, 2.647785, 2.033877, 1.644687, 1.179143, 1.109077, 0.785691],
        "ours": {"history": "train_loss", "run": "B7 normal(0,1)"},
        "first_epoch": 1,
        "ylabel": "average cost",
        "logy": True,
    }
}


def mnist_nn(init: str) -> torch.nn.Sequential:
    """The notes' "nn layers", "Initialization" and "model" cells, with ``INITS[init]``."""
    # nn layers
    linear1 = torch.nn.Linear(784, 256, bias=True)
    linear2 = torch.nn.Linear(256, 256, bias=True)
    linear3 = torch.nn.Linear(256, 10, bias=True)
    relu = torch.nn.ReLU()
    # Initialization
    INITS[init](linear1.weight)
    INITS[init](linear2.weight)
    INITS[init](linear3.weight)
    # model
    return torch.nn.Sequential(linear1, relu, linear2, relu, linear3)


def lab(name: str, seed: int, data_dir: str | None = None, epochs: int = training_epochs):
    """One lab (B7, B8 or B9) as its own script: (its epochs' average costs, its test accuracy as
    the notes' code computes it (unscaled test pixels), its test accuracy on /255 test pixels)."""
    torch.manual_seed(seed)
    mnist_train, mnist_test = image_datasets("mnist", data_dir)
    # dataset loader
    data_loader = DataLoader(dataset=mnist_train, batch_size=batch_size, shuffle=True, drop_last=True)
    model = mnist_nn(name)
    # define cost/loss & optimizer
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    costs = train(model, optimizer, data_loader, epochs)
    # Test the model using test sets
    test_data, test_labels = mnist_test_data(data_dir)
    accuracy = test_accuracy(model, test_data.view(-1, 28 * 28).float(), test_labels)
    scaled = test_accuracy(model, mnist_test.tensors[0].view(-1, 28 * 28), mnist_test.tensors[1])
    return costs, accuracy, scaled


def run(seed: int, data_dir: str | None = None, epochs: int = training_epochs) -> dict[str, float | list]:
    out = {}
    for name in RUNS:
        costs, out[f"{name} test accuracy"], out[f"{name} test accuracy, /255 test pixels"] = lab(
            name, seed, data_dir, epochs
        )
        if name == "B7":
            out["B7 average cost per epoch"] = [float(c) for c in costs]
    return out
