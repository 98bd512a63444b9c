"""Ctrl-C and SIGTERM at the command line (``experiments.harness.stopping``): a KeyboardInterrupt
in the main thread, and where the command has not stopped within its grace period (an
interrupt dropped on its way, a main thread waiting in C) or at a second signal, a watchdog that
ends it; everything set is put back afterwards."""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from experiments.harness import stopping
from tests.helpers import swallow_a_signal

ROOT = Path(__file__).parents[3]


def _handlers():
    return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_raises_keyboard_interrupt_and_everything_is_put_back(sig):
    mine = lambda signum, frame: None  # noqa: E731
    previous = signal.signal(signal.SIGINT, mine), signal.signal(signal.SIGTERM, mine)
    fd = signal.set_wakeup_fd(-1)  # (pytest's own, if any)
    stuck = []
    try:
        with pytest.raises(KeyboardInterrupt), stopping.bounded(stuck.append, grace_s=0.5):
            signal.raise_signal(sig)
            time.sleep(5)  # the signal arrives before this ends
        assert _handlers() == (mine, mine) and signal.set_wakeup_fd(-1) == -1
        time.sleep(1.0)
        assert stuck == [], "the block ended in time: nothing for the watchdog to do"
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
        signal.set_wakeup_fd(fd)


def test_an_interrupt_swallowed_on_its_way_or_a_second_signal_calls_on_stuck():
    stuck = []
    with stopping.bounded(stuck.append, grace_s=0.5):
        swallow_a_signal(signal.SIGINT)  # as jax 0.10 drops one while it traces
        start = time.monotonic()
        while not stuck and time.monotonic() - start < 10:  # training on
            time.sleep(0.01)
    assert len(stuck) == 1 and "SIGINT, and it had not stopped 0.5 s later" in stuck[0]
    assert 0.4 < time.monotonic() - start < 5
    stuck.clear()
    with stopping.bounded(stuck.append, grace_s=30):
        swallow_a_signal(signal.SIGTERM)
        swallow_a_signal(signal.SIGINT)
        start = time.monotonic()
        while not stuck and time.monotonic() - start < 10:
            time.sleep(0.01)
    assert stuck == ["a second SIGINT"] and time.monotonic() - start < 5


def test_outside_the_main_thread_nothing_is_set():
    seen = []

    def run():
        with stopping.bounded(seen.append):
            seen.append(_handlers())

    before = _handlers()
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [before]


SWALLOWING = """
import signal, sys, time
from experiments.harness import cli, stopping
from tests.helpers import patch_run, swallow_a_signal

class Patch:
    def setattr(self, obj, name, value):
        setattr(obj, name, value)

def swallowing(config, ws):
    swallow_a_signal(signal.SIGINT)  # a library caught the Ctrl-C's KeyboardInterrupt and goes on
    time.sleep(60)

stopping.GRACE_S = 2.0
patch_run(Patch(), "A2", swallowing)
sys.exit(cli.main(["A2", "--out", sys.argv[1]]))
"""


def test_a_ctrl_c_swallowed_on_its_way_still_stops_the_command_in_one_line(tmp_path):
    """Where a library catches the KeyboardInterrupt of a Ctrl-C and goes on, the command stops
    all the same, GRACE_S later, with one line and exit 130, instead of training on."""
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", SWALLOWING, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    took = time.monotonic() - start
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 130, done.stderr[-3000:]
    assert len(lines) == 1 and "stopped on SIGINT, and it had not stopped 2 s later" in lines[0], done.stderr
    assert "go on with: python -m experiments A2 --out" in lines[0] and lines[0].endswith("--resume")
    assert "Traceback" not in done.stderr
    assert took < 60, f"{took:.0f} s: stopped by the watchdog, not after the experiment's minute"


def test_the_command_run_from_a_notebook_leaves_the_kernels_handlers_as_they_were(tmp_path):
    from experiments.harness import cli

    mine = lambda signum, frame: None  # noqa: E731
    previous = signal.signal(signal.SIGTERM, mine)
    try:
        before = _handlers()
        assert cli.main(["A1", "--out", str(tmp_path)]) == 0
        assert _handlers() == before
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert os.environ.get("JAXNETS_ACCEPT_DATA") is None
    assert logging.getLogger("absl").level == logging.NOTSET


def test_sigterm_to_a_process_stuck_in_a_collective_ends_it_within_its_bound(tmp_path):
    """A 2-process job whose process 1 is frozen (SIGSTOP): process 0 waits inside a collective,
    where no Python handler runs. SIGTERM to it ends it all the same, GRACE_S (10 s) after the
    signal and a few seconds of telling the others, with one line and exit 130 (before its watch
    of process 1's heartbeat, 15 s, would have)."""
    from tests.helpers import training_job

    procs = training_job(tmp_path)
    try:
        procs[1].send_signal(signal.SIGSTOP)
        time.sleep(1)  # process 0 now waits for process 1 in its next collective
        procs[0].send_signal(signal.SIGTERM)
        sent = time.monotonic()
        _, err = procs[0].communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert procs[0].returncode == 130, err[-3000:]
    assert len(lines) == 1 and "stopped on SIGTERM, and it had not stopped 10 s later" in lines[0], err[
        -3000:
    ]
    assert lines[0].endswith("--resume") and "Traceback" not in err
    assert took < stopping.GRACE_S + 8, f"{took:.1f} s"
