"""What a reader sees of results: the ours-vs-notes table printed after a run, and ``REPORT.md``
over every experiment."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from experiments.harness import stats
from experiments.harness.checks import Check
from experiments.harness.results import Result
from experiments.harness.stats import Dist


def fmt(value: Any) -> str:
    """A number, list or word as the tables show it (6 significant digits; a distribution over
    seeds as mean ± sd (n))."""
    if isinstance(value, Dist):
        return format(value, ".6g" if value.sd is None else ".4g")
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float | np.floating):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value)


def placements(check: Check) -> list[tuple[str, str, str]]:
    """For each number of the notes placed in our distribution: (what, where, verdict), e.g.
    ("notes' 0.9805 vs ours", "inside [0.9791, 0.9822], z = +0.41", "typical")."""
    if check.placement is None:
        return []
    places = check.placement if isinstance(check.placement, list) else [check.placement]
    ours = check.ours if isinstance(check.placement, list) else [check.ours]
    rows = []
    for place, dist_ in zip(places, ours, strict=True):
        if place is None:
            continue
        z = place["z"]
        where = f"{'inside' if place['inside'] else 'outside'} [{dist_.min:.4g}, {dist_.max:.4g}]"
        z_text = "" if z is None else f", z = {z:+.2f}"
        verdict = {True: "typical", False: "atypical", None: "–"}[stats.typical(place)]
        rows.append((f"notes' {place['notes']:.6g} vs ours", where + z_text, verdict))
    return rows


def checks_table(checks: list[Check]) -> str:
    """The "ours vs notes" table printed after each run: each check, and under it where the
    notes' figure falls in our distribution over seeds (typical: |z| ≤ 2)."""
    rows = [("check", "ours", "notes", "bar", "pass")]
    for c in checks:
        rows.append((c.name, fmt(c.ours), fmt(c.notes), c.bar, "PASS" if c.passed else "FAIL"))
        rows += [
            (f"  ↳ {what}", where, "", "typical if |z| ≤ 2", verdict)
            for what, where, verdict in placements(c)
        ]
    widths = [min(max(len(r[i]) for r in rows), 48) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _difference(ours: Any, notes: Any) -> str:
    """ours − notes where both are numbers (or equal-length lists of numbers), else "–"."""

    def number(v: Any) -> bool:
        return isinstance(v, int | float | np.number) and not isinstance(v, bool) and math.isfinite(v)

    if isinstance(ours, Dist):
        ours = ours.mean
    if number(ours) and number(notes):
        return f"{ours - notes:+.4g}"
    if isinstance(ours, list | tuple) and isinstance(notes, list | tuple) and len(ours) == len(notes):
        ours = [a.mean if isinstance(a, Dist) else a for a in ours]
        if all(number(a) and number(b) for a, b in zip(ours, notes, strict=True)):
            return "[" + ", ".join(f"{a - b:+.4g}" for a, b in zip(ours, notes, strict=True)) + "]"
    return "–"


def _cell(text: Any) -> str:
    return fmt(text).replace("|", "\\|").replace("\n", " ")


def report_markdown(runs: list[Result], skipped: dict[str, str] | None = None, title: str = "Results") -> str:
    """``REPORT.md``: one table of every check of every run (ours, the notes', the difference,
    the bar, pass/fail), each experiment's time and links to its plots, then the runs that
    diverged (expected or not) and what was skipped."""
    lines = [f"# {title}", ""]
    if runs:
        env = {k: "?" for k in ("backend", "cpu_count", "jax", "flax", "optax", "python")} | runs[0].env
        lines += [
            f"{len(runs)} experiment(s) on {env['backend']} ({len(env.get('devices', []))} device(s), "
            f"{env['cpu_count']} CPU cores); jax {env['jax']}, flax {env['flax']}, optax {env['optax']}, "
            f"Python {env['python']}. Total run time {sum(r.wall_time_s for r in runs):.0f} s.",
            "",
        ]
    passed = sum(r.passed for r in runs)
    lines += [f"**{passed} of {len(runs)} pass all their checks.**", ""]
    lines += [
        "| id | check | ours | notes | difference | bar | pass | time | plots |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in runs:
        plots = " ".join(f"[{Path(p).stem}]({r.name}/{p})" for p in r.plots)
        for i, c in enumerate(r.checks):
            first = i == 0
            cells = [
                f"{r.id} {r.title}" if first else "",
                _cell(c.name),
                _cell(c.ours),
                _cell(c.notes),
                _difference(c.ours, c.notes),
                _cell(c.bar),
                "✅" if c.passed else "❌ FAIL",
                f"{r.wall_time_s:.1f} s" if first else "",
                plots if first else "",
            ]
            lines.append("| " + " | ".join(cells) + " |")
            for what, where, verdict in placements(c):
                lines.append(f"| | ↳ {_cell(what)} | {_cell(where)} | | | \\|z\\| ≤ 2 | {verdict} | | |")
    diverged = [(r.id, run, d) for r in runs for run, d in r.diverged.items()]
    if diverged:
        lines += ["", "## Diverged runs", ""]
        lines += [
            f"- **{id_}** {_cell(run)}: non-finite {d['reason']} at epoch {d['epoch']}, step {d['step']}; "
            + ("expected (the lab's point)" if d["expected"] else "**not expected: counted as a failure**")
            for id_, run, d in diverged
        ]
    if skipped:
        lines += ["", "## Skipped", ""]
        lines += [f"- **{k}**: {_cell(v)}" for k, v in skipped.items()]
    return "\n".join(lines) + "\n"
