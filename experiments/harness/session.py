"""What a command sets up before it runs anything: the compilation cache, the multi-process job,
a results folder it can write to, and the environment for the run."""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import functools
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

from experiments.harness import job


def enable_compilation_cache(path: Path) -> None:
    """Keep compiled programs in ``path`` across runs (JAX's persistent compilation cache)."""
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    # Programs that compile in under 0.2 s are not worth a file (JAX's own variable overrides it).
    minimum = float(os.environ.get("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", 0.2))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", minimum)


JOIN_TIMEOUT_S = 300  # how long the processes of a job wait for each other to join


def dump_stacks_on_sigusr1() -> None:
    """``kill -USR1 PID`` prints every thread's stack to stderr and the process runs on; skipped
    where stderr is not a file (a caller capturing it, as pytest does) or there is no SIGUSR1."""
    if not hasattr(signal, "SIGUSR1"):
        return
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)


def join_job(args: argparse.Namespace) -> None:
    """Join the multi-process job the flags describe, if any (``experiments.harness.job``). In a job,
    ``kill -USR1 PID`` prints where each of the process's threads is (a process that waits)."""
    if args.coordinator is None and args.num_processes is None and args.process_id is None:
        return
    import jax

    if args.coordinator != job.AUTO:
        job.check_settings(args.coordinator, args.num_processes, args.process_id)
    dump_stacks_on_sigusr1()
    if args.coordinator != job.AUTO and args.process_id != 0:
        print(
            f"process {args.process_id}: joining the job of process 0 at {args.coordinator} (giving up "
            f"after {JOIN_TIMEOUT_S} s if the job is not complete by then)",
            file=sys.stderr,
        )
    job.initialize(args.coordinator, args.num_processes, args.process_id, timeout_s=JOIN_TIMEOUT_S)
    print(
        f"process {jax.process_index()} of {jax.process_count()}: {jax.device_count()} devices in all, "
        f"{jax.local_device_count()} here",
        file=sys.stderr,
    )


def stop_for_peer(message: str, out_root: Path, again: str) -> NoReturn:
    """End this process of a job that lost another (``message`` says which and why) with one
    line and exit 1, saying where the finished results are and how to go on (``again``)."""
    job.exit_now(
        1,
        f"{message}: this process stops too (exit 1). Results finished before are kept in "
        f"{out_root}/; go on with: python -m experiments {again}",
    )


def watch_job(out_root: Path, again: str) -> None:
    """In a multi-process job: when another process stops (Ctrl-C, SIGTERM, an error, death),
    this one stops too within seconds (``stop_for_peer``), instead of waiting in a collective for
    JAX's abort."""
    job.watch_peers(functools.partial(stop_for_peer, out_root=out_root, again=again))


def leave_job(reason: str = "was interrupted (Ctrl-C or SIGTERM)", code: int = 130) -> None:
    """End this process of a multi-process job now with ``code``, telling the others why
    (``reason`` completes "process K of the job …"; they stop too, see ``watch_job``): a process
    that stops alone would otherwise wait at the job's exit barrier for peers still training, and
    they for it. Nothing happens in a single process."""
    job.leave(reason, code)


def stop_stuck(why: str, out_root: Path, again: str) -> NoReturn:
    """End this process after a Ctrl-C or SIGTERM it did not stop on by itself (``why``,
    ``stopping.bounded``) with one line and exit 130, saying where the finished results are and how
    to go on (``again``); a job's other processes are told first, and stop too."""
    print(
        f"error: stopped on {why}: exit 130. Results finished before are kept in {out_root}/; go on "
        f"with: python -m experiments {again}",
        file=sys.stderr,
        flush=True,
    )
    job.leave(f"was stopped ({why})", 130, wait_s=STUCK_WAIT_S)  # (nothing in a single process)
    job.exit_now(130)


STUCK_WAIT_S = 2.0  # how long a stuck process 0 waits for the others to leave, before it does


def unwritable(folder: Path) -> str | None:
    """Why results cannot be written to ``folder`` (a file, a read-only folder), or None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        return f"cannot write results to {folder} ({e.strerror or e}): choose another --out"
    for name in ("REPORT.md", ".locks"):  # what every run writes there, in the form it writes it
        path = folder / name
        if path.exists() and path.is_dir() != (name == ".locks"):
            kind = "a folder" if path.is_dir() else "a file"
            return f"{path} is {kind}, where the results' {name} goes: move it away, or choose another --out"
    return None


@contextlib.contextmanager
def environment(name: str, value: str | None) -> Iterator[None]:
    """``$name`` set to ``value`` for the block (unchanged for None), then as it was."""
    before = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if value is not None and before is None:
            del os.environ[name]
        elif value is not None:
            os.environ[name] = before
