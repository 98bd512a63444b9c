"""The one error jaxnets raises for bad input, so callers (and the command line) can tell a
mistake in what was asked from a bug: its message names the problem and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class InputError(ValueError):
    """Bad input: a batch of the wrong shape or dtype, an unknown name, an impossible setting."""


def unknown(kind: str, name: str, choices: Iterable[str]) -> InputError:
    """``unknown optimizer 'adm'; did you mean 'adam'? Choose one of: adam, rmsprop, sgd``."""
    choices = sorted(choices)
    close = difflib.get_close_matches(str(name), choices, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ";"
    return InputError(f"unknown {kind} {name!r}{hint} Choose one of: {', '.join(choices)}")
