"""Ctrl-C while training: held back during a save, delivered after it; never swallowed."""

import os
import signal
import sys
import time

import pytest

from jaxnets import interrupts, optim
from jaxnets.loop import fit
from jaxnets.models import MLP
from tests.helpers import KEY, blobs, state_for, swallow_a_signal


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
    with pytest.raises(raised):  # by the block's end: it never left the block
        with interrupts.redelivered() as check:
            check()  # nothing seen yet: nothing raised
            _SignalsWhenCollected(signum)  # collected at once: its signal's exception is dropped
            assert swallowed == [], "kept for check(), not printed as 'Exception ignored'"
            with pytest.raises(raised):
                check()
            with pytest.raises(raised):
                check()  # caught in the block: raised again until it leaves the block
    assert {s: signal.getsignal(s) for s in interrupts.SIGNALS} == handlers


def test_a_signal_cleared_without_a_word_is_raised_at_the_blocks_end(python_handlers, swallowed):
    after = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts.redelivered():
            swallow_a_signal(signal.SIGINT)
            after.append("the block ran on")
    assert after == ["the block ran on"] and swallowed == []


def test_with_every_s_a_thread_raises_it_again_wherever_the_main_thread_is(python_handlers):
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with interrupts.redelivered(every_s=0.05):
            swallow_a_signal(signal.SIGINT)
            while time.monotonic() - start < 10:  # training on, never calling check()
                time.sleep(0.01)
    assert time.monotonic() - start < 5, "raised again within a few periods, not after the loop"


def test_the_thread_lets_one_on_its_way_out_finish_its_finally(python_handlers):
    cleaned = []
    with pytest.raises(KeyboardInterrupt) as raised:
        with interrupts.redelivered(every_s=0.02):
            try:
                signal.raise_signal(signal.SIGINT)
            finally:
                first = sys.exc_info()[1]
                time.sleep(0.3)  # many of the thread's periods
                cleaned.append(True)
    assert cleaned == [True] and raised.value is first, "not cut short by a second KeyboardInterrupt"


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


def _epochs_fit_ran_until_interrupted(on_epoch=lambda epoch: None) -> list[int]:
    """The epochs a 20-epoch ``fit`` ran before a KeyboardInterrupt stopped it (``on_epoch(epoch)``
    after each)."""
    x, y = blobs(128)
    epochs = []

    def record(epoch, state, row):
        epochs.append(epoch)
        on_epoch(epoch)

    state = state_for(MLP((8, 2)), x, tx=optim.optimizer("sgd", 0.1))
    with pytest.raises(KeyboardInterrupt):
        fit(
            state, (x, y), epochs=20, batch_size=32, key=KEY, on_epoch=record, progress=False, epoch_as="loop"
        )
    return epochs


def test_fit_stops_at_the_end_of_the_epoch_where_a_ctrl_c_was_swallowed(python_handlers, swallowed):
    def on_epoch(epoch):
        if epoch == 2:
            _SignalsWhenCollected(signal.SIGINT)

    epochs = _epochs_fit_ran_until_interrupted(on_epoch)
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


def test_the_thread_sends_nothing_after_the_block(python_handlers):
    late = []
    for _ in range(100):  # each block ends as the thread sends (its period: a millisecond)
        with pytest.raises(KeyboardInterrupt):
            with interrupts.redelivered(every_s=0.001):
                swallow_a_signal(signal.SIGINT)
                time.sleep(0.002)
        try:
            time.sleep(0.005)
        except KeyboardInterrupt:
            late.append(True)
    assert late == []


def test_a_ctrl_c_jax_drops_while_tracing_still_stops_fit(python_handlers, monkeypatch):
    """jax 0.10's ``FlatTree.paths`` (the result paths of every function it traces) catches every
    exception, a KeyboardInterrupt too: a Ctrl-C landing there, as fit checks the data against
    the model (its first trace), was cleared without a word and the run trained on. It stops at
    the end of the first epoch."""
    from jax._src import tree_util

    unzip2, sent = tree_util.unzip2, []

    def interrupted(pairs):  # inside ``paths``' ``try``, where jax drops what is raised
        if not sent and "paths" in sys._getframe(1).f_code.co_name:
            sent.append(True)
            signal.raise_signal(signal.SIGINT)
        return unzip2(pairs)

    monkeypatch.setattr(tree_util, "unzip2", interrupted)
    epochs = _epochs_fit_ran_until_interrupted()
    assert sent and epochs == [1], "stopped at the end of the first epoch"
