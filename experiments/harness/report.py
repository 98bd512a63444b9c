"""What a reader sees of results: the ours-vs-notes table printed after a run, and ``REPORT.md``
over every experiment."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from experiments.harness import stats
from experiments.harness.checks import Check
from experiments.harness.results import Result
from experiments.harness.stats import Dist


def fmt(value: Any) -> str:
    """A number, list or word as the tables show it (6 significant digits; a distribution over
    seeds as mean ± sd (n); a dict as its names and values)."""
    if stats.is_dist_json(value):
        value = stats.from_json(value)
    if isinstance(value, Dist):
        return format(value, ".6g" if value.sd is None else ".4g")
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float | np.floating):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{k} {fmt(v)}" for k, v in value.items())
    return str(value)


def placements(check: Check) -> list[tuple[str, str, str]]:
    """For each number of the notes placed in our distribution: (what, where, verdict), e.g.
    ("notes' 0.9805", "inside [0.9791, 0.9822], z = +0.41", "typical")."""
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
        rows.append((f"notes' {place['notes']:.6g}", where + z_text, verdict))
    return rows


WIDTH = 100  # columns a printed table fits in (cells wrap inside their column)


def text_table(rows: list[tuple[str, ...]], width: int = WIDTH, prose: tuple[int, ...] = ()) -> str:
    """Rows of text as aligned columns under a rule, at most ``width`` wide. Where the columns'
    natural widths do not fit, the ``prose`` columns narrow first (to no less than 24), then the
    widest alike; a narrowed column's cells wrap onto more lines, every word kept."""
    gap = 2
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    room = width - gap * (len(widths) - 1)
    for i in sorted(prose, key=lambda i: -widths[i]):
        widths[i] = max(min(widths[i], 24), widths[i] - max(0, sum(widths) - room))
    cap = max(widths)
    while sum(min(w, cap) for w in widths) > room and cap > 4:
        cap -= 1
    widths = [min(w, cap) for w in widths]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            textwrap.wrap(c, w, break_on_hyphens=False) or [""] for c, w in zip(row, widths, strict=True)
        ]
        for k in range(max(map(len, cells))):
            parts = [(c[k] if k < len(c) else "").ljust(w) for c, w in zip(cells, widths, strict=True)]
            lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def checks_table(checks: list[Check], informational: bool = False) -> str:
    """The "ours vs notes" table printed after each run: each check, and under it where the
    notes' figure falls in our distribution over seeds (typical: |z| ≤ 2). At other settings than
    the notes' a bar is "met" or "not met": it informs, it does not decide."""
    marks = ("met", "not met") if informational else ("PASS", "FAIL")
    rows = [("check", "ours", "notes", "bar", "pass")]
    for c in checks:
        rows.append((c.name, fmt(c.ours), fmt(c.notes), c.bar, marks[0] if c.passed else marks[1]))
        rows += [
            (f"  ↳ {what}", where, "", "typical: |z| ≤ 2", verdict) for what, where, verdict in placements(c)
        ]
    return text_table(rows, prose=(0, 3))


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


def _check_rows(r: Result) -> list[str]:
    """One experiment's rows of the report's table: each check, then where the notes' figure
    falls in our distribution."""
    plots = " ".join(f"[{Path(p).stem}]({r.name}/{p})" for p in r.plots)
    marks = ("met", "not met") if r.changed else ("✅", "❌ FAIL")
    lines = []
    for i, c in enumerate(r.checks):
        first = i == 0
        cells = [
            f"{r.id} {r.title}" if first else "",
            _cell(r.settings_text()) if first else "",
            _cell(c.name),
            _cell(c.ours),
            _cell(c.notes),
            _difference(c.ours, c.notes),
            _cell(c.bar),
            marks[0] if c.passed else marks[1],
            f"{r.wall_time_s:.1f} s" if first else "",
            plots if first else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
        for what, where, verdict in placements(c):
            lines.append(f"| | | ↳ {_cell(what)} | {_cell(where)} | | | \\|z\\| ≤ 2 | {verdict} | | |")
    return lines


def _table(runs: list[Result]) -> list[str]:
    head = "| id | settings | check | ours | notes | difference | bar | pass | time | plots |"
    return [head, "| --- " * 10 + "|", *(line for r in runs for line in _check_rows(r)), ""]


def report_markdown(runs: list[Result], skipped: dict[str, str] | None = None, title: str = "Results") -> str:
    """``REPORT.md``: the experiments at the notes' settings in one table (every check: ours, the
    notes', the difference, the bar, pass/fail), those at other settings in a second table whose
    bars only inform, each row with its settings, time and plots; then the runs that diverged
    (expected or not) and what was skipped."""
    lines = [f"# {title}", ""]
    if runs:
        env = {k: "?" for k in ("backend", "cpu_count", "jax", "flax", "optax", "python")} | runs[0].env
        lines += [
            f"{len(runs)} experiment(s) on {env['backend']} ({len(env.get('devices', []))} device(s), "
            f"{env['cpu_count']} CPU cores); jax {env['jax']}, flax {env['flax']}, optax {env['optax']}, "
            f"Python {env['python']}. Total run time {sum(r.wall_time_s for r in runs):.0f} s.",
            "",
        ]
    full = [r for r in runs if not r.changed]
    other = [r for r in runs if r.changed]
    lines += [f"**{summary(runs)}**", ""]
    if full:
        lines += ["## At the notes' settings", "", *_table(full)]
    if other:
        lines += [
            "## At other settings (informational)",
            "",
            "These ran at other settings than the notes' (fewer epochs, `--quick`, another learning "
            "rate…): the notes' bars are shown as met or not met, and decide nothing.",
            "",
            *_table(other),
        ]
    diverged = [(r, run, d) for r in runs for run, d in r.diverged.items()]
    if diverged:
        lines += ["## Diverged runs", ""]
        lines += [
            f"- **{r.id}** {_cell(run)}: non-finite {d['reason']} at epoch {d['epoch']}, step {d['step']}; "
            + (
                "expected (the lab's point)"
                if d["expected"]
                else "not expected, at other settings than the notes'"
                if r.changed
                else "**not expected: counted as a failure**"
            )
            for r, run, d in diverged
        ]
        lines.append("")
    if skipped:
        lines += ["## Skipped", ""]
        lines += [f"- **{k}**: {_cell(v)}" for k, v in skipped.items()]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def summary(runs: list[Result]) -> str:
    """The count of each verdict, in the console summary's words: "13 passed, 0 failed at the
    notes' settings; 9 informational (other settings than the notes')"."""
    full = [r for r in runs if not r.changed]
    informational = len(runs) - len(full)
    passed = sum(r.verdict == "pass" for r in full)
    text = f"{passed} passed, {len(full) - passed} failed at the notes' settings"
    other = f"; {informational} informational (other settings than the notes')"
    return text + (other if informational else "")
