"""A3 twin: lab 07-1's learning rates, as the notes write it (seeds 000 and 003): after the A2 cells, a
new ``SoftmaxClassifierModel()`` and ``optim.SGD`` for each of lr 1e5, 1e-10 and 1e-1, each trained by
the notes' ``train`` (20 full-batch epochs, cross-entropy) on the A2 training points.

The notes set ``torch.manual_seed(1)`` once, at the top of the notebook, and create A2's model first:
``run`` does the same, so each model draws its initial weights where the notebook's did. At seed 1
it prints the notes' costs (1.280268, 976950.75, …, 1971322.6 at lr 1e5; 3.187324 twenty times at
lr 1e-10; 1.341573 → 0.961836 at lr 0.1). (Our port starts every learning rate from the same
initialisation, its seed's; over seeds, each run's initialisation has the same distribution.)"""

from __future__ import annotations

import math

import torch
from torch import optim

from twins.overfitting import SoftmaxClassifierModel, train, x_train, y_train

LRS = (1e5, 1e-10, 1e-1)

NUMBERS = {
    "lr=1e5: cost, epoch 0": {"notes": 1.280268, "ours": "lr=100000/first_cost", "kind": "cost, initial"},
    "lr=1e5: cost, epoch 19": {"notes": 1971322.625, "ours": "lr=100000/last_cost", "kind": "cost, blow-up"},
    "lr=1e5: peak cost": {"notes": 1971322.625, "ours": "lr=100000/max_cost", "kind": "cost, blow-up"},
    "lr=1e-10: cost, epoch 0": {"notes": 3.187324, "ours": "lr=1e-10/first_cost", "kind": "cost, initial"},
    "lr=1e-10: cost, epoch 19": {"notes": 3.187324, "ours": "lr=1e-10/last_cost", "kind": "cost, initial"},
    "lr=0.1: cost, epoch 0": {"notes": 1.341573, "ours": "lr=0.1/first_cost", "kind": "cost, initial"},
    "lr=0.1: cost, epoch 19": {"notes": 0.961836, "ours": "lr=0.1/last_cost", "kind": "cost"},
}


def run(seed: int, data_dir: str | None = None) -> dict[str, float]:
    torch.manual_seed(seed)
    SoftmaxClassifierModel()  # the notebook's A2 model, created (and trained, which draws nothing) first
    out = {}
    for lr, name in zip(LRS, ("lr=1e5", "lr=1e-10", "lr=0.1"), strict=True):
        model = SoftmaxClassifierModel()
        optimizer = optim.SGD(model.parameters(), lr=lr)
        costs = train(model, optimizer, x_train, y_train)
        out[f"{name}: cost, epoch 0"] = costs[0]
        out[f"{name}: cost, epoch 19"] = costs[-1]
        if lr == 1e5:
            finite = [c for c in costs if math.isfinite(c)]
            out["lr=1e5: peak cost"] = max(finite) if finite else math.nan
    return out
