"""Ctrl-C (and SIGTERM, where a handler turns it into an exception) while training: never cutting
a checkpoint in half (``held``) and never lost (``redelivered``).

Python runs a signal's handler between any two bytecodes of the main thread, including those of
a garbage-collector callback (JAX registers one) or a ``__del__``. An exception raised there
cannot propagate: Python prints "Exception ignored in …" and goes on, so a Ctrl-C that lands
there is swallowed and the run trains on as if no key had been pressed (in a multi-process job,
its peers wait with it). ``redelivered`` keeps such a dropped exception from being printed and
its ``check`` raises it again at a point where it propagates (``fit``: after each epoch's
callbacks, so that epoch's checkpoint is written first).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

# The signals whose Python-level handlers are watched: Ctrl-C, and a SIGTERM turned into an
# exception by the program (the experiments' CLI does: ``session.stop_on_sigterm``).
SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def redelivered() -> Iterator[Callable[[], None]]:
    """Within the block, an exception a handler of ``SIGNALS`` raised where Python drops it (its
    unraisable hook) is not printed but remembered, and the ``check()`` the block is given calls
    that handler again, where its exception propagates. Outside the main thread, where handlers
    cannot be set, ``check`` does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    raised: dict[int, tuple[BaseException, int, Callable[[int, Any], Any]]] = {}
    dropped: list[tuple[int, Callable[[int, Any], Any]]] = []

    def remembering(handler: Callable[[int, Any], Any]) -> Callable[[int, Any], Any]:
        def on_signal(signum: int, frame: Any) -> Any:
            try:
                return handler(signum, frame)
            except BaseException as e:
                raised[id(e)] = (e, signum, handler)
                raise

        return on_signal

    def unraisable(u: Any) -> None:
        entry = raised.get(id(u.exc_value))
        if entry is None or entry[0] is not u.exc_value:
            return hook(u)
        dropped.append(entry[1:])

    def check() -> None:
        if dropped:
            signum, handler = dropped[0]
            dropped.clear()
            raised.clear()
            handler(signum, None)

    previous = {s: signal.getsignal(s) for s in SIGNALS}
    hook = sys.unraisablehook
    for s, handler in previous.items():
        if callable(handler):  # (not SIG_DFL or SIG_IGN: the process ends, or nothing happens)
            signal.signal(s, remembering(handler))
    sys.unraisablehook = unraisable
    try:
        yield check
    finally:
        sys.unraisablehook = hook
        for s, handler in previous.items():
            if handler is not None:
                signal.signal(s, handler)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) until the block is done, then deliver it: a save is never cut
    in half by a KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            if callable(previous):
                previous(signal.SIGINT, None)
            elif previous != signal.SIG_IGN:  # a process that ignores Ctrl-C goes on ignoring it
                raise KeyboardInterrupt
