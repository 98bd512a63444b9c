"""Command line: ``python -m experiments list | all | <name-or-id> ... [options]``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from experiments import all_modules, load
from jaxnets import data, results

OVERRIDES = ("seed", "epochs", "lr", "data_dir")


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
    p.add_argument("--out", type=Path, default=Path("results"), help="results folder (default: ./results)")
    p.add_argument("--data-dir", help=f"folder with the data sets (default: ${data.ENV_VAR})")
    return p


def list_experiments() -> str:
    """One line per experiment: id, module name, description."""
    return "\n".join(f"{m.ID:<7} {m.__name__.split('.')[-1]:<20} {m.DESCRIPTION}" for m in all_modules())


def make_config(module: ModuleType, overrides: dict[str, Any], strict: bool):
    """The module's default config with the given overrides; with ``strict``, an override the
    experiment has no setting for is an error."""
    fields = {f.name for f in dataclasses.fields(module.Config)}
    # --data-dir says where data is, not how to run: experiments without data ignore it.
    unknown = [k for k in overrides if k not in fields and k != "data_dir"]
    if strict and unknown:
        raise SystemExit(
            f"error: experiment {module.ID} has no setting {', '.join(unknown)}; "
            f"its settings are: {', '.join(sorted(fields))}"
        )
    return dataclasses.replace(module.Config(), **{k: v for k, v in overrides.items() if k in fields})


def run_experiment(module: ModuleType, config, out_root: Path) -> dict[str, Any]:
    """Run one experiment, write ``<out_root>/<name>/result.json`` and return the result."""
    name = module.__name__.split(".")[-1]
    out = out_root / name
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    outcome = module.run(config, out)
    result = {
        "id": module.ID,
        "name": name,
        "title": module.TITLE,
        "config": dataclasses.asdict(config),
        "history": outcome["history"],
        "metrics": outcome["metrics"],
        "checks": outcome["checks"],
        "diverged": outcome.get("diverged"),
        "log": outcome.get("log", []),
        "plots": sorted(p.name for p in out.glob("*.png")),
        "wall_time_s": time.perf_counter() - start,
        "env": results.env_info(),
    }
    results.write_json(out / "result.json", result)
    return result


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.names == ["list"]:
        print(list_experiments())
        return 0
    overrides = {k: getattr(args, k) for k in OVERRIDES if getattr(args, k) is not None}
    run_all = args.names == ["all"]
    try:
        modules = all_modules() if run_all else [load(n) for n in args.names]
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
    failed, skipped = [], []
    for module in modules:
        config = make_config(module, overrides, strict=not run_all)
        print(f"\n=== {module.ID} {module.TITLE} ===", flush=True)
        try:
            result = run_experiment(module, config, args.out)
        except data.DataError as e:
            print(f"skipped: {e}", file=sys.stderr)
            skipped.append(module.ID)
            continue
        for line in result["log"]:
            print(line)
        print(results.checks_table(result["checks"]))
        verdict = "all checks pass" if all(c["pass"] for c in result["checks"]) else "CHECKS FAIL"
        print(f"{verdict}; {result['wall_time_s']:.1f} s; results in {args.out / result['name']}/")
        if verdict != "all checks pass":
            failed.append(module.ID)
    if len(modules) > 1:
        print(
            f"\n{len(modules) - len(failed) - len(skipped)} passed, {len(failed)} failed, "
            f"{len(skipped)} skipped"
            + (f" (failed: {' '.join(failed)})" if failed else "")
            + (f" (skipped, no data: {' '.join(skipped)})" if skipped else "")
        )
    return 1 if failed or (skipped and not run_all) else 0
