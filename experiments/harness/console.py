"""What the command line prints: the catalog, progress through a run of several experiments, and
each finished experiment's log, checks, divergences and verdict."""

from __future__ import annotations

from pathlib import Path

from experiments import all_experiments
from experiments.harness.report import checks_table
from experiments.harness.results import DivergedRun, Result
from twins import fidelity


def list_experiments() -> str:
    """One line per experiment: id, module name, description."""
    return "\n".join(f"{e.id:<7} {e.name:<20} {e.description}" for e in all_experiments())


def _describe_divergence(run: str, d: DivergedRun) -> str:
    what = "non-finite loss" if d["reason"] == "loss" else "non-finite parameters"
    return f"{run} at epoch {d['epoch']}, step {d['step']} ({what})"


def clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def progress(i: int, total: int, elapsed: float, estimates: list[float | None]) -> str:
    """ "[3/21] 0:42 elapsed, ~5:10 left": the estimate sums the last run's times of the
    experiments still to run (shown once every one of them has such a time)."""
    left = estimates[i:]
    eta = f", ~{clock(sum(left))} left" if left and all(t is not None for t in left) else ""
    return f"[{i + 1}/{total}] {clock(elapsed)} elapsed{eta}"


def print_result(result: Result, out_root: Path, quick: bool) -> bool:
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
