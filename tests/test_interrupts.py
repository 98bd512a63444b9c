"""Ctrl-C while training: held back during a save, delivered after it; never swallowed."""

import os
import signal
import sys

import pytest

from jaxnets import interrupts, optim
from jaxnets.loop import fit
from jaxnets.models import MLP
from tests.helpers import KEY, blobs, state_for


class _SignalsWhenCollected:
    """An object whose ``__del__`` receives ``signum``: the handler's exception is raised inside
    ``__del__``, where Python prints "Exception ignored" and drops it (as in JAX's gc callback)."""

    def __init__(self, signum: int):
        self.signum = signum

    def __del__(self):
        signal.raise_signal(self.signum)


@pytest.fixture
def swallowed(monkeypatch):
    """The exceptions Python dropped that reach its unraisable hook (which prints them)."""
    dropped: list[BaseException] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: dropped.append(u.exc_value))
    return dropped


@pytest.fixture
def python_handlers():
    """Ctrl-C raising KeyboardInterrupt (Python's handler) and SIGTERM raising SystemExit (as a
    program's own handler would), restored after the test."""
    before = {s: signal.getsignal(s) for s in interrupts.SIGNALS}

    def on_sigterm(signum, frame):
        raise SystemExit(143)

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_sigterm)
    yield
    for s, handler in before.items():
        signal.signal(s, handler)


@pytest.mark.parametrize(
    ("signum", "raised"), [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, SystemExit)]
)
def test_a_signal_python_swallowed_is_raised_again_by_check(python_handlers, swallowed, signum, raised):
    handlers = {s: signal.getsignal(s) for s in interrupts.SIGNALS}
    with interrupts.redelivered() as check:
        check()  # nothing seen yet: nothing raised
        _SignalsWhenCollected(signum)  # collected at once: its signal's exception is dropped
        assert swallowed == [], "kept for check(), not printed as 'Exception ignored'"
        with pytest.raises(raised):
            check()
        check()  # delivered once
    assert {s: signal.getsignal(s) for s in interrupts.SIGNALS} == handlers


class _FailsWhenCollected:
    def __del__(self):
        raise ValueError("a bug in a __del__")


def test_other_dropped_exceptions_are_still_reported(python_handlers, swallowed):
    hook = sys.unraisablehook
    with interrupts.redelivered() as check:
        _FailsWhenCollected()
        check()  # no signal: nothing to raise
    assert [type(e) for e in swallowed] == [ValueError]
    assert sys.unraisablehook is hook and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_fit_stops_at_the_end_of_the_epoch_where_a_ctrl_c_was_swallowed(python_handlers, swallowed):
    x, y = blobs(128)
    epochs = []

    def on_epoch(epoch, state, row):
        epochs.append(epoch)
        if epoch == 2:
            _SignalsWhenCollected(signal.SIGINT)

    state = state_for(MLP((8, 2)), x, tx=optim.optimizer("sgd", 0.1))
    with pytest.raises(KeyboardInterrupt):
        fit(state, (x, y), epochs=20, batch_size=32, key=KEY, on_epoch=on_epoch, progress=False)
    assert swallowed == []
    assert epochs == [1, 2], "the run stops at the end of the epoch where Ctrl-C was pressed"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ignored_signals_stay_ignored_and_checks_raise_nothing():
    before = {s: signal.signal(s, signal.SIG_IGN) for s in interrupts.SIGNALS}
    try:
        with interrupts.redelivered() as check:
            os.kill(os.getpid(), signal.SIGINT)
            check()
        assert all(signal.getsignal(s) == signal.SIG_IGN for s in interrupts.SIGNALS)
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def test_ctrl_c_during_a_save_is_delivered_after_it():
    # Python's own handler, even where this process was started with Ctrl-C ignored (a job in
    # the background of a shell): that case is the next test's.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        finished = []
        with pytest.raises(KeyboardInterrupt):
            with interrupts.held():
                os.kill(os.getpid(), signal.SIGINT)
                finished.append(True)  # reached: the interrupt waited for the block
        assert finished == [True]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)


def test_ctrl_c_held_back_in_a_process_that_ignores_it_stays_ignored():
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupts.held():
            os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
