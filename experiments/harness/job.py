"""The experiments' command as a job of several processes (hosts) training one model, JAX's
multi-controller runtime, and what keeps such a job from hanging: a process that stops tells the
others, and they stop too.

Every process runs the same program. ``initialize`` connects them (``jax.distributed``); after it,
``jax.devices()`` lists the devices of all processes, ``parallel.data_mesh()`` spans them, and
``fit`` trains one data-parallel job over them, each process placing its copy of the state and
data on its own devices (``parallel.put``). Only process 0 (``is_main``) shows progress and writes
results; checkpoints are written by all processes together, as Orbax expects (on a folder every
process sees: a shared file system or a bucket).

    python -m experiments B11 --coordinator 10.0.0.1:1234 --num-processes 2 --process-id 0
    python -m experiments B11 --coordinator 10.0.0.1:1234 --num-processes 2 --process-id 1

A process that stops on purpose (Ctrl-C, SIGTERM, an error) ``leave``s the job, saying why; the
others, ``watch_peers``-ing from a thread, stop within a second with one line saying which process
stopped and why, or within ``SILENT_S`` when a process dies without a word (killed, out of
memory). Only the death of process 0, which holds the job's coordination service, is JAX's to
report: it stops the others at once with "the JAX distributed service detected fatal errors"
(and, as for any process, after its heartbeat timeout where nothing else did). Processes that do
not all join within ``initialize``'s ``timeout_s`` give up, each saying so; ``agree_on`` makes
processes started with different settings stop at once instead of waiting on each other forever.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

import jax
import numpy as np
from jax.experimental import multihost_utils

from experiments.harness import coordination
from jaxnets.errors import InputError

AUTO = "auto"
SILENT_S = 15  # a process silent this long is taken for dead (before JAX's own 30 s heartbeat timeout)
_STOP = "jaxnets/stop"  # the key-value store's key where a process leaving says why
_BEATS = "jaxnets/beat/"  # each process's beat counter
# How a collective reports a peer that is gone (gloo on CPU, NCCL on GPU, the coordinator).
_GONE = ("Gloo", "Connection reset", "Connection refused", "Socket closed", "NCCL")
_SILENT = "stopped answering {:.0f} s ago (it died, froze, or its machine did)"
_LEFT = "jaxnets/left/"  # a process about to exit says so (process 0, whose exit ends the job, goes last)
_GRACE_S = 1.0  # from a peer's "left" to its exit: process 0 waits this long more


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


def _write_left(client: Any, me: int) -> None:
    """Write ``jaxnets/left/<me>``: this process is leaving (a failure ignored: the coordinator may
    be gone)."""
    with contextlib.suppress(Exception):
        client.key_value_set(f"{_LEFT}{me}", "1", allow_overwrite=True)


def _say_left() -> None:
    """Tell process 0 this process is leaving (so that it does not end the coordination service
    first: JAX aborts a process whose coordinator is gone). Bounded: the coordinator may be
    frozen or gone."""
    if jax.process_count() == 1:
        return

    def say() -> None:
        _write_left(coordination.client(), jax.process_index())

    thread = threading.Thread(target=say, daemon=True)
    thread.start()
    thread.join(timeout=2.0)


def exit_now(code: int, message: str | None = None) -> NoReturn:
    """End this process at once with ``code`` (after ``error: message``, if given), its output
    flushed: no exit barrier to wait at for peers that are gone or still training."""
    if message is not None:
        print(f"error: {message}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    _say_left()
    os._exit(code)


def _lose(message: str) -> None:
    """``watch_peers``' default: say what happened and end this process (exit 1: the job failed)."""
    exit_now(1, message)


def watch_peers(
    on_lost: Callable[[str], object] = _lose, silent_s: float = SILENT_S, every_s: float = 1.0
) -> threading.Thread | None:
    """Watch the job's other processes from a thread, and call ``on_lost(message)`` (by default:
    print it and end this process with exit 1) when one ``leave``s the job, stops beating for
    ``silent_s`` (killed, frozen, its machine gone), or the job's coordinator (process 0) does
    not answer for as long. Without it, such peers wait in their next collective until JAX
    aborts them. Start it after ``initialize``; at this process's normal end (interpreter exit)
    it tells the others so and stops."""
    if jax.process_count() == 1:
        return None
    client, me = coordination.client(), jax.process_index()
    if client is None:  # (a jax that keeps it elsewhere: said once by ``coordination.client``)
        return None
    ending = threading.Event()
    answered = [time.monotonic()]  # when the coordinator last answered

    def lost(message: str) -> None:
        if not ending.is_set():
            on_lost(message)

    def watch() -> None:
        heard: dict[str, tuple[str, float]] = {}
        for beat in range(1, sys.maxsize):
            if ending.is_set():
                return
            try:
                client.key_value_set(f"{_BEATS}{me}", str(beat), allow_overwrite=True)
                entries = dict(client.key_value_dir_get("jaxnets/"))
            except Exception as e:  # any failure to reach the coordinator
                return lost(f"lost the job's coordinator, process 0 ({str(e).strip().splitlines()[0][:120]})")
            now = answered[0] = time.monotonic()
            if message := _peer_stop(entries.get(_STOP), me):
                return lost(message)
            for key, value in entries.items():
                if not key.startswith(_BEATS) or key == f"{_BEATS}{me}":
                    continue
                if f"{_LEFT}{key.removeprefix(_BEATS)}" in entries:  # it finished: it beats no more
                    continue
                if heard.get(key, ("",))[0] != value:
                    heard[key] = (value, now)
                elif now - heard[key][1] > silent_s:
                    return lost(f"process {key.removeprefix(_BEATS)} of the job {_SILENT.format(silent_s)}")
            ending.wait(every_s)

    def judge() -> None:  # the coordinator itself frozen: the watcher's call never returns
        while time.monotonic() - answered[0] <= silent_s and not ending.is_set():
            ending.wait(every_s)
        lost(f"process 0 of the job (its coordinator) {_SILENT.format(silent_s)}")

    threading.Thread(target=judge, name="jaxnets-judge-coordinator", daemon=True).start()
    thread = threading.Thread(target=watch, name="jaxnets-watch-peers", daemon=True)
    thread.start()

    def end() -> None:
        # At this process's normal end (before JAX's exit barrier, whose handler was registered
        # earlier and so runs later): it tells the others it finished (they stop judging its
        # beats), and its watcher stops, so that no call of it into the coordination client is on
        # its way when the interpreter finalizes (a daemon thread coming back from C++ then is
        # ended by a forced unwind, which a C++ catch-all turns into an abort: "FATAL: exception
        # not rethrown").
        _write_left(client, me)
        ending.set()
        thread.join(timeout=5.0)

    atexit.register(end)
    return thread


def _peer_stop(stop: str | None, me: int) -> str | None:
    """The stop key's value ("K\treason") as a message, unless it is this process's own."""
    if not stop:
        return None
    who, reason = stop.split("\t", 1)
    return None if int(who) == me else f"process {who} of the job {reason}"


def lost_peer(error: BaseException | None = None) -> str | None:
    """Why this process lost its job, if it did: another process left it (``leave``), or
    ``error`` is a collective that failed because another process is gone (a closed connection
    comes back as an error before any heartbeat is missed). None otherwise, and in one process."""
    if jax.process_count() == 1:
        return None
    if message := _peer_stop(_said(coordination.client()), jax.process_index()):
        return message
    text = str(error or "")  # (a JaxRuntimeError, or a ValueError where JAX dispatches the program)
    if any(w in text for w in _GONE):
        first = text.strip().splitlines()[0][:160]
        return f"a collective with the job's other processes failed ({first}): one of them stopped or died"
    return None


def _said(client: Any) -> str:
    """The stop key's value ("K\treason"), or "" where no process has left."""
    try:
        return client.key_value_try_get(_STOP)
    except Exception:  # no such key (or no coordinator to ask)
        return ""


def leave(reason: str, code: int, wait_s: float = SILENT_S) -> None:
    """End this process of the job now with exit ``code``, telling the others why (``reason``
    completes "process K of the job …"): a process that stops alone would otherwise wait at the
    job's exit barrier for peers still training, and they for it. Process 0 waits up to
    ``wait_s`` for the others to have left (the coordination service ends with it, and JAX
    aborts a process still connected to it). A process that leaves twice (a Ctrl-C being handled,
    then the watchdog's stop) keeps its first reason. Nothing happens in a single process."""
    if jax.process_count() == 1:
        return
    client, me = coordination.client(), jax.process_index()
    try:
        if not _said(client).startswith(f"{me}\t"):
            client.key_value_set(_STOP, f"{me}\t{reason}", allow_overwrite=True)
        if me == 0:
            deadline = time.monotonic() + wait_s
            for peer in range(1, jax.process_count()):
                left_ms = int(1000 * (deadline - time.monotonic()))
                if left_ms <= 0:
                    break
                client.blocking_key_value_get(f"{_LEFT}{peer}", left_ms)
            time.sleep(_GRACE_S)  # from their word to their exit
    except Exception:  # a peer that did not answer in time: leave all the same
        pass
    exit_now(code)
