"""The catalog of experiments as ``docs/experiments.md``: written from the experiment modules
themselves (their docstrings, records and settings), so that it cannot drift from them; a test
checks the file against it. Regenerate with ``python -m experiments.harness.catalog``."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from experiments import all_experiments
from experiments.harness.contract import Experiment

PATH = Path(__file__).resolve().parents[2] / "docs" / "experiments.md"

INTRO = """\
# The experiments

Every experiment of the five sets of lecture notes the labs come from: "Deep Learning Zero To
All" season 2 (labs 07-1 to 09-4), the fastai book's chapter 4 ("MNIST basics") and a study
group's week on MNIST and Fashion-MNIST. Each is one module of `experiments/`, which reads like
the lab it reproduces. Run one with `python -m experiments <id or name>`, all with
`python -m experiments all`; `python -m experiments <id> --help` lists its settings, and
`--set NAME=VALUE` (or a `--config` file) changes any of them.

Written from the modules by `python -m experiments.harness.catalog` (a test keeps it current).
"""


def module_doc(experiment: Experiment) -> str:
    """The module's docstring, each paragraph on one line (Markdown reflows them anyway)."""
    doc = (sys.modules[experiment.module].__doc__ or "").strip()
    return "\n\n".join(" ".join(p.split()) for p in doc.split("\n\n"))


def _settings(experiment: Experiment) -> str:
    defaults = dataclasses.asdict(experiment.config())
    cells = [f"`{k}={v!r}`" for k, v in defaults.items() if k not in ("data_dir",)]
    quick = ", ".join(f"`{k}={v!r}`" for k, v in experiment.quick.items()) or "the same settings"
    return f"Settings (the notes'): {', '.join(cells)}. `--quick`: {quick}."


def markdown() -> str:
    """The catalog: a table of every experiment, then each one's lab, settings and command."""
    experiments = all_experiments()
    lines = [INTRO, "| id | module | what it shows |", "| --- | --- | --- |"]
    lines += [f"| [{e.id}](#{e.name}) | `{e.name}` | {e.description} |" for e in experiments]
    for e in experiments:
        lines += [
            "",
            f'<a id="{e.name}"></a>',
            f"## {e.id}: {e.title}",
            "",
            module_doc(e),
            "",
            _settings(e),
            "",
            f"`python -m experiments {e.id}` (or `python -m experiments {e.name}`); results in "
            f"`results/{e.name}/`. Side by side with the lab's own code: [labs/{e.id}.md](labs/{e.id}.md).",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    PATH.write_text(markdown())
    print(f"wrote {PATH}")
