"""B12 twin: the homework Q1-2 of lab 09-4 (seed 002): Q1-1's batch-norm net (``twins.batch_norm``:
Linear → BatchNorm1d → ReLU → Dropout(0.3), Xavier, Adam at ``learning_rate = 0.1``, batch 100, 15
epochs) with the hidden node counts changed, ``linear1 = torch.nn.Linear(784, 200)``, ``linear2 =
torch.nn.Linear(200, 150)``, ``bn1 = torch.nn.BatchNorm1d(200)``, … as the notes write them; for
each size the train cost (the last epoch's ``avg_cost``) and the test accuracy. Each size is a run
of the homework's script of its own (a fresh model and optimizer on the same loaders)."""

from __future__ import annotations

import torch

from twins.batch_norm import evaluate, learning_rate, loaders, make_model, train_step

SIZES = ((100, 100), (200, 150), (300, 300), (50, 50))

NUMBERS = {
    **{
        f"test accuracy, hidden {a}-{b}": {
            "notes": None,
            "ours": f"test/{a}-{b}/accuracy",
            "kind": "accuracy",
        }
        for a, b in SIZES
    },
    **{
        f"train cost of the last epoch, hidden {a}-{b}": {
            "notes": None,
            "ours": f"last_epoch_train_cost/{a}-{b}",
            "kind": "cost",
        }
        for a, b in SIZES
    },
}


def run(seed: int, data_dir: str | None = None, epochs: int = 15, sizes=SIZES) -> dict[str, float]:
    torch.manual_seed(seed)
    train_loader, test_loader = loaders(data_dir)
    criterion = torch.nn.CrossEntropyLoss()
    train_total_batch = len(train_loader)
    out = {}
    for a, b in sizes:
        bn_model = make_model((a, b), batch_norm=True)
        bn_optimizer = torch.optim.Adam(bn_model.parameters(), lr=learning_rate)
        for _ in range(epochs):
            bn_model.train()
            avg_cost = 0
            for X, Y in train_loader:
                avg_cost += train_step(bn_model, bn_optimizer, criterion, X, Y) / train_total_batch
        out[f"test accuracy, hidden {a}-{b}"] = evaluate(bn_model, test_loader)
        out[f"train cost of the last epoch, hidden {a}-{b}"] = avg_cost
    return out
