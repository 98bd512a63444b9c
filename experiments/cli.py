"""Command line: ``python -m experiments list | all | <name-or-id> ... [options]``: arguments in,
progress, tables and verdicts out, and the exit code (0 pass, 1 fail, 2 bad input, 130 Ctrl-C).
Running, publishing and reporting are ``experiments.runner``'s."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from experiments import all_experiments, load, runner
from experiments.experiment import Experiment
from jaxnets import data
from jaxnets.errors import InputError
from jaxnets.report import checks_table
from jaxnets.results import DivergedRun, Result

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


def _positive(kind: type):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m experiments",
        description="Reproduce the labs' experiments and compare with the notes' numbers.",
    )
    p.add_argument(
        "names",
        nargs="+",
        metavar="EXPERIMENT",
        help="`list`, `all`, or experiment names / catalog ids (e.g. A1 overfitting)",
    )
    p.add_argument("--seed", type=int, help="random seed (default: the experiment's); the first of --seeds")
    p.add_argument(
        "--seeds",
        type=_positive(int),
        help="train N seeds (--seed, --seed+1, …) as one program and report each statistical number "
        "as mean ± sd over them, with the notes' figure placed in the distribution (default: 1)",
    )
    p.add_argument("--epochs", type=_positive(int), help="number of epochs (or steps)")
    p.add_argument("--lr", type=_positive(float), help="learning rate")
    p.add_argument("--batch-size", type=_positive(int), help="batch size")
    p.add_argument(
        "--on-divergence",
        choices=("stop", "continue"),
        help="when the loss or parameters turn inf/nan: stop that run there (the default) or "
        "train on, to see the inf → nan sequence the notes print (A3, A4)",
    )
    p.add_argument("--out", type=Path, default=Path("results"), help="results folder (default: ./results)")
    p.add_argument("--data-dir", help=f"folder with the data sets (default: ${data.ENV_VAR})")
    p.add_argument(
        "--resume",
        action="store_true",
        help="go on with a run that was interrupted (Ctrl-C, killed) from its last saved epoch; "
        "experiments finished earlier with the same settings are not run again",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "jaxnets" / "xla")),
        help=f"JAX's persistent compilation cache, so that a second run does not compile again "
        f"(default: ${CACHE_ENV} or ~/.cache/jaxnets/xla)",
    )
    p.add_argument("--no-cache", action="store_true", help="do not use the compilation cache")
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
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


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
    try:
        experiments = all_experiments() if run_all else [load(n) for n in args.names]
        configs = [runner.make_config(e, overrides, not run_all, args.quick, FLAGS) for e in experiments]
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.no_cache:
        enable_compilation_cache(args.cache_dir)
    out_root = args.out / "quick" if args.quick else args.out
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
            result = _run_one(experiment, config, out_root, args.resume)
        except data.DataError as e:
            print(f"{'skipped' if run_all else f'error: {experiment.id}'}: {e}", file=sys.stderr)
            skipped[experiment.id] = str(e)
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


def _run_one(experiment: Experiment, config: Any, out_root: Path, resume: bool) -> Result:
    """Run ``experiment``, or with ``resume`` keep its result if it finished with these settings."""
    if resume and (result := runner.finished_earlier(experiment, config, out_root)):
        print(f"finished earlier with these settings (kept, --resume): {out_root / result.name}/")
        return result
    return runner.run_experiment(experiment, config, out_root, resume=resume)
