"""Command line: ``python -m experiments list | all | <name-or-id> ... [options]``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from experiments import all_modules, load
from jaxnets import checkpoint, data, results
from jaxnets.errors import InputError

# Config fields the command line can set, and the flag that sets each.
FLAGS = {
    "seed": "--seed",
    "epochs": "--epochs",
    "lr": "--lr",
    "batch_size": "--batch-size",
    "data_dir": "--data-dir",
    "stop_on_divergence": "--on-divergence",
}
CACHE_ENV = "JAXNETS_CACHE_DIR"
# Where an unfinished run keeps its plots and checkpoints, inside the experiment's results folder.
WORK = ".inprogress"


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
    p.add_argument("--seed", type=int, help="random seed (default: the experiment's)")
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
    return "\n".join(f"{m.ID:<7} {_name(m):<20} {m.DESCRIPTION}" for m in all_modules())


def make_config(module: ModuleType, overrides: dict[str, Any], strict: bool, quick: bool = False):
    """The module's default config (its ``QUICK`` reduction with ``quick``) with the given
    overrides; with ``strict``, an override the experiment has no setting for is an error."""
    fields = {f.name for f in dataclasses.fields(module.Config)}
    # --data-dir says where data is, not how to run: experiments without data ignore it.
    unknown = [k for k in overrides if k not in fields and k != "data_dir"]
    if strict and unknown:
        raise InputError(
            f"experiment {module.ID} takes no {', '.join(FLAGS.get(k, k) for k in unknown)}; "
            f"its settings are: {', '.join(sorted(fields))}"
        )
    base = dataclasses.replace(module.Config(), **(module.QUICK if quick else {}))
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if k in fields})


def run_experiment(module: ModuleType, config, out_root: Path, resume: bool = False) -> dict[str, Any]:
    """Run one experiment and publish ``<out_root>/<name>/result.json`` with its plots.

    The run works in ``<name>/.inprogress/`` (its plots, its checkpoints); only a run that
    finishes moves its files over the earlier ones, so a run that fails or is stopped leaves the
    earlier results as they were. With ``resume``, an unfinished run of the same settings goes on
    from its checkpoints instead of starting afresh.
    """
    name = _name(module)
    final = out_root / name
    work = final / WORK
    settings = _settings(config)
    if resume and work.exists():
        started = _read_json(work / "config.json")
        if started is not None and started != settings:
            changed = sorted(k for k in settings if settings[k] != started.get(k))
            raise InputError(
                f"--resume: the unfinished run in {work} has other settings ({', '.join(changed)}); "
                f"run without --resume to start afresh"
            )
    else:
        shutil.rmtree(work, ignore_errors=True)
    results.write_json(work / "config.json", settings)
    start = time.perf_counter()
    outcome = module.run(config, work)
    expected = set(getattr(module, "EXPECTED_DIVERGENCE", ()))
    diverged = outcome.get("diverged")
    plots = sorted(p.name for p in work.glob("*.png"))
    result = {
        "id": module.ID,
        "name": name,
        "title": module.TITLE,
        "config": settings,
        "history": outcome["history"],
        "metrics": outcome["metrics"],
        "checks": outcome["checks"],
        "diverged": {k: {**v, "expected": k in expected} for k, v in diverged.items()} if diverged else None,
        "log": outcome.get("log", []),
        "plots": plots,
        "wall_time_s": time.perf_counter() - start,
        "env": results.env_info(),
    }
    for old in final.glob("*.png"):
        if old.name not in plots:
            old.unlink()
    for plot in plots:
        os.replace(work / plot, final / plot)
    results.write_json(final / "result.json", result)
    shutil.rmtree(work)
    return result


def finished_earlier(module: ModuleType, config, out_root: Path) -> dict[str, Any] | None:
    """The saved result of ``module`` if it finished with these very settings and nothing of a
    later run is left unfinished (what ``--resume`` need not run again)."""
    saved = _saved_result(out_root, module)
    if saved is None or (out_root / _name(module) / WORK).exists():
        return None
    return saved if saved.get("config") == _settings(config) else None


def _settings(config) -> dict[str, Any]:
    """A config as it is saved in result.json (JSON values: tuples become lists)."""
    return results.jsonable(dataclasses.asdict(config))


def _describe_divergence(run: str, d: dict[str, Any]) -> str:
    what = "non-finite loss" if d["reason"] == "loss" else "non-finite parameters"
    return f"{run} at epoch {d['epoch']}, step {d['step']} ({what})"


def _name(module: ModuleType) -> str:
    return module.__name__.split(".")[-1]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _saved_result(out_root: Path, module: ModuleType) -> dict[str, Any] | None:
    """The result.json an earlier run of ``module`` left in ``out_root``, if it can be read."""
    return _read_json(out_root / _name(module) / "result.json")


def _saved_progress(out_root: Path, module: ModuleType) -> str:
    """What an interrupted run of ``module`` saved: each training run's last checkpointed epoch."""
    folder = out_root / _name(module) / WORK / "checkpoints"
    runs = sorted(p for p in folder.glob("*") if p.is_dir()) if folder.is_dir() else []
    saved = [(p.name, checkpoint.latest_epoch(p)) for p in runs]
    saved = [f"{run} up to epoch {epoch}" for run, epoch in saved if epoch is not None]
    return f"saved: {'; '.join(saved)}" if saved else "no epoch of it had finished"


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def _progress(i: int, modules: list[ModuleType], elapsed: float, estimates: list[float | None]) -> str:
    """ "[3/21] 0:42 elapsed, ~5:10 left": the estimate sums the last run's times of the
    experiments still to run (shown once every one of them has such a time)."""
    left = estimates[i:]
    eta = f", ~{_clock(sum(left))} left" if left and all(t is not None for t in left) else ""
    return f"[{i + 1}/{len(modules)}] {_clock(elapsed)} elapsed{eta}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    if args.names == ["list"]:
        print(list_experiments())
        return 0
    overrides = {k: getattr(args, k) for k in FLAGS if getattr(args, k, None) is not None}
    if args.on_divergence is not None:
        overrides["stop_on_divergence"] = args.on_divergence == "stop"
    run_all = args.names == ["all"]
    try:
        modules = all_modules() if run_all else [load(n) for n in args.names]
        configs = [make_config(m, overrides, strict=not run_all, quick=args.quick) for m in modules]
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.no_cache:
        enable_compilation_cache(args.cache_dir)
    out_root = args.out / "quick" if args.quick else args.out
    # The time left is estimated from the previous run's times in the same folder.
    estimates = [(_saved_result(out_root, m) or {}).get("wall_time_s") for m in modules]
    start = time.perf_counter()
    done, failed, bad_input, skipped = [], [], [], {}
    for i, (module, config) in enumerate(zip(modules, configs, strict=True)):
        progress = _progress(i, modules, time.perf_counter() - start, estimates)
        print(
            f"\n=== {module.ID} {module.TITLE} {'(quick) ' if args.quick else ''}=== {progress}", flush=True
        )
        try:
            if args.resume and (result := finished_earlier(module, config, out_root)):
                print(f"finished earlier with these settings (kept, --resume): {out_root / result['name']}/")
            else:
                result = run_experiment(module, config, out_root, resume=args.resume)
        except data.DataError as e:
            print(f"{'skipped' if run_all else f'error: {module.ID}'}: {e}", file=sys.stderr)
            skipped[module.ID] = str(e)
            continue
        except InputError as e:
            print(f"error: {module.ID}: {e}", file=sys.stderr)
            bad_input.append(module.ID)
            continue
        except KeyboardInterrupt:
            again = " ".join([*argv, *([] if args.resume else ["--resume"])])
            print(
                f"\ninterrupted during {module.ID}; {_saved_progress(out_root, module)}.\n"
                f"Go on from there with: python -m experiments {again}\n"
                f"Results finished before it are in {out_root}/",
                file=sys.stderr,
            )
            _write_report(out_root, done, skipped, args.quick)
            return 130
        except Exception as e:  # one broken experiment must not stop the others
            if len(modules) == 1:
                raise
            traceback.print_exc()
            print(f"FAILED: {module.ID} raised {type(e).__name__}: {e}", file=sys.stderr)
            failed.append(module.ID)
            continue
        done.append(result)
        for line in result["log"]:
            print(line)
        print(results.checks_table(result["checks"]))
        unexpected = results.unexpected_divergence(result)
        for run, d in results.divergences(result).items():
            if run in unexpected:
                print(f"DIVERGED: {_describe_divergence(run, d)}; a smaller --lr may keep it finite")
            else:
                print(f"diverged, as the notes show: {_describe_divergence(run, d)}")
        ok = all(c["pass"] for c in result["checks"])
        verdict = (
            "all checks pass"
            if ok
            else "CHECKS FAIL" + (" (quick run: bars are for the full run)" if args.quick else "")
        )
        print(f"{verdict}; {result['wall_time_s']:.1f} s; results in {out_root / result['name']}/")
        if (not ok and not args.quick) or unexpected:
            failed.append(module.ID)
    report = _write_report(out_root, done, skipped, args.quick)
    failed += bad_input
    if len(modules) > 1:
        print(
            f"\n{len(modules) - len(failed) - len(skipped)} passed, {len(failed)} failed, "
            f"{len(skipped)} skipped in {_clock(time.perf_counter() - start)}"
            + (f" (failed: {' '.join(failed)})" if failed else "")
            + (f" (skipped, no data: {' '.join(skipped)})" if skipped else "")
        )
    print(f"report: {report}")
    if bad_input:
        return 2
    return 1 if failed or (skipped and not run_all) else 0


def _write_report(out_root: Path, done: list[dict], skipped: dict[str, str], quick: bool) -> Path:
    """``REPORT.md`` over every result in ``out_root`` (this run's and earlier ones), in
    catalog order, with this run's skipped experiments."""
    by_name = {r["name"]: r for r in done}
    runs = [by_name.get(_name(m)) or _saved_result(out_root, m) for m in all_modules()]
    runs = [r for r in runs if r is not None]
    title = "jaxnets: ours vs the notes" + (" (quick runs: reduced settings)" if quick else "")
    report = out_root / "REPORT.md"
    results.write_text(report, results.report_markdown(runs, skipped, title))
    return report
