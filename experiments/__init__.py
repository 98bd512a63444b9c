"""One module per experiment of the catalog (``../shared/EXPERIMENTS.md``), in catalog order.

Each module defines ``ID`` (the catalog id, or a range like "B7-B9" with the single ids in
``IDS`` when one run covers experiments that are compared with each other), ``TITLE``,
``DESCRIPTION``, a frozen ``Config`` dataclass with the notes' settings as defaults, and
``run(config, out_dir) -> dict`` that trains, plots into ``out_dir`` and returns history,
metrics, checks, divergence and optional ``log`` lines to print.
"""

from __future__ import annotations

import difflib
import importlib
from types import ModuleType

from jaxnets.errors import InputError

MODULES = (
    "thumbtack_mle",
    "overfitting",
    "learning_rate",
    "standardization",
    "regularization",
    "mnist_softmax",
    "perceptron",
    "xor_mlp",
    "activations",
    "weight_init",
    "dropout",
    "batch_norm",
    "hidden_sizes",
    "pixel_similarity",
    "quadratic_sgd",
    "linear_scratch",
    "basic_optim",
    "simple_net",
    "resnet",
    "linear_regression",
    "fashion_mnist",
)


def load(name: str) -> ModuleType:
    """The experiment module for a module name ("overfitting") or catalog id ("A2", "a2")."""
    key = name.strip().lower().replace("-", "_")
    known = []
    for module_name in MODULES:
        module = importlib.import_module(f"experiments.{module_name}")
        ids = [i.lower() for i in (module.ID, *getattr(module, "IDS", ()))]
        if key in (module_name, *ids):
            return module
        known += [module_name, *ids]
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InputError(
        f"unknown experiment {name!r}{hint}; run `python -m experiments list` to see the ids and names"
    )


def all_modules() -> list[ModuleType]:
    """Every experiment module, in catalog order."""
    return [importlib.import_module(f"experiments.{m}") for m in MODULES]
