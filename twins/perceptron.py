"""B3 twin: lab 08-1's single perceptron, as the notes write it (seed 002, "(08-1) Perceptron"): ``X``,
``Y``, ``torch.nn.Sequential(torch.nn.Linear(2, 1, bias=True), torch.nn.Sigmoid())`` with PyTorch's
default init, ``torch.nn.BCELoss()`` (mean), ``torch.optim.SGD(lr=1)``, ``for step in range(10001)``
full-batch steps, each step's cost taken before its update. The notes show the code for XOR and
the AND and OR targets as tables; the same code runs on each. The notes set no seed (the original
lab: ``torch.manual_seed(777)``); ``run`` sets the experiment's, once per gate, as our port starts
each gate from its seed. The accuracy is the original lab's: ``((model(X) > 0.5).float() ==
Y).float().mean()`` after training."""

from __future__ import annotations

import torch

NUMBERS = {
    "AND accuracy": {"notes": 1.0, "ours": "and/accuracy", "kind": "accuracy, 4 points"},
    "OR accuracy": {"notes": 1.0, "ours": "or/accuracy", "kind": "accuracy, 4 points"},
    "XOR accuracy": {"notes": None, "ours": "xor/accuracy", "kind": "accuracy, 4 points"},
    "AND loss, step 10000": {"notes": None, "ours": "and/final_loss", "kind": "cost"},
    "OR loss, step 10000": {"notes": None, "ours": "or/final_loss", "kind": "cost"},
    # The notes: XOR's loss barely changes from step ~200 on; the catalog's ~0.693 (ln 2).
    "XOR loss, step 200": {"notes": 0.693, "ours": "xor/loss_at_200", "kind": "cost"},
    "XOR loss, step 10000": {"notes": 0.693, "ours": "xor/final_loss", "kind": "cost"},
}

STEPS = 10001
X = torch.FloatTensor([[0, 0], [0, 1], [1, 0], [1, 1]])
Y = {
    "and": torch.FloatTensor([[0], [0], [0], [1]]),
    "or": torch.FloatTensor([[0], [1], [1], [1]]),
    "xor": torch.FloatTensor([[0], [1], [1], [0]]),
}


def perceptron_model() -> torch.nn.Module:
    linear = torch.nn.Linear(2, 1, bias=True)
    sigmoid = torch.nn.Sigmoid()
    return torch.nn.Sequential(linear, sigmoid)


def train_step(model, criterion, optimizer, X, Y) -> float:
    """The body of the notes' ``for step in range(10001)``: the step's cost (before the update)."""
    optimizer.zero_grad()
    hypothesis = model(X)
    cost = criterion(hypothesis, Y)
    cost.backward()
    optimizer.step()
    return cost.item()


def train(model, X, Y, steps: int = STEPS) -> list[float]:
    """The notes' training: BCE, SGD lr 1, ``steps`` full-batch steps; every step's cost."""
    criterion = torch.nn.BCELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1)
    return [train_step(model, criterion, optimizer, X, Y) for _ in range(steps)]


def accuracy(model, X, Y) -> float:
    with torch.no_grad():
        hypothesis = model(X)
        predicted = (hypothesis > 0.5).float()
        return (predicted == Y).float().mean().item()


def run(seed: int, data_dir: str | None = None) -> dict[str, float]:
    out = {}
    for gate, y in Y.items():
        torch.manual_seed(seed)
        model = perceptron_model()
        costs = train(model, X, y)
        out[f"{gate.upper()} accuracy"] = accuracy(model, X, y)
        out[f"{gate.upper()} loss, step 10000"] = costs[10000]
        if gate == "xor":
            out["XOR loss, step 200"] = costs[200]
    return {number: out[number] for number in NUMBERS}
