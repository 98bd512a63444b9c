"""One module per experiment of the catalog (``docs/experiments.md``), in catalog order; each
declares what the harness needs in a few lines (``experiments.harness.contract``)."""

from __future__ import annotations

import difflib
import importlib

from experiments.harness.contract import Experiment
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
    "backprop",
    "pixel_similarity",
    "quadratic_sgd",
    "linear_scratch",
    "basic_optim",
    "simple_net",
    "resnet",
    "linear_regression",
    "fashion_mnist",
)


def all_experiments() -> list[Experiment]:
    """Every experiment, in catalog order (each as its lab module declares it)."""
    return [Experiment.of(importlib.import_module(f"experiments.{m}")) for m in MODULES]


def load(name: str) -> Experiment:
    """The experiment for a module name ("overfitting") or catalog id ("A2", "a2")."""
    key = name.strip().lower().replace("-", "_")
    known = []
    for experiment in all_experiments():
        names = [experiment.name, *(i.lower().replace("-", "_") for i in (experiment.id, *experiment.ids))]
        if key in names:
            return experiment
        known += names
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InputError(
        f"unknown experiment {name!r}{hint}; run `python -m experiments list` to see the ids and names"
    )
