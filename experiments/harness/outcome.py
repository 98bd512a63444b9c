"""What a lab's ``run(config, ws)`` returns, as its result records it. A lab returns a dict of its
numbers, nested as it likes, and under these keys of the harness:

- ``"fits"``: its training runs, ``{name: FitResult}``: the harness writes their history (one
  table, each row with its run and seed), reports their divergences, draws their curves
  (``<module>.png``: each history column per epoch, a band over the seeds) and says in one line
  each how their training cost went;
- ``"get_one_and_predict"``: ``{"image", "label", "predictions": {model: class}}`` (the labs'
  "get one and predict", with ``"classes"`` to name the classes): drawn, printed, recorded;
- ``"history"``: rows of its own for ``history.csv`` (a loop written out, without ``fit``);
- ``"log"``: lines of its own to print.

A lab with seeds (a ``seeds`` setting) gives its floating-point numbers by the run-axis rule: a
single run's value is a number (a curve: an array), N seeds' values have a leading axis of N;
each becomes a distribution over the seeds (``stats.Dist``; a curve, one per epoch). Integers,
booleans and text are recorded as they are. The notes' checks (the lab's ``NOTES``) are then
worked out from these (``notes``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from experiments.harness import notes, over_seeds, plots
from experiments.harness.contract import Experiment, Outcome
from experiments.harness.stats import Dist
from jaxnets.record import FitResult
from jaxnets.steps import predict

RESERVED = ("fits", "get_one_and_predict", "history", "log")


def outcome(experiment: Experiment, config: Any, returned: Mapping[str, Any], folder: Path) -> Outcome:
    """The ``Outcome`` of a lab's run that ``returned`` this, its plots drawn into ``folder``."""
    seed, seeds = getattr(config, "seed", 0), getattr(config, "seeds", None)
    fits: dict[str, FitResult] = dict(returned.get("fits", {}))
    metrics = {k: measured(v, seeds) for k, v in returned.items() if k not in RESERVED}
    log = [_cost_line(name, fit) for name, fit in fits.items()]
    if sample := returned.get("get_one_and_predict"):
        metrics["get_one_and_predict"], line = _get_one_and_predict(sample, folder)
        log.append(line)
    log += list(returned.get("log", []))
    if any(f.rows for f in fits.values()):  # (a fit of 0 epochs has no curve)
        _draw(folder / f"{experiment.name}.png", fits, experiment.title)
    tag = len(fits) > 1
    history = [
        {**({"run": k} if tag else {}), **row} for k, f in fits.items() for row in over_seeds.rows(f, seed)
    ]
    history += list(returned.get("history", []))
    diverged = {n: d for k, f in fits.items() for n, d in over_seeds.divergences(f, k, seed).items()}
    return Outcome(history, metrics, notes.checks_of(experiment.notes, metrics, fits), diverged, log)


def measured(value: Any, seeds: int | None) -> Any:
    """``value`` as ``result.json`` records it: floating-point numbers of a lab with ``seeds`` as
    distributions over them (the run-axis rule), everything else as plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): measured(v, seeds) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [measured(v, seeds) for v in value]
    if isinstance(value, Dist | str | bool | int) or value is None:
        return value
    array = np.asarray(value)
    if array.dtype.kind != "f" or seeds is None:
        return array.tolist()
    if seeds == 1 or array.ndim == 0:  # a single run: each number its own distribution of one
        return Dist((float(array),)) if array.ndim == 0 else [measured(v, seeds) for v in array]
    return Dist(tuple(array.tolist())) if array.ndim == 1 else [Dist(tuple(c)) for c in array.T.tolist()]


def get_one_and_predict(test: Any, models: Mapping[str, FitResult], seed: int) -> dict[str, Any]:
    """The labs' "get one and predict" as ``run`` returns it: a test image drawn with ``seed``,
    its label, and each model's predicted class (the first seed's, for several)."""
    x, y = test
    i = int(np.random.default_rng(seed).integers(len(x)))
    predictions = {
        name: int(predict(fit.run(0).state, x[i : i + 1]).argmax()) for name, fit in models.items()
    }
    return {"index": i, "image": np.asarray(x[i]), "label": int(y[i]), "predictions": predictions}


def _cost_line(name: str, fit: FitResult) -> str:
    first, last = (_said(over_seeds.first(fit, "train_loss")), _said(over_seeds.last(fit, "train_loss")))
    valid = (
        f"; valid accuracy {over_seeds.last(fit, 'valid_accuracy'):.4f}"
        if "valid_accuracy" in fit.history
        else ""
    )
    return f"{name}: train cost {first:.6g} → {last:.6g}{valid}"


def _said(d: Dist) -> Dist | float:
    """A distribution as the cost line says it: its one value where no seed's is finite (inf)."""
    return d.values[0] if d.n == 0 and len(d.values) == 1 else d


def _get_one_and_predict(sample: Mapping[str, Any], folder: Path) -> tuple[dict[str, Any], str]:
    """The labs' "get one and predict": drawn, and recorded and said without its image."""
    names = sample.get("classes")
    label, predictions = int(sample["label"]), {k: int(v) for k, v in sample["predictions"].items()}
    name = (lambda c: str(names[c])) if names else str
    plot = plots.prediction(
        folder / "get_one_and_predict.png",
        np.asarray(sample["image"]),
        name(label),
        {k: name(v) for k, v in predictions.items()},
        title=f"Get one and predict (test image #{sample['index']})",
    )
    said = (
        ", ".join(f"{k} {name(v)}" for k, v in predictions.items())
        if len(predictions) > 1
        else name(next(iter(predictions.values())))
    )
    line = f"get one and predict: test image #{sample['index']}: Label: {name(label)}  Prediction: {said}"
    return {"index": int(sample["index"]), "label": label, "predictions": predictions, "plot": plot}, line


def _draw(path: Path, fits: Mapping[str, FitResult], title: str) -> str:
    """Each history column the fits share (train loss, validation metrics), per epoch: one line
    per run, a band over its seeds."""
    shared = [c for c in next(iter(fits.values())).history if all(c in f.history for f in fits.values())]
    columns = sorted(
        (c for c in shared if c not in ("epoch", "time_s")), key=lambda c: (not c.endswith("loss"), c)
    )
    fig, axes = plots.figure(1, len(columns), figsize=(5.2 * len(columns), 4.0), squeeze=False)
    for ax, column in zip(axes[0], columns, strict=True):
        for name, fit in fits.items():
            curve = over_seeds.curve(fit, column)
            plots.band_line(
                ax, np.arange(1, curve.shape[1] + 1), curve, "o-", column.endswith("loss"), ms=3, label=name
            )
        ax.set(
            title=column.replace("_", " "),
            xlabel="epoch",
            yscale="log" if column.endswith("loss") else "linear",
        )
        ax.grid(alpha=0.3)
        if len(fits) > 1:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    return plots.save(fig, path)
