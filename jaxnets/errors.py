"""The one error jaxnets raises for bad input, so callers (and the command line) can tell a
mistake in what was asked from a bug: its message names the problem and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import numpy as np


class InputError(ValueError):
    """Bad input: a batch of the wrong shape or dtype, an unknown name, an impossible setting."""


def whole_number(name: str, value: object, minimum: int) -> int:
    """``value`` as an int if it is a whole number (NumPy's too) of at least ``minimum``; else
    ``InputError`` naming the argument, the value and what it must be."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InputError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def unknown(kind: str, name: str, choices: Iterable[str]) -> InputError:
    """``unknown optimizer 'adm'; did you mean 'adam'? Choose one of: adam, rmsprop, sgd``."""
    choices = sorted(choices)
    close = difflib.get_close_matches(str(name), choices, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ";"
    return InputError(f"unknown {kind} {name!r}{hint} Choose one of: {', '.join(choices)}")
