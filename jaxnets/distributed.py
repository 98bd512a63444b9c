"""Several processes (hosts) training one model: JAX's multi-controller runtime.

Every process runs the same program. ``initialize`` connects them (``jax.distributed``); after it,
``jax.devices()`` lists the devices of all processes, ``parallel.data_mesh()`` spans them, and
``fit`` trains one data-parallel job over them, each process placing its copy of the state and
data on its own devices (``parallel.put``). Only process 0 (``is_main``) shows progress and writes
results; checkpoints are written by all processes together, as Orbax expects (on a folder every
process sees: a shared file system or a bucket).

    python -m experiments B11 --coordinator 10.0.0.1:1234 --num-processes 2 --process-id 0
    python -m experiments B11 --coordinator 10.0.0.1:1234 --num-processes 2 --process-id 1

If a process dies, JAX stops the others (its coordination service misses the dead one's
heartbeats), with the message "the JAX distributed service detected fatal errors". Processes that
do not all join within ``initialize``'s ``timeout_s`` give up, each saying so; ``agree_on`` makes
processes started with different settings stop at once instead of waiting on each other forever.
"""

from __future__ import annotations

import hashlib
import socket

import jax
import numpy as np
from jax.experimental import multihost_utils

from jaxnets.errors import InputError

AUTO = "auto"


def initialize(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    heartbeat_s: int = 30,
    timeout_s: int = 300,
) -> None:
    """Join the job of ``num_processes`` processes whose process 0 listens at ``coordinator``
    (HOST:PORT); call it before anything else uses JAX. ``coordinator="auto"`` (with no other
    settings) lets JAX find the job itself (Cloud TPU slices, SLURM, Open MPI, Kubernetes).

    A process that stops sending heartbeats for ``heartbeat_s`` seconds is taken for dead and the
    others are stopped; processes that have not all joined after ``timeout_s`` give up.
    """
    if coordinator == AUTO:
        if num_processes is not None or process_id is not None:
            raise InputError(
                "--coordinator auto finds the number of processes and this one's id itself: drop "
                "--num-processes and --process-id"
            )
        try:
            jax.distributed.initialize(
                initialization_timeout=timeout_s, heartbeat_timeout_seconds=heartbeat_s
            )
        except (ValueError, RuntimeError) as e:
            raise InputError(
                f"--coordinator auto found no job to join ({str(e).splitlines()[0]}): outside a Cloud TPU "
                f"slice, SLURM, Open MPI or Kubernetes, give --coordinator HOST:PORT --num-processes N "
                f"--process-id I"
            ) from None
        return
    check_settings(coordinator, num_processes, process_id)
    if process_id == 0:
        check_port_free(coordinator)
    jax.distributed.initialize(
        coordinator,
        num_processes,
        process_id,
        initialization_timeout=timeout_s,
        heartbeat_timeout_seconds=heartbeat_s,
    )


def check_port_free(coordinator: str) -> None:
    """Process 0 listens at ``coordinator``: its port must be free there (JAX's own listener
    crashes the process when it is not)."""
    host, _, port = coordinator.rpartition(":")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host.strip("[]"), int(port)))
        except OSError as e:
            raise InputError(
                f"process 0 cannot listen at {coordinator} ({e.strerror or e}): another job's process 0 (or "
                f"another program) holds the port, or the address is not this host's; choose another "
                f"port, or give only one process --process-id 0"
            ) from None


def agree_on(settings: str) -> None:
    """Every process of the job runs with the same ``settings`` (a description of what it will
    do), checked with one collective before any other: processes started differently stop at
    once with one line each, instead of waiting on each other's collectives forever."""
    if jax.process_count() == 1:
        return
    mine = np.frombuffer(hashlib.sha256(settings.encode()).digest(), np.uint8)
    every = np.asarray(multihost_utils.process_allgather(mine))
    differ = [k for k in range(len(every)) if not np.array_equal(every[k], every[0])]
    if differ:
        raise InputError(
            f"the processes of this job were started with different settings (process(es) "
            f"{', '.join(map(str, differ))} differ from process 0): run the same command on every "
            f"process, with only --process-id changed"
        )


def check_settings(coordinator: str | None, num_processes: int | None, process_id: int | None) -> None:
    """The three settings of a multi-process job, all given and consistent, or an error saying
    what is missing or wrong."""
    given = {"--coordinator": coordinator, "--num-processes": num_processes, "--process-id": process_id}
    missing = [flag for flag, value in given.items() if value is None]
    if missing:
        raise InputError(
            f"a multi-process run needs all of --coordinator HOST:PORT, --num-processes N and --process-id I "
            f"(missing: {', '.join(missing)}); or --coordinator auto where JAX finds the job itself"
        )
    host, _, port = str(coordinator).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--coordinator must be HOST:PORT (e.g. 10.0.0.1:1234), got {coordinator!r}")
    if num_processes < 1:
        raise InputError(f"--num-processes must be at least 1, got {num_processes}")
    if not 0 <= process_id < num_processes:
        raise InputError(
            f"--process-id must be from 0 to {num_processes - 1} (one per process), got {process_id}"
        )


def is_main() -> bool:
    """Whether this is the process that prints and writes results (process 0)."""
    return jax.process_index() == 0


def agree(flag: bool) -> bool:
    """Process 0's ``flag`` on every process (for decisions each would otherwise take from what
    it reads itself, such as whether a run finished earlier)."""
    if jax.process_count() == 1:
        return flag
    return bool(multihost_utils.broadcast_one_to_all(np.int32(flag)))


def barrier(name: str) -> None:
    """Wait until every process reaches the barrier ``name`` (nothing to wait for in one process)."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(name)
