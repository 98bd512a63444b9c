"""A page per lab, ``docs/labs/<id>.md``: the notes' setup and numbers, our JAX code beside the
lab's own PyTorch (the twin), the curves, and how ours compares with the twin's over seeds. Written
from the files themselves (the lab and twin modules, ``docs/FIDELITY.md``, the plots under
``docs/``), so a page cannot drift from them; a test checks the pages against this. Regenerate
with ``python -m experiments.harness.pages``."""

from __future__ import annotations

import ast
import itertools
import sys
from pathlib import Path

import twins
from experiments import all_experiments
from experiments.harness.catalog import module_doc
from experiments.harness.contract import Experiment

DOCS = Path(__file__).resolve().parents[2] / "docs"
FOLDER = DOCS / "labs"


def _definitions(path: Path) -> str:
    """The source of every class and function a module defines, in order: what it does, without
    its docstring, imports and the data it declares for the harness."""
    source = path.read_text()
    tree = ast.parse(source)
    parts = [
        ast.get_source_segment(source, node, padded=True)
        for node in tree.body
        if isinstance(node, ast.ClassDef | ast.FunctionDef)
    ]
    decorated = {
        node.name: "\n".join(f"@{ast.get_source_segment(source, d)}" for d in node.decorator_list)
        for node in tree.body
        if isinstance(node, ast.ClassDef | ast.FunctionDef) and node.decorator_list
    }
    names = [node.name for node in tree.body if isinstance(node, ast.ClassDef | ast.FunctionDef)]
    return "\n\n\n".join(
        (decorated[name] + "\n" if name in decorated else "") + part
        for name, part in zip(names, parts, strict=True)
    )


def _twin(experiment: Experiment) -> Path | None:
    """The twin module's file of ``experiment`` (read, not imported: it needs PyTorch), or None
    (A1, A5, B6, B13, C1, D1 have none)."""
    for i in (experiment.id, *experiment.ids):
        if i in twins.TWINS:
            return Path(twins.__file__).parent / f"{twins.TWINS[i]}.py"
    return None


def _notes_table(experiment: Experiment) -> list[str]:
    rows = ["| check | ours (in `result.json`) | bar | the notes |", "| --- | --- | --- | --- |"]
    for name, (paths, bar, figure) in experiment.notes.items():
        where = ", ".join(f"`{p}`" for p in (paths if isinstance(paths, tuple | list) else [paths]))
        bars = " and ".join(bar) if isinstance(bar, tuple | list) else bar
        rows.append(f"| {name} | {where} | {bars} | {'–' if figure is None else figure} |")
    return rows


def _tables(path: Path) -> list[tuple[list[str], list[str]]]:
    """Each table of a Markdown file whose header starts with ``| id |``: (its two header lines, its rows)."""
    lines = path.read_text().splitlines()
    tables = []
    for i, line in enumerate(lines):
        if line.startswith("| id |") and (i == 0 or not lines[i - 1].startswith("|")):
            rows = list(itertools.takewhile(lambda row: row.startswith("|"), lines[i + 2 :]))
            tables.append((lines[i : i + 2], rows))
    return tables


def _fidelity_rows(experiment: Experiment) -> list[str]:
    """This lab's rows of ``docs/FIDELITY.md``: of the table ``python -m twins fidelity`` writes (10
    seeds), then of the tables below it, at more seeds, that decide what 10 seeds leave open, each
    under its own header (their columns differ)."""
    mine = [
        (header, [row for row in rows if row.startswith(f"| {experiment.id} |")])
        for header, rows in _tables(DOCS / "FIDELITY.md")
    ]
    if not mine or not mine[0][1]:
        return []
    (header, rows), *below = mine
    lines = [*header, *rows]
    more = [(header, rows) for header, rows in below if rows]
    if more:
        lines += ["", "Where 10 seeds leave a number open, more seeds of both decide it:"]
        for header, rows in more:
            lines += ["", *header, *rows]
    return lines


def _images(experiment: Experiment) -> list[str]:
    """The plots under ``docs/`` drawn from this lab's runs: ours over seeds (``docs/img``), the
    notes' curves beside ours and the twin's (``docs/fidelity``)."""
    found = sorted((DOCS / "img").glob(f"{experiment.name}*.png"))
    found += sorted((DOCS / "fidelity").glob(f"{experiment.id}_*.png"))
    return [f"![{p.stem}](../{p.relative_to(DOCS).as_posix()})" for p in found]


def markdown(experiment: Experiment) -> str:
    """The page of one lab."""
    module = Path(sys.modules[experiment.module].__file__)
    twin = _twin(experiment)
    lines = [
        f"# {experiment.id}: {experiment.title}",
        "",
        f"Written from `experiments/{module.name}`"
        + (f" and `twins/{twin.name}`" if twin else "")
        + " by `python -m experiments.harness.pages`. All labs: [the catalog](../experiments.md).",
        "",
        "## The lab",
        "",
        module_doc(experiment),
        "",
        f"Run it: `python -m experiments {experiment.id}` (`--seeds 10` for ten seeds as one program).",
        "",
        "## The notes' numbers, and the bars ours must meet",
        "",
        *_notes_table(experiment),
        "",
        "## Ours, in JAX",
        "",
        "```python",
        _definitions(module),
        "```",
    ]
    if twin is not None:
        lines += [
            "",
            "## The lab's own code, in PyTorch (the twin)",
            "",
            f"Proven equal to ours step for step by `tests/twins/`; `python -m twins {experiment.id}` "
            "runs it.",
            "",
            "```python",
            _definitions(twin),
            "```",
        ]
    if images := _images(experiment):
        lines += ["", "## Curves", "", *images]
    if rows := _fidelity_rows(experiment):
        lines += ["", "## Ours beside the twin, over seeds ([FIDELITY.md](../FIDELITY.md))", "", *rows]
    return "\n".join(lines) + "\n"


def pages() -> dict[Path, str]:
    """Every lab's page, by its path."""
    return {FOLDER / f"{e.id}.md": markdown(e) for e in all_experiments()}


if __name__ == "__main__":
    FOLDER.mkdir(exist_ok=True)
    for path, text in pages().items():
        path.write_text(text)
    print(f"wrote {len(pages())} pages in {FOLDER}")
