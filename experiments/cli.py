"""Command line: ``python -m experiments list | all | <name-or-id> ... [options]``: arguments in,
progress, tables and verdicts out, and the exit code (0 pass, 1 fail, 2 bad input, 130 Ctrl-C).
Running, publishing and reporting are ``experiments.runner``'s."""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from experiments import all_experiments, load, runner
from experiments.experiment import Experiment
from jaxnets import data, distributed
from jaxnets.errors import InputError
from jaxnets.report import checks_table
from jaxnets.results import DivergedRun, Result
from twins import fidelity

# Config fields the command line can set, and the flag that sets each.
FLAGS = {
    "seed": "--seed",
    "seeds": "--seeds",
    "epochs": "--epochs",
    "lr": "--lr",
    "batch_size": "--batch-size",
    "data_dir": "--data-dir",
    "stop_on_divergence": "--on-divergence",
}
CACHE_ENV = "JAXNETS_CACHE_DIR"


MAX_EPOCHS = 10_000_000  # more than any run here can finish (B3's 10,001 steps take seconds)
MAX_SEED = 2**32 - 1  # JAX's keys take 32-bit seeds: larger ones would be silently reduced


def _number(kind: type, low: float, high: float, what: str):
    """An argparse type: a finite number of ``kind`` from ``low`` to ``high`` (integers may be
    written like 1e3), or a one-line error saying what is allowed."""

    def parse(text: str):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if kind is int:
            try:
                value = int(text)
            except ValueError:
                if not value.is_integer():
                    raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
                value = int(value)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what}, got {text}")
        return value

    return parse


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad argument reported in one line (and exit code 2) rather than the
    usage block and the message."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (python -m experiments --help lists the options)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m experiments",
        description="Reproduce the labs' experiments and compare with the notes' numbers.",
    )
    p.add_argument(
        "names",
        nargs="+",
        metavar="EXPERIMENT",
        help="`list`, `all`, or experiment names / catalog ids (e.g. A1 overfitting)",
    )
    p.add_argument(
        "--seed",
        type=_number(int, 0, MAX_SEED, f"must be from 0 to {MAX_SEED} (2**32 - 1)"),
        help="random seed (default: the experiment's); the first of --seeds",
    )
    p.add_argument(
        "--seeds",
        type=_number(int, 1, 10_000, "must be from 1 to 10000"),
        help="train N seeds (--seed, --seed+1, …) as one program and report each statistical number "
        "as mean ± sd over them, with the notes' figure placed in the distribution (default: 1)",
    )
    p.add_argument(
        "--epochs",
        type=_number(int, 1, MAX_EPOCHS, f"must be from 1 to {MAX_EPOCHS} (more than any run can finish)"),
        help="number of epochs (or steps)",
    )
    p.add_argument("--lr", type=_number(float, 1e-300, math.inf, "must be > 0"), help="learning rate")
    p.add_argument(
        "--batch-size", type=_number(int, 1, 2**31 - 1, "must be from 1 to 2**31 - 1"), help="batch size"
    )
    p.add_argument(
        "--on-divergence",
        choices=("stop", "continue"),
        help="when the loss or parameters turn inf/nan: stop that run there (the default) or "
        "train on, to see the inf → nan sequence the notes print (A3, A4)",
    )
    p.add_argument("--out", type=Path, default=Path("results"), help="results folder (default: ./results)")
    p.add_argument("--data-dir", help=f"folder with the data sets (default: ${data.ENV_VAR})")
    p.add_argument(
        "--accept-data",
        action="store_true",
        help="train on data files whose contents are not the standard data set's (your own IDX "
        f"files; ${data.ACCEPT_ENV_VAR}=1 does the same)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="go on with a run that was interrupted (Ctrl-C, killed) from its last saved epoch; "
        "experiments finished earlier with the same settings are not run again",
    )
    saving = p.add_mutually_exclusive_group()
    saving.add_argument(
        "--checkpoint-every",
        metavar="N",
        type=_number(int, 1, MAX_EPOCHS, "must be a whole number of epochs >= 1"),
        default=1,
        help="save each training run's state every N epochs (and after its last) for --resume "
        "(default: 1; on an accelerator, where an epoch takes milliseconds, saving can dominate)",
    )
    saving.add_argument(
        "--no-checkpoint",
        action="store_true",
        help="save no checkpoints (a stopped run then starts again from the beginning)",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "jaxnets" / "xla")),
        help=f"JAX's persistent compilation cache, so that a second run does not compile again "
        f"(default: ${CACHE_ENV} or ~/.cache/jaxnets/xla)",
    )
    p.add_argument("--no-cache", action="store_true", help="do not use any persistent compilation cache")
    job = p.add_argument_group(
        "multi-process (one data-parallel job over several hosts: run the same command on each, "
        "with its own --process-id)"
    )
    job.add_argument(
        "--coordinator",
        metavar="HOST:PORT",
        help="address of process 0, which the others connect to; `auto` where JAX finds the job "
        "itself (Cloud TPU slices, SLURM, Open MPI, Kubernetes)",
    )
    job.add_argument(
        "--num-processes", type=_number(int, 1, 100_000, "must be at least 1"), help="processes in the job"
    )
    job.add_argument(
        "--process-id",
        type=_number(int, 0, 100_000, "must be from 0 to N - 1"),
        help="this process's id, 0 to N - 1",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="reduced runs (fewer epochs, data subsets) for a first look, in OUT/quick/; "
        "their checks are informational, the bars being for the full runs",
    )
    return p


def enable_compilation_cache(path: Path) -> None:
    """Keep compiled programs in ``path`` across runs (JAX's persistent compilation cache)."""
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    # Programs that compile in under 0.2 s are not worth a file (JAX's own variable overrides it).
    minimum = float(os.environ.get("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", 0.2))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", minimum)


def list_experiments() -> str:
    """One line per experiment: id, module name, description."""
    return "\n".join(f"{e.id:<7} {e.name:<20} {e.description}" for e in all_experiments())


def _describe_divergence(run: str, d: DivergedRun) -> str:
    what = "non-finite loss" if d["reason"] == "loss" else "non-finite parameters"
    return f"{run} at epoch {d['epoch']}, step {d['step']} ({what})"


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def _progress(i: int, total: int, elapsed: float, estimates: list[float | None]) -> str:
    """ "[3/21] 0:42 elapsed, ~5:10 left": the estimate sums the last run's times of the
    experiments still to run (shown once every one of them has such a time)."""
    left = estimates[i:]
    eta = f", ~{_clock(sum(left))} left" if left and all(t is not None for t in left) else ""
    return f"[{i + 1}/{total}] {_clock(elapsed)} elapsed{eta}"


def _print_result(result: Result, out_root: Path, quick: bool) -> bool:
    """Print a finished experiment's log, checks and verdict; whether it counts as a failure."""
    for line in result.log:
        print(line)
    print(checks_table(result.checks))
    for line in fidelity.summary_lines(fidelity.rows(out_root, [result.name])):
        print(line)
    unexpected = result.unexpected_divergence
    for run, d in result.diverged.items():
        if run in unexpected:
            print(f"DIVERGED: {_describe_divergence(run, d)}; a smaller --lr may keep it finite")
        else:
            print(f"diverged, as the notes show: {_describe_divergence(run, d)}")
    ok = all(c.passed for c in result.checks)
    verdict = (
        "all checks pass"
        if ok
        else "CHECKS FAIL" + (" (quick run: bars are for the full run)" if quick else "")
    )
    print(f"{verdict}; {result.wall_time_s:.1f} s; results in {out_root / result.name}/")
    return (not ok and not quick) or bool(unexpected)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    if args.names == ["list"]:
        print(list_experiments())
        return 0
    # Orbax logs every save and restore through absl; a run's output is ours to print.
    logging.getLogger("absl").setLevel(logging.ERROR)
    overrides: dict[str, Any] = {k: getattr(args, k) for k in FLAGS if getattr(args, k, None) is not None}
    if args.on_divergence is not None:
        overrides["stop_on_divergence"] = args.on_divergence == "stop"
    run_all = args.names == ["all"]
    if args.resume and args.no_checkpoint:
        print(
            "error: --resume goes on from the checkpoints of an unfinished run, and --no-checkpoint "
            "saves none: drop --no-checkpoint (or --resume)",
            file=sys.stderr,
        )
        return 2
    try:
        experiments = all_experiments() if run_all else [load(n) for n in args.names]
        configs = [runner.make_config(e, overrides, not run_all, args.quick, FLAGS) for e in experiments]
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out_root = args.out / "quick" if args.quick else args.out
    try:
        _join_job(args)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if problem := _unwritable(out_root):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.no_cache:
        import jax

        jax.config.update(
            "jax_enable_compilation_cache", False
        )  # even where $JAX_COMPILATION_CACHE_DIR is set
    else:
        enable_compilation_cache(args.cache_dir)
    with contextlib.ExitStack() as stack:
        # In a multi-process job only process 0 prints; the others still report errors (stderr).
        if not distributed.is_main():
            stack.enter_context(contextlib.redirect_stdout(stack.enter_context(open(os.devnull, "w"))))
        stack.enter_context(_environment(data.ACCEPT_ENV_VAR, "1" if args.accept_data else None))
        return _run(args, argv, experiments, configs, out_root)


def _join_job(args: argparse.Namespace) -> None:
    """Join the multi-process job the flags describe, if any (``jaxnets.distributed``)."""
    if args.coordinator is None and args.num_processes is None and args.process_id is None:
        return
    import jax

    distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    print(
        f"process {jax.process_index()} of {jax.process_count()}: {jax.device_count()} devices in all, "
        f"{jax.local_device_count()} here",
        file=sys.stderr,
    )


def _unwritable(folder: Path) -> str | None:
    """Why results cannot be written to ``folder`` (a file, a read-only folder), or None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        return f"cannot write results to {folder} ({e.strerror or e}): choose another --out"
    return None


@contextlib.contextmanager
def _environment(name: str, value: str | None) -> Iterator[None]:
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


def _run(
    args: argparse.Namespace, argv: list[str], experiments: list[Experiment], configs: list, out_root: Path
) -> int:
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
        progress = _progress(i, len(experiments), time.perf_counter() - start, estimates)
        quick = "(quick) " if args.quick else ""
        print(f"\n=== {experiment.id} {experiment.title} {quick}=== {progress}", flush=True)
        if args.seeds and not hasattr(config, "seeds"):
            print(
                f"{experiment.id} has no randomness: --seeds {args.seeds} is ignored, its numbers are exact"
            )
        try:
            every = None if args.no_checkpoint else args.checkpoint_every
            result = _run_one(experiment, config, out_root, args.resume, every)
        except data.MissingData as e:
            print(f"{'skipped' if run_all else f'error: {experiment.id}'}: {e}", file=sys.stderr)
            skipped[experiment.id] = str(e)
            continue
        except data.DataError as e:  # damaged data is a failure, not a skip
            print(f"error: {experiment.id}: {e}", file=sys.stderr)
            failed.append(experiment.id)
            continue
        except InputError as e:
            print(f"error: {experiment.id}: {e}", file=sys.stderr)
            bad_input.append(experiment.id)
            continue
        except KeyboardInterrupt:
            again = " ".join([*argv, *([] if args.resume else ["--resume"])])
            print(
                f"\ninterrupted during {experiment.id}; {runner.saved_progress(out_root, experiment)}.\n"
                f"Go on from there with: python -m experiments {again}\n"
                f"Results finished before it are in {out_root}/",
                file=sys.stderr,
            )
            runner.write_report(out_root, done, skipped, args.quick)
            return 130
        except Exception as e:  # one broken experiment must not stop the others
            if len(experiments) == 1:
                raise
            traceback.print_exc()
            print(f"FAILED: {experiment.id} raised {type(e).__name__}: {e}", file=sys.stderr)
            failed.append(experiment.id)
            continue
        done.append(result)
        if _print_result(result, out_root, args.quick):
            failed.append(experiment.id)
    report = runner.write_report(out_root, done, skipped, args.quick)
    failed += bad_input
    if len(experiments) > 1:
        print(
            f"\n{len(experiments) - len(failed) - len(skipped)} passed, {len(failed)} failed, "
            f"{len(skipped)} skipped in {_clock(time.perf_counter() - start)}"
            + (f" (failed: {' '.join(failed)})" if failed else "")
            + (f" (skipped, no data: {' '.join(skipped)})" if skipped else "")
        )
    print(f"report: {report}")
    if bad_input:
        return 2
    return 1 if failed or (skipped and not run_all) else 0


def _run_one(
    experiment: Experiment, config: Any, out_root: Path, resume: bool, checkpoint_every: int | None
) -> Result:
    """Run ``experiment``, or with ``resume`` keep its result if it finished with these settings
    (or say that there is nothing to go on from)."""
    result = runner.finished_earlier(experiment, config, out_root) if resume else None
    if distributed.agree(result is not None):  # process 0 decides for a multi-process job
        if result is None:
            raise InputError(
                f"process 0 found a finished result in {out_root} that this process cannot read: give "
                f"every process the same --out, on a file system they share"
            )
        print(f"finished earlier with these settings (kept, --resume): {out_root / result.name}/")
        return result
    if resume and (nothing := runner.nothing_to_resume(out_root, experiment)):
        print(nothing)
    return runner.run_experiment(experiment, config, out_root, resume, checkpoint_every)
