"""A4 twin: lab 07-1's standardization, as the notes write it (seeds 000 and 003): the exam scores,
``norm_x_train = (x_train - mu) / sigma`` (``x_train.std(dim=0)``: n - 1), a
``MultivariateLinearRegressionModel`` = ``nn.Linear(3, 1)`` with PyTorch's default init,
``F.mse_loss`` (mean), ``optim.SGD(lr=1e-1)``, 20 full-batch epochs on the standardized inputs; then
a new model and optimizer on the raw inputs, whose cost overflows to inf and then nan.

The notes set ``torch.manual_seed(1)`` once, at the top of the notebook, before A2's model and
A3's three: ``run`` creates those four first, so that each model draws its weights where the
notebook's did. At seed 1 the standardized run prints seed 003's costs to the last digit
(29785.091797 → 6.633700). (Seed 000's run, 29615.74 → 6.697937 and raw 57621.98, drew in another
order that its notes do not show.)"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn, optim

from twins.overfitting import SoftmaxClassifierModel

NUMBERS = {
    "standardized: cost, epoch 0": {
        "notes": 29785.091797,
        "ours": "standardized_cost_epoch_0",
        "kind": "cost, initial",
    },
    "standardized: cost, epoch 19": {
        "notes": 6.6337,
        "ours": "standardized_cost_last_epoch",
        "kind": "cost",
    },
    "raw: cost, epoch 0": {"notes": 57621.976562, "ours": "raw_cost_epoch_0", "kind": "cost, initial"},
    "raw: first epoch with cost inf (1-based)": {
        "notes": 6,
        "ours": "raw_first_inf_epoch",
        "kind": "epoch",
    },
    # Ours only with `--on-divergence continue` (the port stops at the first inf by default).
    "raw: first epoch with cost nan (1-based)": {
        "notes": 13,
        "ours": "raw_first_nan_epoch",
        "kind": "epoch",
    },
}

x_train = torch.FloatTensor([[73, 80, 75], [93, 88, 93], [89, 91, 90], [96, 98, 100], [73, 66, 70]])
y_train = torch.FloatTensor([[152], [185], [180], [196], [142]])


def standardize(x_train):
    mu = x_train.mean(dim=0)
    sigma = x_train.std(dim=0)
    return (x_train - mu) / sigma


class MultivariateLinearRegressionModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 1)

    def forward(self, x):
        return self.linear(x)


def train_step(model, optimizer, x_train, y_train) -> float:
    """One epoch of the notes' ``train``: the cost printed (before the update)."""
    prediction = model(x_train)
    cost = F.mse_loss(prediction, y_train)
    optimizer.zero_grad()
    cost.backward()
    optimizer.step()
    return cost.item()


def train(model, optimizer, x_train, y_train, nb_epochs: int = 20) -> list[float]:
    return [train_step(model, optimizer, x_train, y_train) for _ in range(nb_epochs)]


def first_epoch(costs: list[float], bad) -> float:
    """The 1-based epoch of the first cost for which ``bad`` holds (nan if none)."""
    return next((float(e) for e, c in enumerate(costs, 1) if bad(c)), math.nan)


def run(seed: int, data_dir: str | None = None) -> dict[str, float]:
    torch.manual_seed(seed)
    for _ in range(4):  # the notebook's earlier models: A2's, then A3's at lr 1e5, 1e-10 and 1e-1
        SoftmaxClassifierModel()
    norm_x_train = standardize(x_train)
    model = MultivariateLinearRegressionModel()
    optimizer = optim.SGD(model.parameters(), lr=1e-1)
    standardized = train(model, optimizer, norm_x_train, y_train)
    model = MultivariateLinearRegressionModel()
    optimizer = optim.SGD(model.parameters(), lr=1e-1)
    raw = train(model, optimizer, x_train, y_train)
    return {
        "standardized: cost, epoch 0": standardized[0],
        "standardized: cost, epoch 19": standardized[-1],
        "raw: cost, epoch 0": raw[0],
        "raw: first epoch with cost inf (1-based)": first_epoch(raw, math.isinf),
        "raw: first epoch with cost nan (1-based)": first_epoch(raw, math.isnan),
    }
