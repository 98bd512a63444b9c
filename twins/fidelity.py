"""Ours vs the twin, number by number: two distributions over the same seeds, their difference
with a 95 % confidence interval (Welch), an equivalence verdict (two one-sided tests at a margin
stated per kind of number) and the notes' one figure placed in both."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

import twins

# Two distributions are equivalent when their means differ by less than this (TOST, α = 0.05).
MARGINS = {
    "accuracy": 0.003,  # a final accuracy: 0.3 points, ~6 of MNIST_SAMPLE's 2038 validation images
    "accuracy, early": 0.02,  # an accuracy before or early in training, which depends on the init
    "cost": 0.01,  # relative (see RELATIVE): 1 % of the twin's mean, a cost after training on a toy problem
    "cost, initial": 0.05,  # relative: 5 %, a cost before or early in training, which the init spreads widely
    "cost, blow-up": 0.5,  # relative: 50 %, a diverging run's cost (lr 1e5): its order of magnitude counts
    "accuracy, 3 points": 0.05,  # an accuracy on 3 points (steps of 1/3): its mean over seeds within 5 points
    "accuracy, 4 points": 0.05,  # an accuracy on 4 points (steps of 1/4): its mean over seeds within 5 points
    "share": 0.05,  # a 0/1 outcome per seed: the share of seeds within 5 points
    "epoch": 0.5,  # an epoch number: the same epoch
    "step": 100,  # a logged step (every 100): within one logging interval
    "accuracy (%)": 0.3,  # a final accuracy in percent (D2-D3): 0.3 points, as "accuracy"'s 0.003
}
# Kinds whose margin is a fraction of the twin's mean rather than in the number's own units.
RELATIVE = {"cost", "cost, initial", "cost, blow-up"}


def _at(tree: Any, path: str) -> Any:
    for part in path.split("/"):
        tree = tree[int(part)] if isinstance(tree, list) else tree[part]
    return tree


def _values(metric: Any) -> np.ndarray:
    values = metric["values"] if isinstance(metric, dict) else [metric]
    v = np.asarray([math.nan if x is None else float(x) for x in values], float)
    return v[np.isfinite(v)]


def compare(ours: np.ndarray, twin: np.ndarray, margin: float) -> dict[str, Any]:
    """The difference of the means (ours − twin), its 95 % and 90 % intervals, and the verdict."""
    out: dict[str, Any] = {"diff": float(ours.mean() - twin.mean()) if ours.size and twin.size else math.nan}
    if ours.size < 2 or twin.size < 2:
        return out | {"ci95": None, "verdict": "too few seeds"}
    va, vb = ours.var(ddof=1) / ours.size, twin.var(ddof=1) / twin.size
    se = math.sqrt(va + vb)
    if se == 0:
        ci95 = ci90 = (out["diff"], out["diff"])
    else:
        df = (va + vb) ** 2 / (va**2 / (ours.size - 1) + vb**2 / (twin.size - 1))
        ci95, ci90 = ((out["diff"] - t * se, out["diff"] + t * se) for t in stats.t.ppf([0.975, 0.95], df))
    if -margin < ci90[0] and ci90[1] < margin:
        verdict = "equivalent"
    elif ci95[0] > margin or ci95[1] < -margin:
        verdict = "not equivalent"
    else:
        verdict = "too few seeds"
    return out | {"ci95": ci95, "verdict": verdict}


def _half_unit(notes: float) -> float:
    """Half a unit of the last digit the notes print (0.693 → 0.0005): a figure within it of
    ours is ours, rounded."""
    text = repr(float(notes))
    if "e" in text or "." not in text:
        return 0.0
    return 0.5 * 10.0 ** -len(text.split(".")[1].rstrip("0"))


def _place(notes: float | None, values: np.ndarray) -> str:
    if notes is None or values.size == 0:
        return "–"
    # (the notes print 4 decimals: a float32 0.49319997 is their 0.4932; 3 for B3's 0.693)
    h = max(_half_unit(notes), 5e-5 * max(1.0, abs(notes)))
    if values.size < 2 or values.std(ddof=1) <= h:
        return "inside" if values.min() - h <= notes <= values.max() + h else "outside"
    z = (notes - values.mean()) / values.std(ddof=1)
    return f"z {z:+.1f}" + ("" if abs(z) <= 2 else " (atypical)")


def _dist(v: np.ndarray) -> str:
    if v.size == 0:
        return "–"
    return f"{v.mean():.4g} ± {v.std(ddof=1):.2g} ({v.size})" if v.size > 1 else f"{v.mean():.4g} (1)"


def rows(results: Path, names: list[str] | None = None) -> list[dict[str, Any]]:
    """Every number of every twin (or of the experiments ``names``) with both runs in ``results``
    (``<name>/result.json`` and ``<name>/twin.json``). Reads JSON only (no torch)."""
    found = []
    for name in twins.modules() if names is None else names:
        ours_file, twin_file = results / name / "result.json", results / name / "twin.json"
        if not (ours_file.is_file() and twin_file.is_file()):
            continue
        ours, twin = json.loads(ours_file.read_text()), json.loads(twin_file.read_text())
        numbers = twin.get("spec") or twins.load(name).NUMBERS
        for number, spec in numbers.items():
            try:
                a = _values(_at(ours["metrics"], spec["ours"]))
            except (KeyError, IndexError, TypeError):  # a result.json from before the number existed
                a = np.array([])
            b = _values({"values": twin["numbers"].get(number, [])})
            margin = MARGINS[spec["kind"]]
            if spec["kind"] in RELATIVE:
                margin *= abs(b.mean()) if b.size else math.nan
            found.append(
                {
                    "id": twin["id"],
                    "number": number,
                    "notes": spec["notes"],
                    "ours": a,
                    "twin": b,
                    "margin": margin,
                    "ours_seeds": [ours["config"].get("seed"), ours["config"].get("seeds", 1)],
                    "twin_seeds": twin["seeds"],
                    **compare(a, b, margin),
                }
            )
    return found


def missing(results: Path) -> list[str]:
    """For each twin's experiment with only one of the two runs in ``results`` (ours, its
    ``result.json``, or the twin's, its ``twin.json``): which one is missing, and the command
    that makes it over the other's seeds."""
    import experiments  # (not at the top: the harness imports this module)

    lines = []
    for name in twins.modules():
        ours, twin = results / name / "result.json", results / name / "twin.json"
        if ours.is_file() == twin.is_file():
            continue
        experiment = experiments.load(name)
        try:
            first, count = _seeds(json.loads((ours if ours.is_file() else twin).read_text()), ours.is_file())
            seed_flags = f" --seed {first} --seeds {count}"
        except (OSError, ValueError, TypeError, KeyError, IndexError):  # unreadable: the defaults
            seed_flags = ""
        if ours.is_file():
            lines.append(
                f"{experiment.id}: the twin's run is missing beside ours ({ours}): python -m twins "
                f"{experiment.id}{seed_flags} --out {results}"
            )
        else:
            lines.append(
                f"{experiment.id}: our run is missing beside the twin's ({twin}): python -m experiments "
                f"{experiment.id}{seed_flags} --out {results}"
            )
    return lines


def _seeds(record: dict[str, Any], ours: bool) -> tuple[int, int]:
    """The first seed and the number of seeds of a result (``ours``) or of a twin run."""
    if ours:
        return int(record["config"]["seed"]), int(record["config"].get("seeds", 1))
    return int(record["seeds"][0]), len(record["seeds"])


def _ours_curve(result: dict[str, Any], where: str | dict[str, str]) -> np.ndarray:
    """Our per-epoch numbers as seeds × epochs: a metric that is a list of per-epoch
    distributions (``"valid_accuracy_per_epoch"``), or a history column of one run
    (``{"history": "train_loss", "run": "B7 normal(0,1)"}``), each seed's rows in epoch order."""
    if isinstance(where, str):
        return np.asarray([_values(d) for d in _at(result["metrics"], where)], float).T
    by_seed: dict[Any, list[float]] = {}
    for row in result["history"]:
        if row.get("run") == where.get("run", row.get("run")):
            by_seed.setdefault(row.get("seed"), []).append(float(row[where["history"]]))
    return np.asarray(list(by_seed.values()), float)


def curve_plots(results: Path, folder: Path) -> list[tuple[str, str, Path]]:
    """For each twin whose lab prints a number per epoch (its ``CURVES``): ours (band over seeds),
    the twin's (band) and the notes' one run in one plot, ``<folder>/<id>_<curve>.png``. Returns
    (id, curve, path) for each plot made."""
    from experiments.harness import plots  # (matplotlib, only when plotting)

    made = []
    for name in twins.modules():
        ours_file, twin_file = results / name / "result.json", results / name / "twin.json"
        if not (ours_file.is_file() and twin_file.is_file()):
            continue
        ours, twin = json.loads(ours_file.read_text()), json.loads(twin_file.read_text())
        for curve, spec in (twin.get("curve_spec") or {}).items():
            theirs = np.asarray(twin["curves"].get(curve, []), float)  # seeds × epochs
            try:
                mine = _ours_curve(ours, spec["ours"])
            except (KeyError, IndexError, TypeError, ValueError):  # an older result.json
                continue
            if theirs.size == 0 or mine.size == 0:
                continue
            series = {}
            for label, y in (
                ("ours", mine),
                ("the labs' code (PyTorch)", theirs),
                ("the notes (one run)", np.asarray(spec["notes"], float)[None]),
            ):
                series[label] = (spec["first_epoch"] + np.arange(y.shape[1]), y)
            path = folder / f"{twin['id']}_{curve.replace(' ', '_')}.png"
            folder.mkdir(parents=True, exist_ok=True)
            plots.curves(
                path,
                series,
                title=f"{twin['id']}: {curve}, ours, the labs' code and the notes",
                ylabel=spec.get("ylabel", curve),
                logy=spec.get("logy", False),
                markers=True,
            )
            made.append((twin["id"], curve, path))
    return made


def markdown(
    found: list[dict[str, Any]],
    plots: list[tuple[str, str, Path]] = (),
    relative_to: Path | None = None,
) -> str:
    counts = {
        v: sum(r["verdict"] == v for r in found) for v in ("equivalent", "not equivalent", "too few seeds")
    }
    lines = [
        "# Fidelity: jaxnets vs the labs' own code (the PyTorch twins)",
        "",
        "Generated by `python -m twins fidelity` from `python -m experiments <id> --seeds N` and "
        "`python -m twins <id> --seeds N` over the same seeds. Difference: ours − twin, with its 95 % "
        "interval (Welch). Verdict: *equivalent* when the 90 % interval lies within ± the margin (two "
        "one-sided tests at α = 0.05), *not equivalent* when the 95 % interval lies outside it, else "
        "*too few seeds*. Margins: "
        + "; ".join(
            f"{k} ± {v * 100:g} % of the twin's mean" if k in RELATIVE else f"{k} ± {v:g}"
            for k, v in MARGINS.items()
        )
        + ".",
        "",
        f"**{counts['equivalent']} equivalent, {counts['not equivalent']} not equivalent, "
        f"{counts['too few seeds']} too few seeds** (of {len(found)} numbers).",
        "",
        "| id | number | notes | ours | twin | ours − twin (95 % CI) | verdict | notes in ours "
        "| notes in twin |",
        "| --- | --- | ---: | --- | --- | --- | --- | --- | --- |",
    ]
    for r in found:
        ci = "–" if r["ci95"] is None else f"{r['diff']:+.4f} ({r['ci95'][0]:+.4f}, {r['ci95'][1]:+.4f})"
        notes = "–" if r["notes"] is None else f"{r['notes']:g}"
        lines.append(
            f"| {r['id']} | {r['number']} | {notes} | {_dist(r['ours'])} | {_dist(r['twin'])} | {ci} "
            f"| {r['verdict']} | {_place(r['notes'], r['ours'])} | {_place(r['notes'], r['twin'])} |"
        )
    if plots:
        lines += ["", "## Curves: what the notes print per epoch, beside ours and the twin's", ""]
        for lab, curve, path in plots:
            shown = path.relative_to(relative_to) if relative_to else path
            lines += [f"{lab}, {curve}:", "", f"![{lab} {curve}]({shown.as_posix()})", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def summary_lines(found: list[dict[str, Any]]) -> list[str]:
    """One line per number: ours and the twin's distributions, the verdict (the console's view)."""
    return [
        f"twin: {r['number']}: ours {_dist(r['ours'])}, the labs' code {_dist(r['twin'])}: {r['verdict']}"
        for r in found
    ]
