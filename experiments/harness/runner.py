"""Running experiments: the config a run uses, the folder it works in, what it publishes, what
``--resume`` keeps, and the report over every result.

A run works in ``<out>/<name>/.inprogress/`` (its plots, its checkpoints); only a run that
finishes moves its files over the earlier ones and writes ``result.json``, so a run that fails or
is stopped leaves the earlier results as they were.

In a multi-process job (``experiments.harness.job``) every process runs the experiment (they train
it together) and writes its checkpoints there; only process 0 locks the folder, draws the plots,
publishes the result and writes the report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax

from experiments import all_experiments
from experiments.harness import job, limits, results
from experiments.harness import outcome as measured
from experiments.harness.contract import Experiment, Outcome, Workspace, changed_settings
from experiments.harness.report import report_markdown
from experiments.harness.results import Result
from jaxnets import checkpoint
from jaxnets.errors import InputError
from twins import fidelity

# Where an unfinished run keeps its plots and checkpoints, inside the experiment's results folder.
WORK = ".inprogress"
# Every experiment runs with float32 matrix products and convolutions on every backend. The
# notes' numbers are PyTorch's float32; TPUs by default multiply float32 in bfloat16 passes and
# recent NVIDIA GPUs in TF32, which moves the last digits the checks compare (B13's 1e-6 bars,
# run k of N seeds equal to the single run, resume bit for bit). The CPU computes float32 either way.
PRECISION = "float32"


def settings(config: Any) -> dict[str, Any]:
    """A config as it is saved in result.json (JSON values: tuples become lists)."""
    return results.jsonable(dataclasses.asdict(config))


def run_experiment(
    experiment: Experiment,
    config: Any,
    out_root: Path,
    resume: bool = False,
    checkpoint_every: int | None = 1,
) -> Result:
    """Run one experiment and publish ``<out_root>/<name>/result.json`` with its plots.

    The experiment's folder is locked for the run: a second run into the same folder stops with
    an error and touches nothing of the first. With ``resume``, an unfinished run of the same
    settings goes on from its checkpoints instead of starting afresh. Training runs save a
    checkpoint every ``checkpoint_every`` epochs (and after their last); None saves none. A
    setting outside its rule (``limits``) is an ``InputError`` before anything is written.
    """
    limits.check(experiment, config)
    final = out_root / experiment.name
    if not job.is_main():
        return _run_other_process(experiment, config, final, checkpoint_every)
    with _locked(out_root / ".locks" / experiment.name, final):
        return _run_locked(experiment, config, final, resume, checkpoint_every)


@contextlib.contextmanager
def _locked(path: Path, folder: Path) -> Iterator[None]:
    """Hold the lock file ``path`` for ``folder`` (released when the process ends, however it ends)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise InputError(
                f"another run is writing {folder} ({holder}): wait for it to finish, or give this run "
                f"another --out"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"process {os.getpid()}")
        lock.flush()
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run_locked(
    experiment: Experiment, config: Any, final: Path, resume: bool, checkpoint_every: int | None
) -> Result:
    work = final / WORK
    saved = settings(config)
    if resume and work.exists():
        started = _read_json(work / "config.json")
        changed = [] if started is None else _differ(started, saved)
        if changed:
            raise InputError(
                f"--resume: the unfinished run in {work} has other settings ({', '.join(changed)}): run "
                f"with those settings and --resume to finish it, or without --resume to start afresh "
                f"(which deletes it)"
            )
    else:
        shutil.rmtree(work, ignore_errors=True)
    results.write_json(work / "config.json", saved)
    outcome, seconds = _train_together(experiment, config, work, checkpoint_every)
    plots = sorted(p.name for p in work.glob("*.png"))
    result = _result(experiment, saved, outcome, plots, seconds)
    for old in final.glob("*.png"):
        if old.name not in plots:
            old.unlink()
    for plot in plots:
        os.replace(work / plot, final / plot)
    results.write_text(final / "history.csv", results.history_csv(result.history))
    results.write_json(final / "result.json", result.to_json())
    shutil.rmtree(work)
    return Result.from_json(results.jsonable(result.to_json()))


def _run_other_process(
    experiment: Experiment, config: Any, final: Path, checkpoint_every: int | None
) -> Result:
    """A process other than 0 of a multi-process job: train with the others, in the folder
    process 0 has prepared, and leave publishing to it (plots.save draws on process 0 only)."""
    outcome, seconds = _train_together(experiment, config, final / WORK, checkpoint_every)
    return _result(experiment, settings(config), outcome, [], seconds)


def _train_together(
    experiment: Experiment, config: Any, work: Path, checkpoint_every: int | None
) -> tuple[Outcome, float]:
    """Run ``experiment`` in ``work`` (its plots and checkpoints) with every process of the job,
    once process 0 has prepared the folder, at the matmul precision of ``PRECISION``; its
    outcome and wall time."""
    job.barrier(f"jaxnets {experiment.name}: folder ready")
    start = time.perf_counter()
    checkpoints = None if checkpoint_every is None else work / "checkpoints"
    workspace = Workspace(plots=work, checkpoints=checkpoints, checkpoint_every=checkpoint_every or 1)
    with jax.default_matmul_precision(PRECISION):
        returned = experiment.run(config, workspace)
    outcome = measured.outcome(experiment, config, returned, work)
    job.barrier(f"jaxnets {experiment.name}: trained")
    return outcome, time.perf_counter() - start


def _result(
    experiment: Experiment, saved: dict[str, Any], outcome: Outcome, plots: list[str], seconds: float
) -> Result:
    return Result(
        id=experiment.id,
        name=experiment.name,
        title=experiment.title,
        config=saved,
        history=outcome.history,
        metrics=outcome.metrics,
        checks=outcome.checks,
        diverged={
            run: {**d._asdict(), "expected": _expected(run, experiment.expected_divergence)}
            for run, d in outcome.diverged.items()
            if d is not None
        },
        log=outcome.log,
        plots=plots,
        wall_time_s=seconds,
        env=results.env_info(),
        changed=changed_settings(experiment, saved),
    )


def _expected(run: str, expected: tuple[str, ...]) -> bool:
    """Whether ``run`` (or, for several seeds, "run (seed s)") is one the experiment expects to diverge."""
    return any(run == e or run.startswith(f"{e} (seed ") for e in expected)


def saved_result(out_root: Path, experiment: Experiment) -> Result | None:
    """The result an earlier run of ``experiment`` left in ``out_root``, if it can be read and is
    that experiment's (a result copied from another folder is not)."""
    result = results.read_result(out_root / experiment.name / "result.json")
    return result if result is not None and result.name == experiment.name else None


def finished_earlier(experiment: Experiment, config: Any, out_root: Path) -> Result | None:
    """The saved result of ``experiment`` if it finished with these very settings and nothing of
    a later run is left unfinished (what ``--resume`` need not run again)."""
    folder = out_root / experiment.name
    saved = saved_result(out_root, experiment)
    if saved is None or (folder / WORK).exists():
        return None
    # A result is its files too: its history and plots.
    complete = all((folder / name).is_file() for name in ["history.csv", *saved.plots])
    return saved if complete and not _differ(saved.config, settings(config)) else None


def _differ(started: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """The settings in which a run's saved config (``started``) and this run's (``now``) differ,
    where the data folder is none: the same data found another way (``--data-dir`` naming the
    folder ``$JAXNETS_DATA_DIR`` named) is the same run (other data is refused by its checkpoints'
    fingerprint of the data, and by its MD5 check)."""
    names = sorted(set(started) | set(now))
    return [k for k in names if k != "data_dir" and started.get(k) != now.get(k)]


def nothing_to_resume(out_root: Path, experiment: Experiment) -> str | None:
    """What ``--resume`` says where ``experiment`` has neither an unfinished run nor a finished
    result in ``out_root`` (None where it has one of them)."""
    folder = out_root / experiment.name
    if (folder / WORK).exists() or (folder / "result.json").exists():
        return None
    return (
        f"--resume: {experiment.id} has no unfinished run in {folder}/ to go on from: it starts "
        "from the beginning"
    )


def saved_progress(out_root: Path, experiment: Experiment) -> str:
    """What an interrupted run saved: each training run's last checkpointed epoch."""
    folder = out_root / experiment.name / WORK / "checkpoints"
    if not folder.is_dir():
        return (
            f"{experiment.id} had saved nothing (it keeps no checkpoints, or had not finished an "
            "epoch): it starts again from the beginning"
        )
    runs = sorted(p for p in folder.glob("*") if p.is_dir())
    saved = [(p.name, checkpoint.latest_epoch(p)) for p in runs]
    saved = [f"{run} up to epoch {epoch}" for run, epoch in saved if epoch is not None]
    return (
        f"saved: {'; '.join(saved)}"
        if saved
        else "no epoch of it had finished: it starts again from the beginning"
    )


def write_report(out_root: Path, done: list[Result], skipped: dict[str, str]) -> Path:
    """``REPORT.md`` over every result in ``out_root`` (this run's and earlier ones), in catalog
    order, with this run's skipped experiments."""
    report = out_root / "REPORT.md"
    if not job.is_main():
        return report
    by_name = {r.name: r for r in done}
    runs = []
    for e in all_experiments():
        if (run := by_name.get(e.name) or saved_result(out_root, e)) is not None:
            run.changed = changed_settings(e, run.config)  # results saved before it was recorded too
            runs.append(run)
    text = report_markdown(runs, skipped, "jaxnets: ours vs the notes")
    if found := fidelity.rows(out_root):  # twin runs (python -m twins) in this results folder
        twin_report = fidelity.markdown(found).split("\n", 2)[2]  # without its title
        text += "\n## Beside the labs' own code (`python -m twins`)\n\n" + twin_report
    results.write_text(report, text)
    return report


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def run_or_keep(
    experiment: Experiment, config: Any, out_root: Path, resume: bool, checkpoint_every: int | None
) -> Result:
    """Run ``experiment``, or with ``resume`` keep its result if it finished with these settings
    (or say that there is nothing to go on from)."""
    result = finished_earlier(experiment, config, out_root) if resume else None
    if job.agree(result is not None):  # process 0 decides for a multi-process job
        if result is None:
            raise InputError(
                f"process 0 found a finished result in {out_root} that this process cannot read: give "
                f"every process the same --out, on a file system they share"
            )
        print(f"finished earlier with these settings (kept, --resume): {out_root / result.name}/")
        return result
    if resume and (nothing := nothing_to_resume(out_root, experiment)):
        print(nothing)
    return run_experiment(experiment, config, out_root, resume, checkpoint_every)
