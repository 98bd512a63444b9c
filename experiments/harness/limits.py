"""What each setting of the experiments may be, declared once, by the setting's name: a flag
(``--lr``), ``--set``, a ``--config`` file and a ``Config`` handed to the runner are checked
against the same rule before anything runs, and a value outside it is a one-line ``InputError``
naming the setting, the value and what it may be.

A rule is for one value; a tuple setting (``hidden``, ``lrs``, ``sizes``) holds one or more
values, each under its name's rule. Every field of every experiment's ``Config`` has a rule
(``tests/experiments/harness/test_limits.py``), so that a new setting cannot go unchecked.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from experiments.harness.contract import Experiment
from jaxnets.errors import InputError
from jaxnets.init import KERNEL_INITS
from jaxnets.loop import MAX_SEED  # JAX's keys take 32-bit seeds: larger ones would be silently reduced

INT32 = 2**31 - 1  # the largest integer XLA's default int (int32) holds; larger ones overflow in jit
MAX_EPOCHS = 10_000_000  # more than any run here can finish (B3's 10,001 steps take seconds)
MAX_SEEDS = 10_000  # seeds trained as one program (the memory check refuses what does not fit)
MNIST_TRAIN = 60_000  # MNIST's training images


@dataclass(frozen=True)
class Rule:
    """What one value of a setting may be: ``allowed`` in words, as it follows "must be" (it may
    name other settings: ``{n}``), and ``test`` on the value and the config's other settings."""

    allowed: str
    test: Callable[[Any, Mapping[str, Any]], bool]


def _whole(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def whole(low: int, high: int = INT32, allowed: str | None = None) -> Rule:
    """A whole number from ``low`` to ``high``."""
    top = "2**31 - 1" if high == INT32 else str(high)
    return Rule(allowed or f"from {low} to {top}", lambda v, _: _whole(v) and low <= v <= high)


def number(allowed: str, above: float = -math.inf, below: float = math.inf, *, ends: str = "[]") -> Rule:
    """A finite real number between ``above`` and ``below``, each end included or not as ``ends``
    says ("[)": the low end in, the high end out)."""

    def test(v: Any, _: Mapping[str, Any]) -> bool:
        if not _real(v):
            return False
        low_ok = v >= above if ends[0] == "[" else v > above
        high_ok = v <= below if ends[1] == "]" else v < below
        return low_ok and high_ok

    return Rule(allowed, test)


def optional(rule: Rule, none: str) -> Rule:
    """``rule``, or None (which means ``none``)."""
    return Rule(f"None ({none}) or {rule.allowed}", lambda v, s: v is None or rule.test(v, s))


STEP = number("> 0 and finite", 0, ends="(]")  # a learning rate: 0 never moves, inf/nan is no step
SIZE = whole(1)  # a layer's width, a batch, a count of things
SEEDS = whole(1, MAX_SEEDS)
EPOCHS = whole(1, MAX_EPOCHS, f"from 1 to {MAX_EPOCHS} (more than any run can finish)")
YES_NO = Rule("True or False", lambda v, _: isinstance(v, bool))

RULES: dict[str, Rule] = {
    # Which random draws, and how many of them.
    "seed": whole(0, MAX_SEED, f"from 0 to {MAX_SEED} (2**32 - 1)"),
    "seeds": SEEDS,
    "sweep_seeds": SEEDS,  # A2, B4-B5: the seeds of the sweep that counts an outcome's share
    # How long: epochs or full-batch steps.
    "epochs": EPOCHS,
    "chunk_epochs": EPOCHS,  # A5: epochs on each chunk of online learning
    "slow_steps": whole(0, MAX_EPOCHS, f"from 0 (no slow steps) to {MAX_EPOCHS}"),  # C2
    "settle_step": whole(0),  # B4-B5: the step from which B5 must stay below B4 (past the end: none)
    "log_every": SIZE,  # B3-B5, B13: every how many steps a loss is logged
    "patience": SIZE,  # A5: epochs without improvement before early stopping (0 would stop at once)
    # Step sizes and penalties.
    "lr": STEP,
    "lrs": STEP,  # A3, B11: the learning rates compared, one run each
    "sgd_lr": STEP,
    "adam_lr": STEP,
    "slow_lr": STEP,  # C2: also the divisor of its schedule's jump to lr
    "l2": number(">= 0 and finite (0: no penalty)", 0),
    # Data: how much, how it is cut, how it is fed.
    "batch_size": SIZE,
    "grad_batch": SIZE,  # B6: the images whose gradients are measured
    "train_subset": optional(SIZE, "the whole training set"),
    "subset": whole(10, MNIST_TRAIN, f"from 10 (8, 1 and 1 to train, validate, test) to {MNIST_TRAIN}"),
    "chunks": whole(1, 8, "from 1 to 8 (the chunks A to H)"),  # A5's online learning
    "valid_fraction": number("between 0 and 1, both excluded (neither part may be empty)", 0, 1, ends="()"),
    "data_dir": optional(Rule("a folder (text)", lambda v, _: isinstance(v, str)), "$JAXNETS_DATA_DIR"),
    # Models.
    "hidden": SIZE,  # a hidden layer's width (C5), or one per hidden layer
    "small_hidden": SIZE,
    "sizes": SIZE,  # B12: pairs of hidden widths
    "width": SIZE,
    "depth": SIZE,
    "drop_prob": number("from 0 to 1, 1 excluded (1 would drop every unit)", 0, 1, ends="[)"),
    "weight_init": Rule(f"one of {', '.join(sorted(KERNEL_INITS))}", lambda v, _: v in KERNEL_INITS),
    "compare_without": YES_NO,
    "stop_on_divergence": YES_NO,
    # A1's binomial likelihood: k flat landings in n throws, climbed from theta0.
    "n": SIZE,
    "k": Rule("from 0 to n ({n})", lambda v, s: _whole(v) and _whole(s.get("n")) and 0 <= v <= s["n"]),
    "theta0": number("between 0 and 1, both excluded (log L is -inf at 0 and 1)", 0, 1, ends="()"),
}


class _Named(dict):
    """The settings a rule's words name ("{n}"); a name not given stands as itself."""

    def __missing__(self, key: str) -> str:
        return key


def _each(value: Any, test: Callable[[Any], bool]) -> bool:
    """Whether ``value``, a tuple of one or more values (tuples of them, for ``sizes``), passes ``test``."""
    if isinstance(value, tuple | list):
        return len(value) > 0 and all(_each(v, test) for v in value)
    return test(value)


def problem(
    name: str, value: Any, others: Mapping[str, Any] | None = None, *, many: bool = False
) -> str | None:
    """What ``value`` of setting ``name`` must be ("must be > 0 and finite"), or None where it may
    be that (or no rule is declared for ``name``). ``many``: a tuple setting; ``others``: the
    config's other settings, for a rule that names them."""
    rule = RULES.get(name)
    if rule is None:
        return None
    others = others or {}
    allowed = rule.allowed.format_map(_Named(others))
    if many:
        ok = isinstance(value, tuple | list) and _each(value, lambda v: rule.test(v, others))
        return None if ok else f"must be one or more values, each {allowed}"
    return None if rule.test(value, others) else f"must be {allowed}"


def check(experiment: Experiment, config: Any, where: Mapping[str, str] | None = None) -> None:
    """``InputError`` for the first setting of ``config`` (``experiment``'s ``Config``) that its
    rule refuses, saying where the value came from (``where``: setting → "--set lr=0") where known."""
    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    for name, kind in typing.get_type_hints(experiment.config).items():
        value = values.get(name)
        what = problem(name, value, values, many=typing.get_origin(kind) is tuple)
        if what is not None:
            origin = (where or {}).get(name)
            prefix = f"{origin}: " if origin else ""
            raise InputError(f"{prefix}{experiment.id}'s {name} {what}, got {value!r}")
