"""The job of several processes the experiments' command runs (``experiments.harness.job``): its
settings checked before anything starts, and nothing to coordinate in one process. (Jobs of two
processes run end to end in ``test_cli_bad_input.py``; the engine's training across processes in
``tests/test_distributed.py``.)"""

import time

import pytest

from experiments.harness import job
from jaxnets.errors import InputError


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (("127.0.0.1:1234", 2, None), "missing: --process-id"),
        ((None, 2, 0), "missing: --coordinator"),
        (("127.0.0.1", 2, 0), "--coordinator must be HOST:PORT"),
        (("127.0.0.1:99999", 2, 0), "--coordinator must be HOST:PORT"),
        (("127.0.0.1:1234", 2, 2), "--process-id must be from 0 to 1"),
        (("127.0.0.1:1234", 0, 0), "--num-processes must be at least 1"),
    ],
)
def test_bad_job_settings_are_refused(settings: tuple, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("-", r"\-")):
        job.check_settings(*settings)


def test_one_process_needs_no_coordination() -> None:
    assert job.is_main()
    assert job.agree(True) is True and job.agree(False) is False
    job.barrier("nothing to wait for")
    assert job.watch_peers() is None and job.lost_peer(RuntimeError("Gloo")) is None
    job.leave("was interrupted", 130)  # returns: there is no job to leave


class _Store:
    """The coordination service's key-value store, as ``leave`` uses it."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def key_value_try_get(self, key: str) -> str:
        return self.values[key]

    def key_value_set(self, key: str, value: str, allow_overwrite: bool = False) -> None:
        self.values[key] = value

    def blocking_key_value_get(self, key: str, timeout_ms: int) -> str:
        return "1"  # every peer has left


def test_a_process_that_leaves_twice_keeps_its_first_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C being handled (its orderly ``leave``), then the watchdog's stop: the other processes
    read why the job ended first, not the watchdog's later word; another process's reason is
    overwritten by this one's."""
    store, exits = _Store(), []
    monkeypatch.setattr(job.jax, "process_count", lambda: 2)
    monkeypatch.setattr(job.jax, "process_index", lambda: 0)
    monkeypatch.setattr(job.coordination, "client", lambda: store)
    monkeypatch.setattr(job, "exit_now", exits.append)
    monkeypatch.setattr(job, "_GRACE_S", 0.0)
    store.values[job._STOP] = "1\twas given bad input"
    job.leave("was interrupted (Ctrl-C or SIGTERM)", 130)
    job.leave("was stopped (SIGINT, and it had not stopped 10 s later)", 130, wait_s=2.0)
    assert store.values[job._STOP] == "0\twas interrupted (Ctrl-C or SIGTERM)" and exits == [130, 130]


def test_a_peer_that_finished_is_not_judged_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that finished says so (``jaxnets/left/K``) and beats no more; the others stop
    judging it, while a peer that stops beating without a word is taken for dead."""
    store = _Store()
    store.key_value_dir_get = lambda prefix: [(k, v) for k, v in store.values.items() if k.startswith(prefix)]
    monkeypatch.setattr(job.jax, "process_count", lambda: 2)
    monkeypatch.setattr(job.jax, "process_index", lambda: 0)
    monkeypatch.setattr(job.coordination, "client", lambda: store)
    store.values[f"{job._BEATS}1"] = "7"  # process 1's last beat, never to change
    for finished, expected in ((True, []), (False, ["process 1 of the job stopped answering 0 s ago"])):
        store.values.pop(f"{job._LEFT}1", None)
        if finished:
            store.values[f"{job._LEFT}1"] = "1"
        lost: list[str] = []
        job.watch_peers(lost.append, silent_s=0.2, every_s=0.02)
        time.sleep(0.6)
        assert [m.split(" (")[0] for m in lost[:1]] == expected
