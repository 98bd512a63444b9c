"""An experiment's result, typed, and how it is written: strict JSON, never half-written."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import platform
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import jax
import numpy as np

from experiments.harness.checks import Check
from experiments.harness.stats import Dist


class DivergedRun(TypedDict):
    """Where one run of an experiment turned non-finite, and whether the experiment expects it."""

    epoch: int
    step: int
    reason: str
    expected: bool


@dataclass
class Result:
    """What one experiment run produced, as ``result.json`` holds it."""

    id: str
    name: str
    title: str
    config: dict[str, Any]
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    checks: list[Check]
    diverged: dict[str, DivergedRun] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)
    wall_time_s: float = 0.0
    env: dict[str, Any] = field(default_factory=dict)
    # The settings that differ from the notes' ({"epochs": {"ran": 1, "notes": 15}}): none, and
    # the checks decide; some, and they only inform (``contract.changed_settings``).
    changed: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def unexpected_divergence(self) -> dict[str, DivergedRun]:
        """The runs that diverged although the experiment does not expect it (a failure)."""
        return {k: v for k, v in self.diverged.items() if not v["expected"]}

    @property
    def passed(self) -> bool:
        """Every check passes and no run diverged unexpectedly."""
        return all(c.passed for c in self.checks) and not self.unexpected_divergence

    @property
    def verdict(self) -> str:
        """The one word the console, the summary line, REPORT.md and the exit code agree on:
        "pass" or "FAIL" at the notes' settings, "informational" at others (the bars are the notes')."""
        if self.changed:
            return "informational"
        return "pass" if self.passed else "FAIL"

    def settings_text(self) -> str:
        """The settings it ran at, in words: "the notes' settings, 10 seeds" or "epochs 1 (notes
        15), 3 seeds"."""
        changed = [f"{k} {_short(v['ran'])} (notes {_short(v['notes'])})" for k, v in self.changed.items()]
        seeds = self.config.get("seeds", 1)
        return ", ".join(changed or ["the notes' settings"]) + (f", {seeds} seeds" if seeds != 1 else "")

    def to_json(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return {**d, "checks": [c.to_json() for c in self.checks], "diverged": self.diverged or None}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Result:
        """A result from its JSON form; ``ValueError`` if it is not one (a damaged file)."""
        kinds = {"id": str, "name": str, "title": str, "config": dict, "history": list, "metrics": dict}
        kinds.update({"checks": list, "log": list, "plots": list, "wall_time_s": int | float, "env": dict})
        if not isinstance(d, dict) or not isinstance(d.get("changed", {}), dict):
            raise ValueError("not an experiment result")
        if not isinstance(d, dict) or any(not isinstance(d.get(k), kind) for k, kind in kinds.items()):
            raise ValueError("not an experiment result")
        diverged = d.get("diverged") or {}
        runs_ok = isinstance(diverged, dict) and all(
            isinstance(v, dict) and {"epoch", "step", "reason", "expected"} <= v.keys()
            for v in diverged.values()
        )
        if not runs_ok or not all(isinstance(p, str) for p in d["plots"]):
            raise ValueError("not an experiment result")
        try:
            checks = [Check.from_json(c) for c in d["checks"]]
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"a check is not one ({e})") from None
        fields = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**{**fields, "checks": checks, "diverged": diverged})


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def read_result(path: Path) -> Result | None:
    """The result saved at ``path``, or None when there is none or it cannot be read (damaged)."""
    try:
        return Result.from_json(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


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
        "processes": jax.process_count(),
        "cpu_count": os.cpu_count(),
    }


def jsonable(obj: Any) -> Any:
    """Plain JSON values: NumPy/JAX scalars and arrays become numbers and lists, distributions
    their ``{"values", "mean", "sd", "min", "max", "n"}``; non-finite floats become the strings
    "nan", "inf" and "-inf" so the file stays strict JSON."""
    if isinstance(obj, Dist):
        return jsonable(obj.to_json())
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


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON through a temporary file and a rename: never a half-written file."""
    write_text(path, json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n")


def history_csv(history: list[dict[str, Any]]) -> str:
    """The history as a flat table for pandas or a spreadsheet: one row per epoch (or logged
    step) per run, its run, seed or other tags as columns; the columns in order of appearance."""
    columns = list(dict.fromkeys(key for row in history for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(jsonable(row) for row in history)
    return out.getvalue()
