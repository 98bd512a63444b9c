"""B4, B5 twin: lab 08-2's multi-layer perceptrons on XOR, as the notes write them (seed 002, "Code1:
XOR-nn" and "Code2: XOR-nn-wide-deep"): ``linear1 = torch.nn.Linear(2, 2, bias=True)``, ``linear2 =
torch.nn.Linear(2, 1, bias=True)``, ``torch.nn.Sequential(linear1, sigmoid, linear2, sigmoid)``
(B4), and ``Linear(2, 10)``, ``Linear(10, 10)`` twice, ``Linear(10, 1)`` with a sigmoid after each
(B5), PyTorch's default init, ``torch.nn.BCELoss()``, ``torch.optim.SGD(lr=1)``, 10,001 full-batch
steps (lab 08-1's loop, ``twins.perceptron.train_step``). The notes set no seed (the original lab:
``torch.manual_seed(777)`` at the top of each script); ``run`` sets the experiment's before each
net, as our port starts each net from its seed. Predictions as the original lab makes them:
``(model(X) > 0.5).float()``."""

from __future__ import annotations

import math

import numpy as np
import torch

from twins.perceptron import X, Y, accuracy, train

NUMBERS = {
    # The notes: "the loss keeps falling" (B4), "falls further" (B5); no figure (the original lab
    # printed 0.00123 (B4) and 0.000157 (B5) at step 10000, with its seed 777).
    "B4 loss, step 10000": {"notes": None, "ours": "B4 2-2-1/final_loss", "kind": "cost"},
    "B5 loss, step 10000": {"notes": None, "ours": "B5 2-10-10-10-1/final_loss", "kind": "cost"},
    # 1 where the net predicts the notes' [0, 1, 1, 0], else 0. Ours: the share over its sweep of
    # seeds, one number (not one per seed).
    "B4 predicts [0, 1, 1, 0]": {"notes": 1.0, "ours": "B4 2-2-1/solved_share_over_seeds", "kind": "share"},
    "B5 predicts [0, 1, 1, 0]": {
        "notes": 1.0,
        "ours": "B5 2-10-10-10-1/solved_share_over_seeds",
        "kind": "share",
    },
    # The logged step (every 100) from which B5's loss stays below B4's (the original lab: ~5300).
    "B5 below B4 from step": {"notes": None, "ours": "b5_below_b4_from_step", "kind": "step"},
}

LOG_EVERY = 100


def xor_nn() -> torch.nn.Module:
    linear1 = torch.nn.Linear(2, 2, bias=True)
    linear2 = torch.nn.Linear(2, 1, bias=True)
    sigmoid = torch.nn.Sigmoid()
    return torch.nn.Sequential(linear1, sigmoid, linear2, sigmoid)


def xor_nn_wide_deep() -> torch.nn.Module:
    linear1 = torch.nn.Linear(2, 10, bias=True)
    linear2 = torch.nn.Linear(10, 10, bias=True)
    linear3 = torch.nn.Linear(10, 10, bias=True)
    linear4 = torch.nn.Linear(10, 1, bias=True)
    sigmoid = torch.nn.Sigmoid()
    return torch.nn.Sequential(linear1, sigmoid, linear2, sigmoid, linear3, sigmoid, linear4, sigmoid)


NETS = {"B4": xor_nn, "B5": xor_nn_wide_deep}


def crossing(b4: np.ndarray, b5: np.ndarray, steps: int) -> float:
    """The logged step (0, 100, …) from which B5's cost stays below B4's at every logged step;
    nan if it is not below at the last one."""
    logged = np.arange(0, steps, LOG_EVERY)
    above = np.flatnonzero(~(b5[logged] < b4[logged]))
    first = above[-1] + 1 if above.size else 0
    return float(logged[first]) if first < len(logged) else math.nan


def run(seed: int, data_dir: str | None = None) -> dict[str, float]:
    y = Y["xor"]
    out, costs = {}, {}
    for name, build in NETS.items():
        torch.manual_seed(seed)
        model = build()
        costs[name] = np.asarray(train(model, X, y))
        out[f"{name} loss, step 10000"] = float(costs[name][10000])
        out[f"{name} predicts [0, 1, 1, 0]"] = float(accuracy(model, X, y) == 1.0)
    out["B5 below B4 from step"] = crossing(costs["B4"], costs["B5"], len(costs["B4"]))
    return out
