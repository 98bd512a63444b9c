"""Command line: ``python -m experiments list | all | <name-or-id> ... [options]``: arguments in,
progress, tables and verdicts out, and the exit code (0 pass, 1 fail, 2 bad input, 130 Ctrl-C).
The options are ``flags``', the set-up ``session``'s, what it prints ``console``'s, and running,
publishing and reporting ``runner``'s."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import jax

from experiments.harness import console, job, plan, runner, session, stopping
from experiments.harness.contract import Experiment
from experiments.harness.flags import parser
from experiments.harness.results import Result
from jaxnets import data
from jaxnets.errors import InputError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser(plan.settings_help(argv)).parse_args(argv)
    if args.names == ["list"]:
        print(console.list_experiments())
        return 0
    # Orbax logs every save and restore through absl, and a failed background save (a full disk)
    # as thread tracebacks; the failure itself comes back to the run as an error, which is
    # reported in one line. A run's output is ours to print; the logger is put back after it.
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.CRITICAL)
    try:
        return _main(args, argv)
    finally:
        absl.setLevel(level)


def _main(args: Any, argv: list[str]) -> int:
    try:
        experiments, configs = plan.plan(args)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out_root = args.out / "quick" if args.quick else args.out
    try:
        session.join_job(args)
        job.agree_on(plan.what_runs(args, experiments, configs))
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    session.watch_job(out_root, _again(argv, args))
    with stopping.bounded(functools.partial(session.stop_stuck, out_root=out_root, again=_again(argv, args))):
        return _start(args, argv, experiments, configs, out_root)


def _start(args: Any, argv: list[str], experiments: list[Experiment], configs: list, out_root: Path) -> int:
    """Check the results folder, set up the cache, the output and the environment, and run."""
    if problem := session.unwritable(out_root):
        print(f"error: {problem}", file=sys.stderr)
        session.leave_job(f"could not write its results ({problem})", 2)
        return 2
    if args.no_cache:  # (even where $JAX_COMPILATION_CACHE_DIR is set)
        jax.config.update("jax_enable_compilation_cache", False)
    else:
        session.enable_compilation_cache(args.cache_dir)
    with contextlib.ExitStack() as stack:
        # In a multi-process job only process 0 prints; the others still report errors (stderr).
        if not job.is_main():
            stack.enter_context(contextlib.redirect_stdout(stack.enter_context(open(os.devnull, "w"))))
        stack.enter_context(session.environment(data.ACCEPT_ENV_VAR, "1" if args.accept_data else None))
        return _run(args, argv, experiments, configs, out_root)


def _run(args: Any, argv: list[str], experiments: list[Experiment], configs: list, out_root: Path) -> int:
    """Run the experiments one after another, printing as they go; the exit code."""
    run_all = args.names == ["all"]
    # The time left is estimated from the previous run's times in the same folder.
    estimates = [getattr(runner.saved_result(out_root, e), "wall_time_s", None) for e in experiments]
    start = time.perf_counter()
    done: list[Result] = []
    failed: list[str] = []
    bad_input: list[str] = []
    skipped: dict[str, str] = {}
    for i, (experiment, config) in enumerate(zip(experiments, configs, strict=True)):
        progress = console.progress(i, len(experiments), time.perf_counter() - start, estimates)
        quick = "(quick) " if args.quick else ""
        print(f"\n=== {experiment.id} {experiment.title} {quick}=== {progress}", flush=True)
        if args.seeds and not hasattr(config, "seeds"):
            print(
                f"{experiment.id} has no randomness: --seeds {args.seeds} is ignored, its numbers are exact"
            )
        try:
            every = None if args.no_checkpoint else args.checkpoint_every
            result = runner.run_or_keep(experiment, config, out_root, args.resume, every)
        except data.MissingData as e:
            print(f"{'skipped' if run_all else f'error: {experiment.id}'}: {e}", file=sys.stderr)
            _leave_if_shared(experiment, "found no data", 2)
            skipped[experiment.id] = str(e)
            continue
        except data.DataError as e:  # damaged data is a failure, not a skip
            print(f"error: {experiment.id}: {e}", file=sys.stderr)
            _leave_if_shared(experiment, "found damaged data", 1)
            failed.append(experiment.id)
            continue
        except InputError as e:
            print(f"error: {experiment.id}: {e}", file=sys.stderr)
            _leave_if_shared(experiment, "was given bad input", 2)
            bad_input.append(experiment.id)
            continue
        except KeyboardInterrupt:
            print(
                f"\ninterrupted during {experiment.id}; {runner.saved_progress(out_root, experiment)}.\n"
                f"Go on from there with: python -m experiments {_again(argv, args)}\n"
                f"Results finished before it are in {out_root}/",
                file=sys.stderr,
            )
            _write_report(out_root, done, skipped)
            session.leave_job()  # a job's other processes must not wait on this one
            return 130
        except Exception as e:  # one broken experiment must not stop the others
            if lost := job.lost_peer(e):  # its collectives failed: another process is gone
                session.stop_for_peer(lost, out_root, _again(argv, args))
            if machine := console.machine_failure(e):  # memory or disk: one line, not a bug's traceback
                print(f"error: {experiment.id}: {machine}", file=sys.stderr)
                _leave_if_shared(experiment, "ran out of memory or disk", 1)
                failed.append(experiment.id)
                continue
            if len(experiments) == 1 and jax.process_count() == 1:
                raise
            traceback.print_exc()
            print(f"FAILED: {experiment.id} raised {type(e).__name__}: {e}", file=sys.stderr)
            _leave_if_shared(experiment, f"raised {type(e).__name__}", 1)
            failed.append(experiment.id)
            continue
        done.append(result)
        console.print_result(result, out_root)
        if result.verdict == "FAIL":
            failed.append(experiment.id)
    report = _write_report(out_root, done, skipped)
    failed += bad_input
    informational = [r.id for r in done if r.verdict == "informational"]
    other = f"{len(informational)} informational (other settings than the notes'), " if informational else ""
    print(
        f"\n{sum(r.verdict == 'pass' for r in done)} passed, {len(failed)} failed, {other}"
        f"{len(skipped)} skipped in {console.clock(time.perf_counter() - start)}"
        + (f" (failed: {' '.join(failed)})" if failed else "")
        + (f" (skipped, no data: {' '.join(skipped)})" if skipped else "")
    )
    if report is not None:
        print(f"report: {report}")
    if bad_input:
        return 2
    return 1 if failed or report is None or (skipped and not run_all) else 0


def _write_report(out_root: Path, done: list[Result], skipped: dict[str, str]) -> Path | None:
    """``REPORT.md`` over the results, or None where the disk refuses it (said in one line)."""
    try:
        return runner.write_report(out_root, done, skipped)
    except OSError as e:
        if (machine := console.machine_failure(e)) is None:
            raise
        print(f"error: REPORT.md: {machine}", file=sys.stderr)
        return None


def _again(argv: list[str], args: Any) -> str:
    """The command line that goes on from where this one stops (``--resume`` added)."""
    return " ".join([*argv, *([] if args.resume else ["--resume"])])


def _leave_if_shared(experiment: Experiment, what: str, code: int) -> None:
    """A process of a job cannot skip what its peers run (they would wait for it): it leaves the
    job with ``code``, and they stop too. Nothing in one process."""
    session.leave_job(f"stopped: {experiment.id} {what} there (see its output)", code)
