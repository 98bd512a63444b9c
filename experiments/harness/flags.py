"""The command line's options: each flag, the settings it reaches, and the checks that a value is
one a run can take (a one-line error otherwise; a setting's flag checks it by the setting's rule
in ``limits``)."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import NoReturn

from experiments.harness import limits
from experiments.harness.limits import MAX_EPOCHS, MAX_SEED
from jaxnets import data

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


def _read(kind: type, text: str) -> float | int:
    """``text`` as a finite number of ``kind`` (integers may be written like 1e3), or an
    ``ArgumentTypeError`` saying what it is not."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            if not value.is_integer():
                raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
            return int(value)
    return value


def setting(kind: type, name: str):
    """An argparse type for the flag of setting ``name``: a number of ``kind`` that the setting's
    rule (``limits.RULES``) allows, the same rule as for ``--set`` and ``--config``."""

    def parse(text: str):
        value = _read(kind, text)
        if (what := limits.problem(name, value)) is not None:
            raise argparse.ArgumentTypeError(f"{what}, got {text}")
        return value

    return parse


def _number(kind: type, low: float, high: float, what: str):
    """An argparse type: a finite number of ``kind`` from ``low`` to ``high`` (integers may be
    written like 1e3), or a one-line error saying what is allowed."""

    def parse(text: str):
        value = _read(kind, text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what}, got {text}")
        return value

    return parse


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad argument reported in one line (and exit code 2) rather than the
    usage block and the message."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (python -m experiments --help lists the options)\n")


def parser(epilog: str | None = None) -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m experiments",
        description="Reproduce the labs' experiments and compare with the notes' numbers.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "names",
        nargs="+",
        metavar="EXPERIMENT",
        help="`list`, `all`, or experiment names / catalog ids (e.g. A1 overfitting)",
    )
    p.add_argument(
        "--seed",
        type=setting(int, "seed"),
        help=f"random seed, 0 to {MAX_SEED} (default: the experiment's); the first of --seeds",
    )
    p.add_argument(
        "--seeds",
        type=setting(int, "seeds"),
        help="train N seeds (--seed, --seed+1, …) as one program and report each statistical number "
        "as mean ± sd over them, with the notes' figure placed in the distribution (default: 1)",
    )
    p.add_argument(
        "--epochs",
        type=setting(int, "epochs"),
        help="number of epochs (or steps)",
    )
    p.add_argument("--lr", type=setting(float, "lr"), help="learning rate")
    p.add_argument("--batch-size", type=setting(int, "batch_size"), help="batch size")
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
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set any setting of the experiment (repeatable): --set k=30 --set hidden=(64,64); "
        "`python -m experiments A1 --help` lists A1's",
    )
    p.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a TOML file of settings: NAME = VALUE at its top for the experiments named, or "
        "under [A1] for one experiment (the flags and --set win over it)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="reduced runs (fewer epochs, data subsets) for a first look, in OUT/quick/; "
        "their checks are informational, the bars being for the full runs",
    )
    return p
