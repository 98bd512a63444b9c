"""Experiment results: ours-vs-notes checks, environment, and atomic JSON files."""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import numpy as np


def check(name: str, ours: Any, reported: Any, bar: str, passed: bool) -> dict[str, Any]:
    """One reported number of the notes, ours beside it, the bar ours must meet, and whether it does."""
    return {"name": name, "ours": ours, "reported": reported, "bar": bar, "pass": bool(passed)}


def tagged(history: list[dict[str, Any]], **tags: Any) -> list[dict[str, Any]]:
    """History rows with extra keys (e.g. ``run="lr=0.1"``) for experiments of several runs."""
    return [{**tags, **row} for row in history]


def diverged_runs(divergences: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """``{run: {"epoch", "step", "reason"}}`` for the runs whose ``Divergence`` is not None (the
    ``diverged`` entry of a result), or None when every run stayed finite."""
    return {name: d._asdict() for name, d in divergences.items() if d is not None} or None


def divergences(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The ``diverged`` entry of a saved result, ``{run: {epoch, step, reason, expected}}`` (empty
    when none diverged; the single-run entries of results written before ``run`` keys are skipped)."""
    return {k: v for k, v in (result.get("diverged") or {}).items() if isinstance(v, dict)}


def unexpected_divergence(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The runs of a result that diverged although its experiment does not expect it (a failure)."""
    return {k: v for k, v in divergences(result).items() if not v.get("expected", False)}


def slug(name: str) -> str:
    """A file-name-safe form of a run name: "BN, lr 0.01" → "BN_lr_0.01"."""
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", name).strip("_") or "run"


def env_info() -> dict[str, Any]:
    """Versions and devices, so a result says where it was measured."""
    import flax
    import optax

    return {
        "jax": jax.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "cpu_count": os.cpu_count(),
    }


def jsonable(obj: Any) -> Any:
    """Plain JSON values: NumPy/JAX scalars and arrays become numbers and lists; non-finite
    floats become the strings "nan", "inf" and "-inf" so the file stays strict JSON."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray | jax.Array):
        return jsonable(np.asarray(obj).tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON through a temporary file and a rename: never a half-written file."""
    write_text(path, json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n")


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float | np.floating):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def checks_table(checks: list[dict[str, Any]]) -> str:
    """The "ours vs notes" table printed after each run."""
    rows = [("check", "ours", "notes", "bar", "pass")]
    rows += [
        (c["name"], _fmt(c["ours"]), _fmt(c["reported"]), c["bar"], "PASS" if c["pass"] else "FAIL")
        for c in checks
    ]
    widths = [min(max(len(r[i]) for r in rows), 48) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _difference(ours: Any, reported: Any) -> str:
    """ours − notes where both are numbers (or equal-length lists of numbers), else "–"."""

    def number(v: Any) -> bool:
        return isinstance(v, int | float | np.number) and not isinstance(v, bool) and math.isfinite(v)

    if number(ours) and number(reported):
        return f"{ours - reported:+.4g}"
    if isinstance(ours, list | tuple) and isinstance(reported, list | tuple) and len(ours) == len(reported):
        if all(number(a) and number(b) for a, b in zip(ours, reported, strict=True)):
            return "[" + ", ".join(f"{a - b:+.4g}" for a, b in zip(ours, reported, strict=True)) + "]"
    return "–"


def _cell(text: Any) -> str:
    return _fmt(text).replace("|", "\\|").replace("\n", " ")


def report_markdown(
    runs: list[dict[str, Any]], skipped: dict[str, str] | None = None, title: str = "Results"
) -> str:
    """``REPORT.md``: one table of every check of every run (ours, the notes', the difference,
    the bar, pass/fail), each experiment's time and links to its plots, then the runs that
    diverged (expected or not) and what was skipped."""
    lines = [f"# {title}", ""]
    if runs:
        env = runs[0]["env"]
        lines += [
            f"{len(runs)} experiment(s) on {env['backend']} ({len(env['devices'])} device(s), "
            f"{env['cpu_count']} CPU cores); jax {env['jax']}, flax {env['flax']}, optax {env['optax']}, "
            f"Python {env['python']}. Total run time {sum(r['wall_time_s'] for r in runs):.0f} s.",
            "",
        ]
    passed = sum(all(c["pass"] for c in r["checks"]) and not unexpected_divergence(r) for r in runs)
    lines += [f"**{passed} of {len(runs)} pass all their checks.**", ""]
    lines += [
        "| id | check | ours | notes | difference | bar | pass | time | plots |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in runs:
        plots = " ".join(f"[{Path(p).stem}]({r['name']}/{p})" for p in r["plots"])
        for i, c in enumerate(r["checks"]):
            first = i == 0
            lines.append(
                "| "
                + " | ".join(
                    [
                        f"{r['id']} {r['title']}" if first else "",
                        _cell(c["name"]),
                        _cell(c["ours"]),
                        _cell(c["reported"]),
                        _difference(c["ours"], c["reported"]),
                        _cell(c["bar"]),
                        "✅" if c["pass"] else "❌ FAIL",
                        f"{r['wall_time_s']:.1f} s" if first else "",
                        plots if first else "",
                    ]
                )
                + " |"
            )
    diverged = [(r["id"], run, d) for r in runs for run, d in divergences(r).items()]
    if diverged:
        lines += ["", "## Diverged runs", ""]
        lines += [
            f"- **{id_}** {_cell(run)}: non-finite {d['reason']} at epoch {d['epoch']}, step {d['step']}; "
            + (
                "expected (the lab's point)"
                if d.get("expected")
                else "**not expected: counted as a failure**"
            )
            for id_, run, d in diverged
        ]
    if skipped:
        lines += ["", "## Skipped", ""]
        lines += [f"- **{k}**: {_cell(v)}" for k, v in skipped.items()]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed over ``path`` when the block ends
    without error, removed otherwise: ``path`` is never half-written. (The temporary file is a
    plain new file, so the result gets the usual permissions.)"""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` through a temporary file and a rename (``replacing``)."""
    with replacing(path) as tmp, open(tmp, "x") as f:
        f.write(text)
