"""Ctrl-C (and SIGTERM, where a handler turns it into an exception) while training: never cutting
a checkpoint in half (``held``) and never lost (``redelivered``).

Python runs a signal's handler between any two bytecodes of the main thread, including those of
a garbage-collector callback (JAX registers one) or a ``__del__``. An exception raised there
cannot propagate: Python prints "Exception ignored in …" and goes on. And code may catch it and
go on: jax 0.10 does, without a word, while it traces a function (a bare ``except:`` in
``FlatTree.paths``). Either way a Ctrl-C that lands there is swallowed, and the run trains on
as if no key had been pressed (in a multi-process job, its peers wait with it).
``redelivered`` raises such an exception again until it has left the block: at the block's
``check()`` (``fit``: after each epoch's callbacks, so that epoch's checkpoint is written
first), and with ``every_s`` from a thread too, wherever the main thread is (the experiments'
CLI, around each experiment).
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

# The signals whose Python-level handlers are watched: Ctrl-C, and a SIGTERM turned into an
# exception by the program (the experiments' CLI does: ``session.stop_on_sigterm``).
SIGNALS = (signal.SIGINT, signal.SIGTERM)

Handler = Callable[[int, Any], Any]


@contextlib.contextmanager
def redelivered(every_s: float | None = None) -> Iterator[Callable[[], None]]:
    """Within the block, a signal of ``SIGNALS`` whose handler raised ends the block, however the
    exception was dropped on its way (it is not printed where Python drops it): the ``check()``
    the block is given raises it again while it has not left the block, so does the block's end,
    and with ``every_s`` a thread has the main thread raise it again every ``every_s`` seconds
    (not while it is on its way out, through an ``except`` or ``finally``). Code in the block
    cannot catch a Ctrl-C and go on. Outside the main thread, where handlers cannot be set,
    nothing is watched."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    ours: dict[int, BaseException] = {}  # what the handlers raised (kept alive: ids stay unique)
    pending: list[tuple[int, Handler]] = []  # the first signal whose handler raised
    again, ended, lock = threading.Event(), threading.Event(), threading.Lock()

    def handling_ours() -> bool:
        """Whether the main thread is handling (``except``, ``finally``) one of ``ours``."""
        e = sys.exc_info()[1]
        while e is not None and ours.get(id(e)) is not e:
            e = e.__context__
        return e is not None

    def deliver(signum: int, handler: Handler, frame: Any) -> Any:
        try:
            return handler(signum, frame)
        except BaseException as e:
            ours[id(e)] = e
            pending[:] = pending or [(signum, handler)]
            raise

    def remembering(handler: Handler) -> Handler:
        def on_signal(signum: int, frame: Any) -> Any:
            if again.is_set():  # the thread's: not while one of ours is on its way out
                again.clear()
                if handling_ours():
                    return None
            return deliver(signum, handler, frame)

        return on_signal

    def unraisable(u: Any) -> None:
        if ours.get(id(u.exc_value)) is not u.exc_value:
            hook(u)

    def check() -> None:
        if pending:
            deliver(*pending[0], None)

    def insist() -> None:
        while not ended.wait(every_s):
            with lock:
                if pending and not ended.is_set():
                    again.set()
                    _thread.interrupt_main(pending[0][0])

    previous = {s: signal.getsignal(s) for s in SIGNALS}
    hook = sys.unraisablehook
    for s, handler in previous.items():
        if callable(handler):  # (not SIG_DFL or SIG_IGN: the process ends, or nothing happens)
            signal.signal(s, remembering(handler))
    sys.unraisablehook = unraisable
    if every_s is not None:
        threading.Thread(target=insist, name="jaxnets-redeliver-signals", daemon=True).start()
    try:
        yield check
    finally:
        # The thread sends only while the block is on (``lock``): one it sent before is handled
        # by ``on_signal`` at the main thread's next Python call (``ended.set()``), not by a
        # handler put back.
        with lock:
            ended.set()
        sys.unraisablehook = hook
        for s, handler in previous.items():
            if handler is not None:
                signal.signal(s, handler)
    check()  # (the block ended without it: raised here)


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
