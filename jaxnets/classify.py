"""Image classifiers the labs' way: train with cross-entropy, measure accuracy on held-out
images only, and "get one and predict" (a random test image, its label and the prediction)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn

from jaxnets import losses, plots, results
from jaxnets.train import (
    Batch,
    Divergence,
    TrainState,
    classification_metrics,
    evaluate,
    predict,
    train_model,
)


class Classified(NamedTuple):
    """A trained classifier: its state, per-epoch history, metrics on the held-out set, and the
    per-step training metrics (``steps["loss"]``: every step's batch loss)."""

    state: TrainState
    history: list[dict[str, float]]
    test: dict[str, float]
    diverged: Divergence | None
    steps: dict[str, np.ndarray]


def train_classifier(
    model: nn.Module,
    tx: optax.GradientTransformation,
    train: Batch,
    test: Batch,
    epochs: int,
    batch_size: int = 100,
    seed: int = 0,
    **fit_kwargs: Any,
) -> Classified:
    """Train ``model`` on ``train`` with cross-entropy (shuffled, drop_last), then evaluate it on
    ``test`` (BatchNorm running averages, no dropout). ``fit_kwargs`` go to ``train.fit``."""
    fitted = train_model(
        model,
        tx,
        train,
        epochs,
        batch_size,
        seed,
        loss_fn=losses.cross_entropy,
        metrics_fn=classification_metrics,
        **fit_kwargs,
    )
    return Classified(
        fitted.state, fitted.history, evaluate(fitted.state, test), fitted.diverged, fitted.steps
    )


def train_each(
    setups: Mapping[str, tuple[nn.Module, optax.GradientTransformation]],
    train: Batch,
    test: Batch,
    epochs: int,
    batch_size: int = 100,
    seed: int = 0,
    checkpoint_dir: Path | None = None,
    **fit_kwargs: Any,
) -> dict[str, Classified]:
    """``train_classifier`` for each named (model, optimizer) on the same data, seed and batches:
    the labs' side-by-side comparisons, where only the model or the optimizer changes. With
    ``checkpoint_dir``, each run keeps its checkpoints in a sub-folder named after it."""
    return {
        name: train_classifier(
            model,
            tx,
            train,
            test,
            epochs,
            batch_size,
            seed,
            desc=name,
            checkpoint_dir=None if checkpoint_dir is None else checkpoint_dir / results.slug(name),
            **fit_kwargs,
        )
        for name, (model, tx) in setups.items()
    }


def get_one_and_predict(
    states: Mapping[str, TrainState],
    test: Batch,
    seed: int,
    out: Path | None = None,
    class_names: Sequence[str] | None = None,
    title: str = "Get one and predict",
) -> dict[str, Any]:
    """Pick one test example at random (with ``seed``) and predict its class with each state.

    Returns ``{"index", "label", "predictions": {name: class}}``; with ``out``, also saves the
    image with its label and the predictions as a PNG there.
    """
    x, y = test
    i = int(np.random.default_rng(seed).integers(len(x)))
    label = int(y[i])
    preds = {name: int(jnp.argmax(predict(s, x[i : i + 1]), axis=-1)[0]) for name, s in states.items()}
    result: dict[str, Any] = {"index": i, "label": label, "predictions": preds}
    if out is not None:
        names = class_names or [str(c) for c in range(max(label, *preds.values()) + 1)]
        result["plot"] = plots.prediction(
            out,
            np.asarray(x[i]),
            names[label],
            {k: names[v] for k, v in preds.items()},
            title=f"{title} (test image #{i})",
        )
    return result


def describe(sample: Mapping[str, Any], class_names: Sequence[str] | None = None) -> str:
    """One line like the labs print: ``Label: 8  Prediction: 8``, per model."""

    def name(c: int) -> str:
        return str(class_names[c]) if class_names else str(c)

    preds = ", ".join(f"{model} {name(pred)}" for model, pred in sample["predictions"].items())
    label = name(sample["label"])
    return f"get one and predict: test image #{sample['index']}: Label: {label}  Prediction: {preds}"


def summarize(
    runs: Mapping[str, Classified],
    test: Batch,
    seed: int,
    out: Path,
    plot_name: str,
    title: str,
    tag: str = "run",
    class_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """What every lab reports for classifiers trained side by side on one data set: a plot of
    their training curves and test accuracies (``<plot_name>.png``), "get one and predict" on one
    random test image (``get_one_and_predict.png``), and the experiment result's parts: history
    rows tagged with ``tag``, test metrics, the printed line and the runs that diverged."""
    sample = get_one_and_predict(
        {k: r.state for k, r in runs.items()}, test, seed, out / "get_one_and_predict.png", class_names
    )
    plots.runs_summary(
        out / f"{plot_name}.png",
        {k: ([h["epoch"] for h in r.history], [h["train_loss"] for h in r.history]) for k, r in runs.items()},
        {k: r.test["accuracy"] for k, r in runs.items()},
        title=title,
    )
    return {
        "history": [{tag: k, **row} for k, r in runs.items() for row in r.history],
        "metrics": {"test": {k: r.test for k, r in runs.items()}, "get_one_and_predict": sample},
        "log": [describe(sample, class_names)],
        "diverged": results.diverged_runs({k: r.diverged for k, r in runs.items()}),
    }
