"""The job's coordination service's key-value store: where the processes of a multi-process job
tell each other that one is leaving, and that each is alive (``job.watch_peers``).

JAX starts that service with ``jax.distributed.initialize`` but has no public name for its
client; Orbax reaches it where this does, in ``jax._src.distributed`` (the same on every jax this
project supports, 0.7.2 to 0.12.1, and tested on each in CI). This module is the project's one
use of ``jax._src``: where a jax moves it, ``client()`` gives None and a job runs without its
processes watching each other (JAX's own heartbeat still stops a job whose process died, after
its timeout), saying so once.
"""

from __future__ import annotations

import sys
from typing import Any

_said: list[bool] = []


def client() -> Any | None:
    """The coordination client of this process's job, or None (no job, or a jax that keeps it
    elsewhere: then one line on stderr says what is lost)."""
    try:
        from jax._src import distributed as jax_distributed

        found = jax_distributed.global_state.client
    except (ImportError, AttributeError):
        found = None
        if not _said:
            _said.append(True)
            print(
                "warning: this jax keeps its coordination client elsewhere: the job's processes do not "
                "watch each other (one that stops is noticed after JAX's heartbeat timeout)",
                file=sys.stderr,
            )
    return found
