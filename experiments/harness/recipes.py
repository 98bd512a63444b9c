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

from experiments.harness import over_seeds, plots
from experiments.harness.results import slug
from experiments.harness.stats import Dist
from jaxnets import losses
from jaxnets.loop import train_model
from jaxnets.metrics import classification_metrics
from jaxnets.record import Divergence, FitResult
from jaxnets.state import Batch, TrainState
from jaxnets.steps import predict


class TrainedClassifier(NamedTuple):
    """A classifier trained from one or several seeds (``seed``, ``seed + 1``, …): the fit (a
    stacked state for several seeds, see ``loop.FitResult``) and each metric on the held-out set
    over the seeds."""

    fitted: FitResult
    held_out: dict[str, Dist]
    seed: int

    @property
    def first_seed_state(self) -> TrainState:
        """The first seed's trained state (for "get one and predict")."""
        return self.fitted.run(0).state


def settings(cfg: Any) -> dict[str, Any]:
    """A lab config's training settings, as ``train_classifier`` and ``train_each`` take them."""
    return {"epochs": cfg.epochs, "batch_size": cfg.batch_size, "seed": cfg.seed, "seeds": cfg.seeds}


def train_classifier(
    model: nn.Module,
    tx: optax.GradientTransformation,
    train: Batch,
    held_out: Batch,
    *,
    epochs: int,
    batch_size: int = 100,
    seed: int = 0,
    seeds: int = 1,
    **fit_kwargs: Any,
) -> TrainedClassifier:
    """Train ``model`` on ``train`` with cross-entropy (shuffled, drop_last), then evaluate it on
    ``held_out`` (BatchNorm running averages, no dropout); with ``seeds`` > 1, that many seeds as
    one program. ``fit_kwargs`` go to ``loop.fit``."""
    fitted = train_model(
        model,
        tx,
        train,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        loss_fn=losses.cross_entropy,
        metrics_fn=classification_metrics,
        seeds=seeds,
        **fit_kwargs,
    )
    return TrainedClassifier(fitted, over_seeds.evaluate(fitted, held_out), seed)


def train_each(
    setups: Mapping[str, tuple[nn.Module, optax.GradientTransformation]],
    train: Batch,
    held_out: Batch,
    *,
    epochs: int,
    batch_size: int = 100,
    seed: int = 0,
    seeds: int = 1,
    checkpoint_dir: Path | None = None,
    **fit_kwargs: Any,
) -> dict[str, TrainedClassifier]:
    """``train_classifier`` for each named (model, optimizer) on the same data, seeds and batches:
    the labs' side-by-side comparisons, where only the model or the optimizer changes. With
    ``checkpoint_dir``, each run keeps its checkpoints in a sub-folder named after it."""
    return {
        name: train_classifier(
            model,
            tx,
            train,
            held_out,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            seeds=seeds,
            desc=name,
            checkpoint_dir=None if checkpoint_dir is None else checkpoint_dir / slug(name),
            **fit_kwargs,
        )
        for name, (model, tx) in setups.items()
    }


def get_one_and_predict(
    states: Mapping[str, TrainState | TrainedClassifier],
    test: Batch,
    *,
    seed: int,
    out: Path | None = None,
    class_names: Sequence[str] | None = None,
    title: str = "Get one and predict",
) -> dict[str, Any]:
    """Pick one test example at random (with ``seed``) and predict its class with each state.

    Returns ``{"index", "label", "predictions": {name: class}}``; with ``out``, also saves the
    image with its label and the predictions as a PNG there.
    """
    states = {k: getattr(s, "first_seed_state", s) for k, s in states.items()}  # a classifier: its first seed
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

    predictions = sample["predictions"]
    if len(predictions) == 1:  # one model: its prediction alone, as the labs print it
        preds = name(next(iter(predictions.values())))
    else:
        preds = ", ".join(f"{model} {name(pred)}" for model, pred in predictions.items())
    label = name(sample["label"])
    return f"get one and predict: test image #{sample['index']}: Label: {label}  Prediction: {preds}"


def plot_runs(path: Path, runs: Mapping[str, TrainedClassifier], title: str) -> str:
    """Each run's training cost per epoch (a band over seeds) beside its held-out accuracy."""
    return plots.runs_summary(
        path,
        {
            k: (
                np.arange(1, over_seeds.curve(r.fitted, "train_loss").shape[1] + 1),
                over_seeds.curve(r.fitted, "train_loss"),
            )
            for k, r in runs.items()
        },
        {k: r.held_out["accuracy"] for k, r in runs.items()},
        title=title,
    )


def history(runs: Mapping[str, TrainedClassifier], tag: str = "run") -> list[dict[str, Any]]:
    """The runs' history rows in one table, each tagged with its run's name under ``tag`` and
    with its seed."""
    return [{tag: k, **row} for k, r in runs.items() for row in over_seeds.rows(r.fitted, r.seed)]


def divergences(runs: Mapping[str, TrainedClassifier]) -> dict[str, Divergence | None]:
    """Each run's divergence, per seed (``loop.FitResult.divergences``)."""
    return {
        name: d for k, r in runs.items() for name, d in over_seeds.divergences(r.fitted, k, r.seed).items()
    }
