"""A2 twin: lab 07-1's overfitting run, as the notes write it (seed 000, from cell 14:
``torch.manual_seed(1)``, the 8 training and 3 test points, ``SoftmaxClassifierModel`` =
``nn.Linear(3, 3)`` with PyTorch's default init, ``F.cross_entropy`` (mean), ``optim.SGD(lr=0.1)``,
20 full-batch epochs printing each epoch's cost before its update, then ``test``). At seed 1 it
prints the notes' costs to the last digit (2.203667 → 0.989365, test cost 1.425844, accuracy 0 %)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn, optim

NUMBERS = {
    "train cost, epoch 0": {"notes": 2.203667, "ours": "first_train_cost", "kind": "cost, initial"},
    "train cost, epoch 19": {"notes": 0.989365, "ours": "last_train_cost", "kind": "cost"},
    "test cost": {"notes": 1.425844, "ours": "test_cost", "kind": "cost"},
    "test accuracy": {"notes": 0.0, "ours": "test_accuracy", "kind": "accuracy, 3 points"},
    # The notes' outcome, 1 or 0 per seed: test cost above the train cost (after training), test
    # accuracy ≤ 1/3 (experiments/overfitting.py's notes_outcome).
    "the notes' outcome": {"notes": 1.0, "ours": "share_with_the_notes_outcome", "kind": "share"},
}

x_train = torch.FloatTensor(
    [[1, 2, 1], [1, 3, 2], [1, 3, 4], [1, 5, 5], [1, 7, 5], [1, 2, 5], [1, 6, 6], [1, 7, 7]]
)
y_train = torch.LongTensor([2, 2, 2, 1, 1, 1, 0, 0])
x_test = torch.FloatTensor([[2, 1, 1], [3, 1, 2], [3, 3, 4]])
y_test = torch.LongTensor([2, 2, 2])


class SoftmaxClassifierModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 3)

    def forward(self, x):
        return self.linear(x)


def train_step(model, optimizer, x_train, y_train) -> float:
    """One epoch of the notes' ``train``: the cost printed (before the update)."""
    prediction = model(x_train)
    cost = F.cross_entropy(prediction, y_train)
    optimizer.zero_grad()
    cost.backward()
    optimizer.step()
    return cost.item()


def train(model, optimizer, x_train, y_train, nb_epochs: int = 20) -> list[float]:
    """The notes' ``train``: each epoch's printed cost."""
    return [train_step(model, optimizer, x_train, y_train) for _ in range(nb_epochs)]


def test(model, x_test, y_test) -> tuple[float, float]:
    """The notes' ``test``: (accuracy as a fraction, where the notes print %; cost)."""
    prediction = model(x_test)
    predicted_classes = prediction.max(1)[1]
    correct_count = (predicted_classes == y_test).sum().item()
    cost = F.cross_entropy(prediction, y_test)
    return correct_count / len(y_test), cost.item()


def run(seed: int, data_dir: str | None = None) -> dict[str, float]:
    torch.manual_seed(seed)
    model = SoftmaxClassifierModel()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    costs = train(model, optimizer, x_train, y_train)
    accuracy, test_cost = test(model, x_test, y_test)
    _, train_cost = test(model, x_train, y_train)  # the train cost after training, for the outcome
    return {
        "train cost, epoch 0": costs[0],
        "train cost, epoch 19": costs[-1],
        "test cost": test_cost,
        "test accuracy": accuracy,
        "the notes' outcome": float(test_cost > train_cost and accuracy <= 1 / 3),
    }
