"""What a command line asks for, worked out before anything runs: the experiments it names and
the config each runs with (or one ``InputError``), what every process of a job must agree on,
and ``--help``'s list of the named experiments' settings."""

from __future__ import annotations

import contextlib
from typing import Any

from experiments import all_experiments, load
from experiments.harness import settings
from experiments.harness.contract import Experiment
from experiments.harness.flags import FLAGS
from jaxnets.errors import InputError


def plan(args: Any) -> tuple[list[Experiment], list[Any]]:
    """The experiments the parsed ``args`` name and the config each runs with, or ``InputError``
    (nothing is run or written: what a check of a command line needs)."""
    if args.resume and args.no_checkpoint:
        raise InputError(
            "--resume goes on from the checkpoints of an unfinished run, and --no-checkpoint saves none: "
            "drop --no-checkpoint (or --resume)"
        )
    overrides: dict[str, Any] = {k: getattr(args, k) for k in FLAGS if getattr(args, k, None) is not None}
    if args.on_divergence is not None:
        overrides["stop_on_divergence"] = args.on_divergence == "stop"
    run_all = args.names == ["all"]
    experiments = all_experiments() if run_all else [load(n) for n in args.names]
    sets = settings.parse_sets(args.set)
    file = None if args.config is None else (args.config, settings.read_file(args.config))
    if file is not None:
        settings.check_file_tables(file[1], file[0], load)
    if run_all:
        settings.check_names(experiments, sets, file)
    options = {"strict": not run_all, "quick": args.quick, "flags": FLAGS}
    return experiments, [settings.configure(e, overrides, sets, file, **options) for e in experiments]


def what_runs(args: Any, experiments: list[Experiment], configs: list[Any]) -> str:
    """What this process will run, in words every process of a job must share (the data folder
    aside: hosts may keep their data in different places)."""
    settings_ = [{k: v for k, v in vars(c).items() if k != "data_dir"} for c in configs]
    options = (args.out, args.quick, args.resume, args.no_checkpoint, args.checkpoint_every, args.accept_data)
    return repr(([e.id for e in experiments], settings_, options))


def settings_help(argv: list[str]) -> str | None:
    """For ``--help`` with experiments named: each one's settings and defaults."""
    if not {"-h", "--help"} & set(argv):
        return None
    found = []
    for word in argv:
        with contextlib.suppress(InputError):
            if not word.startswith("-") and (experiment := load(word)) not in found:
                found.append(experiment)
    return "\n\n".join(settings.describe(e, FLAGS) for e in found) or None
