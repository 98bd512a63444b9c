"""``python -m twins <id|all> [--seeds N] [--seed S] [--out results]``: run the twins (the labs'
PyTorch code) over the seeds the experiments use, writing ``<out>/<name>/twin.json`` beside our
``result.json``; ``python -m twins fidelity [--out results]``: the comparison,
``<out>/FIDELITY.md``, and the curves the notes print per epoch beside ours and the twin's,
``<out>/fidelity/*.png``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path
from typing import NoReturn

import twins
from experiments.harness import session
from experiments.harness.flags import setting
from twins import fidelity


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad argument reported in one line (and exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (python -m twins --help lists the options)\n")


def main(argv: list[str] | None = None) -> int:
    p = _Parser(prog="python -m twins", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "names", nargs="+", help="`all`, `fidelity`, or catalog ids / module names (C3 basic_optim)"
    )
    # The seeds as the experiments take them (the same rules as python -m experiments --seed, --seeds).
    p.add_argument(
        "--seeds",
        type=setting(int, "seeds"),
        default=1,
        help="how many seeds: --seed, --seed + 1, … (default 1)",
    )
    p.add_argument("--seed", type=setting(int, "seed"), help="the first seed (default: the experiment's)")
    p.add_argument("--out", type=Path, default=Path("results"), help="the results folder (default ./results)")
    p.add_argument("--data-dir", help="folder with the data sets (default: $JAXNETS_DATA_DIR)")
    args = p.parse_args(argv)
    if args.names == ["fidelity"]:
        return _fidelity(args.out)
    try:
        names = (
            twins.modules()
            if args.names == ["all"]
            else [twins.load(n).__name__.split(".")[-1] for n in args.names]
        )
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
    for folder in (args.out, *(args.out / name for name in names)):  # before a seed is run
        if problem := session.unwritable(folder):
            print(f"error: {problem}", file=sys.stderr)
            return 2
    import torch

    import experiments

    # One thread: these small nets step ~20x faster on one core than with OpenMP's threads
    # contending on a shared 2-core machine (measured by the twins' authors here).
    torch.set_num_threads(1)

    for name in names:
        module, experiment = twins.load(name), experiments.load(name)
        first = experiment.config().seed if args.seed is None else args.seed
        seeds = list(range(first, first + args.seeds))
        start = time.perf_counter()
        numbers: dict[str, list[float]] = {number: [] for number in module.NUMBERS}
        curve_spec = getattr(module, "CURVES", {})
        curves: dict[str, list[list[float]]] = {curve: [] for curve in curve_spec}
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        done: list[int] = []
        config = _config(experiment)
        previous = _previous(folder / "twin.json", config, module.NUMBERS)
        if previous is not None:  # a run of the same settings: keep its seeds, run only the others
            done, numbers, curves = previous["seeds"], previous["numbers"], previous.get("curves", curves)
            start -= previous["time_s"]
            kept = [s for s in seeds if s in done]
            if kept:
                print(f"{experiment.id} twin: seed(s) {kept} already in {folder / 'twin.json'}, kept")
        for seed in (s for s in seeds if s not in done):
            for number, value in module.run(seed, args.data_dir).items():
                (curves if number in curve_spec else numbers)[number].append(value)
            done.append(seed)
            print(
                f"{experiment.id} twin, seed {seed}: "
                + ", ".join(f"{k} {v[-1]:.4g}" for k, v in numbers.items())
            )
            # Saved after every seed: a run stopped part way keeps the seeds it finished.
            record = {
                "id": experiment.id,
                "name": name,
                "seeds": done,
                "numbers": numbers,
                "spec": module.NUMBERS,  # the notes' figures, where ours is: read without importing torch
                "curves": curves,  # per seed, one value per epoch
                "curve_spec": curve_spec,
                "time_s": time.perf_counter() - start,
                "env": {"torch": torch.__version__, "python": platform.python_version()},
                "config": config,
            }
            (folder / "twin.json").write_text(json.dumps(record, indent=1))
        print(
            f"{experiment.id} twin: {len(done)} seed(s) in {record['time_s']:.1f} s → {folder / 'twin.json'}"
        )
    return 0


def _fidelity(out: Path) -> int:
    """``python -m twins fidelity``: the comparison, where both runs of an experiment are in
    ``out``; one line for each experiment with one of them only, and the command that makes the
    other; exit 2 where there is nothing to compare."""
    if not out.is_dir():
        what = "is a file, not a results folder" if out.exists() else "does not exist"
        print(
            f"error: --out {out} {what}: give --out the folder that `python -m experiments "
            f"<id> --seeds N` and `python -m twins <id> --seeds N` wrote to",
            file=sys.stderr,
        )
        return 2
    found, gaps = fidelity.rows(out), fidelity.missing(out)
    for gap in gaps:
        print(f"{'missing' if found else 'error'}: {gap}", file=sys.stderr)
    if not found:
        if not gaps:
            print(
                f"error: {out} holds no experiment's results beside its twin's: run `python -m experiments "
                f"<id> --seeds N --out {out}` and `python -m twins <id> --seeds N --out {out}` first",
                file=sys.stderr,
            )
        return 2
    report = out / "FIDELITY.md"
    plots = fidelity.curve_plots(out, out / "fidelity")
    report.write_text(fidelity.markdown(found, plots, relative_to=out))
    print(report.read_text())
    return 0


def _config(experiment) -> dict:
    """The experiment's settings that make a twin run: all but where the data is and the seeds."""
    exclude = {"data_dir", "seed", "seeds"}
    return {k: v for k, v in dataclasses.asdict(experiment.config()).items() if k not in exclude}


def _previous(path: Path, config: dict, spec: dict) -> dict | None:
    """An earlier twin run in ``path`` with the same settings and numbers, or None."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    same = lambda a, b: json.loads(json.dumps(a)) == json.loads(json.dumps(b))  # noqa: E731
    if not isinstance(record, dict) or not same(record.get("spec"), spec):
        return None
    old = {k: v for k, v in record.get("config", {}).items() if k not in ("seed", "seeds")}
    return record if same(config, old) else None


if __name__ == "__main__":
    sys.exit(main())
