"""The labs' own code, in PyTorch, beside jaxnets' port: the "twins".

Each module is one lab of ``experiments/`` (same module name), written as the notes write it
(``../shared/seeds/``: the model, its initialisation, the data order and loader settings, the loss
and its reduction, the optimizer, the evaluation), plain and short, importing nothing of jaxnets
but the data arrays (``twins.data``). Each module has:

- ``NUMBERS``: the numbers the notes report that the lab reproduces, each with the notes' figure,
  where ours is in the experiment's ``result.json`` and the margin within which two distributions
  count as equivalent (see ``twins.fidelity``);
- ``run(seed, data_dir) -> {number: value}``: one seed's run of the lab, as the notes run it;
- the pieces the step-for-step tests drive (``tests/twins/``): the model as the notes build it
  and the body of their training loop.

    python -m twins C4 --seeds 10   # the twin, over the seeds `python -m experiments C4 --seeds 10` uses
    python -m twins fidelity               # ours vs twin vs the notes: results/FIDELITY.md
"""

from __future__ import annotations

import importlib
from types import ModuleType

# Catalog id → module (the experiment's module name). Ids a module covers share it.
TWINS = {
    "A2": "overfitting",
    "A3": "learning_rate",
    "A4": "standardization",
    "B1": "mnist_softmax",
    "B2": "mnist_softmax",
    "B3": "perceptron",
    "B4": "xor_mlp",
    "B5": "xor_mlp",
    "B7": "weight_init",
    "B8": "weight_init",
    "B9": "weight_init",
    "B10": "dropout",
    "B11": "batch_norm",
    "B12": "hidden_sizes",
    "C2": "quadratic_sgd",
    "C3": "linear_scratch",
    "C4": "basic_optim",
    "C5": "simple_net",
    "C6": "resnet",
    "D2": "fashion_mnist",
    "D3": "fashion_mnist",
}


def load(name: str) -> ModuleType:
    """The twin of the experiment with catalog id or module name ``name``."""
    module = TWINS.get(name.upper(), name)
    if module not in TWINS.values():
        raise KeyError(f"no twin for {name!r}; twins exist for: {', '.join(sorted(TWINS))}")
    return importlib.import_module(f"twins.{module}")


def modules() -> list[str]:
    """Every twin's module name, once each, in catalog order."""
    return list(dict.fromkeys(TWINS.values()))
