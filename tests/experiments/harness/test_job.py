"""The job of several processes the experiments' command runs (``experiments.harness.job``): its
settings checked before anything starts, and nothing to coordinate in one process. (Jobs of two
processes run end to end in ``test_cli_bad_input.py``; the engine's training across processes in
``tests/test_distributed.py``.)"""

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
