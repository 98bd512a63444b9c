"""How the experiments' command stops on Ctrl-C or SIGTERM (``kill``, ``timeout``, a scheduler):
within a bounded time, with one line, whatever the run is doing.

Python raises KeyboardInterrupt in the main thread, between two of its bytecodes, and the command
handles it (what finished is kept, ``--resume`` goes on). Two cases never get there: a main thread
waiting inside a collective of a multi-process job (in C, where no Python handler runs), and an
interrupt that code on its way drops (Python drops one raised in a garbage-collector callback, and
jax, while it traces, can clear one without a word). So the signal also wakes a watchdog thread
(``signal.set_wakeup_fd``, written by the C-level handler even while the main thread waits): if
the command has not stopped ``GRACE_S`` seconds later, or at a second Ctrl-C, the watchdog says so
in one line and ends the process (exit 130), telling the job's other processes first. Nothing is
raised from the watchdog into the main thread. Everything set here is put back at the end, so
calling the command from a notebook leaves its kernel as it was.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

GRACE_S = 10.0  # from the signal to the watchdog's stop, where the command has not stopped by itself
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def bounded(on_stuck: Callable[[str], object], grace_s: float | None = None) -> Iterator[None]:
    """For the block: SIGINT and SIGTERM raise KeyboardInterrupt in the main thread, and
    ``on_stuck(why)`` is called from a watchdog thread (it must end the process) where the block
    has not ended ``grace_s`` seconds (default ``GRACE_S``) after the first signal, or at once at
    a second one. Outside the main thread (where handlers cannot be set), nothing is set."""
    grace_s = GRACE_S if grace_s is None else grace_s
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    read, write = os.pipe()
    os.set_blocking(write, False)
    for s in SIGNALS:
        signal.signal(s, _interrupt)
    previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    ended = threading.Event()

    def watch() -> None:
        seen = 0
        while not ended.is_set():
            try:
                byte = os.read(read, 1)
            except OSError:  # the pipe closed: the block ended
                return
            if not byte or ended.is_set():
                return
            if byte[0] not in SIGNALS:
                continue
            seen += 1
            name = signal.Signals(byte[0]).name
            if seen > 1:
                return _stop(f"a second {name}")
            threading.Thread(target=_wait, args=(name,), daemon=True).start()

    def _wait(name: str) -> None:
        if not ended.wait(grace_s):
            _stop(
                f"{name}, and it had not stopped {grace_s:g} s later (stuck waiting, or the interrupt lost)"
            )

    def _stop(why: str) -> None:
        if not ended.is_set():
            on_stuck(why)

    thread = threading.Thread(target=watch, name="jaxnets-stop-watchdog", daemon=True)
    thread.start()
    try:
        yield
    finally:
        ended.set()
        signal.set_wakeup_fd(previous_fd)
        for s, handler in previous.items():
            if handler is not None:
                signal.signal(s, handler)
        os.close(write)  # wakes the watchdog's read with end of file
        thread.join(timeout=1.0)
        os.close(read)
