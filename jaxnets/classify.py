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

from jaxnets import losses, plots
from jaxnets.loop import Divergence, histories, train_model
from jaxnets.metrics import classification_metrics
from jaxnets.results import slug
from jaxnets.state import Batch, TrainState
from jaxnets.steps import evaluate, predict


class TrainedClassifier(NamedTuple):
    """A trained classifier: its state, per-epoch history, metrics on the held-out set, its
    divergence, and the per-step training metrics (``steps["loss"]``: every step's batch loss)."""

    state: TrainState
    history: list[dict[str, float]]
    held_out: dict[str, float]
    diverged: Divergence | None
    steps: dict[str, np.ndarray]


def train_classifier(
    model: nn.Module,
    tx: optax.GradientTransformation,
    train: Batch,
    held_out: Batch,
    epochs: int,
    batch_size: int = 100,
    seed: int = 0,
    **fit_kwargs: Any,
) -> TrainedClassifier:
    """Train ``model`` on ``train`` with cross-entropy (shuffled, drop_last), then evaluate it on
    ``held_out`` (BatchNorm running averages, no dropout). ``fit_kwargs`` go to ``loop.fit``."""
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
    return TrainedClassifier(
        fitted.state, fitted.history, evaluate(fitted.state, held_out), fitted.diverged, fitted.steps
    )


def train_each(
    setups: Mapping[str, tuple[nn.Module, optax.GradientTransformation]],
    train: Batch,
    held_out: Batch,
    epochs: int,
    batch_size: int = 100,
    seed: int = 0,
    checkpoint_dir: Path | None = None,
    **fit_kwargs: Any,
) -> dict[str, TrainedClassifier]:
    """``train_classifier`` for each named (model, optimizer) on the same data, seed and batches:
    the labs' side-by-side comparisons, where only the model or the optimizer changes. With
    ``checkpoint_dir``, each run keeps its checkpoints in a sub-folder named after it."""
    return {
        name: train_classifier(
            model,
            tx,
            train,
            held_out,
            epochs,
            batch_size,
            seed,
            desc=name,
            checkpoint_dir=None if checkpoint_dir is None else checkpoint_dir / slug(name),
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


def plot_runs(path: Path, runs: Mapping[str, TrainedClassifier], title: str) -> str:
    """Each run's training cost per epoch beside its held-out accuracy (``plots.runs_summary``)."""
    return plots.runs_summary(
        path,
        {k: ([h["epoch"] for h in r.history], [h["train_loss"] for h in r.history]) for k, r in runs.items()},
        {k: r.held_out["accuracy"] for k, r in runs.items()},
        title=title,
    )


def history(runs: Mapping[str, TrainedClassifier], tag: str = "run") -> list[dict[str, Any]]:
    """The runs' history rows in one list, each tagged with its run's name under ``tag``."""
    return histories({k: r.history for k, r in runs.items()}, tag)
