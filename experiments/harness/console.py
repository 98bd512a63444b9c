"""What the command line prints: the catalog, progress through a run of several experiments, and
each finished experiment's log, checks, divergences and verdict."""

from __future__ import annotations

import errno
import os
import re
import textwrap
from pathlib import Path

from experiments import all_experiments
from experiments.harness.report import WIDTH, checks_table, text_table
from experiments.harness.results import DivergedRun, Result
from twins import fidelity


def list_experiments() -> str:
    """The catalog as a table of 100 columns: id, module name, description (wrapped)."""
    rows = [("id", "name", "what it shows")]
    rows += [(e.id, e.name, e.description) for e in all_experiments()]
    more = "Each one's lab and settings: docs/experiments.md, or python -m experiments <id> --help"
    return f"{text_table(rows, prose=(2,))}\n\n{more}"


def _describe_divergence(run: str, d: DivergedRun) -> str:
    what = "non-finite loss" if d["reason"] == "loss" else "non-finite parameters"
    return f"{run} at epoch {d['epoch']}, step {d['step']} ({what})"


# A write the machine refused, and what to do about it: a full disk, a quota, a file-size limit
# (``ulimit -f``), a read-only or failing disk.
_DISK = {
    errno.ENOSPC: "free some space, or choose another --out",
    errno.EDQUOT: "free some of your disk quota, or choose another --out",
    errno.EFBIG: "raise the file-size limit (ulimit -f), or choose another --out",
    errno.EROFS: "choose another --out",
    errno.EIO: "choose another --out",
}


def machine_failure(error: BaseException) -> str | None:
    """What to say where the machine, not the program, failed a run: out of memory (XLA's
    RESOURCE_EXHAUSTED) or a disk that cannot take the results (an ``OSError``, or, for a
    checkpoint, TensorStore's error that carries one's code); None for anything else."""
    text = str(error)
    if "RESOURCE_EXHAUSTED" in text or isinstance(error, MemoryError):
        first = text.strip().splitlines()[0][:200] if text.strip() else type(error).__name__
        return (
            f"out of memory ({first}): train fewer --seeds at once (run the rest with --seed), a smaller "
            f"--batch-size, or on a machine with more memory"
        )
    if (code := _os_error_code(error)) in _DISK:
        where = getattr(error, "filename", None) or "the results folder"
        return (
            f"could not write its results ({os.strerror(code)}: {where}): {_DISK[code]}; results "
            f"finished before it are kept"
        )
    return None


def _os_error_code(error: BaseException | None) -> int | None:
    """The errno of ``error`` or of the error it was raised from (Orbax's checkpoint writes fail as
    TensorStore's ``ValueError("... [os_error_code='27']")``), or None."""
    for _ in range(8):  # the chain of causes, not forever
        if error is None:
            return None
        if isinstance(error, OSError) and error.errno is not None:
            return error.errno
        if found := re.search(r"\[os_error_code='(\d+)'\]", str(error)):
            return int(found.group(1))
        error = error.__cause__
    return None


def clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def progress(i: int, total: int, elapsed: float, estimates: list[float | None]) -> str:
    """ "[3/21] 0:42 elapsed, ~5:10 left": the estimate sums the last run's times of the
    experiments still to run (shown once every one of them has such a time)."""
    left = estimates[i:]
    eta = f", ~{clock(sum(left))} left" if left and all(t is not None for t in left) else ""
    return f"[{i + 1}/{total}] {clock(elapsed)} elapsed{eta}"


def print_result(result: Result, out_root: Path) -> None:
    """Print a finished experiment's log, checks, divergences and its verdict (``Result.verdict``)."""
    for line in result.log:
        print(_fit(line))
    print(checks_table(result.checks, informational=bool(result.changed)))
    for line in fidelity.summary_lines(fidelity.rows(out_root, [result.name])):
        print(line)
    unexpected = result.unexpected_divergence
    for run, d in result.diverged.items():
        if run in unexpected:
            print(f"DIVERGED: {_describe_divergence(run, d)}; a smaller --lr may keep it finite")
        else:
            print(f"diverged, as the notes show: {_describe_divergence(run, d)}")
    met = sum(c.passed for c in result.checks)
    verdict = {
        "pass": "pass: every check meets its bar",
        "FAIL": f"FAIL: {len(result.checks) - met} of {len(result.checks)} checks miss their bar"
        + (", a run diverged" if unexpected else ""),
        "informational": f"informational: at other settings than the notes' ({result.settings_text()}), "
        f"so the bars decide nothing; {met} of {len(result.checks)} met",
    }[result.verdict]
    print(_fit(f"{verdict}; {result.wall_time_s:.1f} s; results in {out_root / result.name}/"))


def _fit(line: str) -> str:
    """A line of prose wrapped at the tables' width (lines that fit, tables among them, as they are)."""
    return line if len(line) <= WIDTH else textwrap.fill(line, WIDTH, subsequent_indent="  ")
