"""A batch, as the steps take it: ``(inputs, targets)``, or a dict naming them (``{"image",
"label"}`` as tensorflow-datasets and Grain give it), and the checks that it fits the model a state
was initialised for. They run while a step is traced (costing nothing per step) or once before
training, so a wrong batch is one line, not an XLA error or a plausible wrong number."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxnets import losses
from jaxnets.errors import InputError
from jaxnets.parallel import to_host
from jaxnets.state import Batch, TrainState, apply, one_run, variables

# The keys a dict batch names its inputs and its targets by (tensorflow-datasets and Grain give
# {"image", "label"}), in the order they are looked for.
INPUT_KEYS = ("image", "images", "inputs", "input", "x", "features")
TARGET_KEYS = ("label", "labels", "targets", "target", "y")


def as_pair(data: Any) -> Any:
    """A dict batch or data set with named inputs and targets (``INPUT_KEYS``, ``TARGET_KEYS``)
    as the ``(inputs, targets)`` pair jaxnets works on; anything else as it is."""
    if not isinstance(data, Mapping):
        return data
    x = [k for k in INPUT_KEYS if k in data]
    y = [k for k in TARGET_KEYS if k in data]
    if not x or not y:
        raise InputError(
            f"a dict batch needs its inputs under one of {', '.join(INPUT_KEYS)} and its targets under one "
            f"of {', '.join(TARGET_KEYS)}; it has {', '.join(map(str, data)) or 'no keys'}: rename them, "
            f"or pass (inputs, targets)"
        )
    return data[x[0]], data[y[0]]


def check_batch(batch: Batch, state: TrainState | None = None) -> Batch:
    """Fail early, at trace time, on a batch that is not (inputs, targets) of equal length (or a
    dict naming them, ``as_pair``), or whose inputs do not fit ``state`` (see ``check_inputs``)."""
    batch = as_pair(batch)
    if not (isinstance(batch, tuple | list) and len(batch) == 2):
        got = f"one array of shape {jnp.shape(batch)}" if hasattr(batch, "shape") else type(batch).__name__
        raise InputError(f"a batch must be a tuple (inputs, targets), got {got}")
    x, y = batch
    if jnp.ndim(x) == 0 or jnp.ndim(y) == 0 or jnp.shape(x)[0] != jnp.shape(y)[0]:
        raise InputError(
            f"inputs and targets must have the same leading (batch) size, got shapes "
            f"{jnp.shape(x)} and {jnp.shape(y)}"
        )
    if jnp.shape(x)[0] == 0:
        raise InputError(f"a batch must hold at least one example, got inputs of shape {jnp.shape(x)}")
    return check_inputs(x, state), y


def check_data(state: TrainState, data: Batch, what: str = "the data") -> None:
    """Before training: ``data`` is (inputs, targets) that fit the model (so a wrong validation set
    fails now, not after an epoch), and, for a loss on class ids,
    every label is one of the model's classes (one pass over the labels, not per step)."""
    try:
        x, y = check_batch(data, state)
        classes = class_count(state, x)
    except InputError as e:
        raise InputError(f"{what}: {e}") from None
    if classes is not None:
        losses.check_labels(to_host(y), classes, f"the labels of {what}")  # (gathered from every process)


def class_count(state: TrainState, x: jax.Array) -> int | None:
    """How many classes the model's outputs for inputs like ``x`` score, where its loss takes
    class ids (None otherwise): what a label is checked against. Shapes only: nothing is computed."""
    if state.loss_fn not in losses.CLASS_ID_LOSSES:
        return None
    outputs = jax.eval_shape(lambda s, x: apply(s, variables(s, s.params), x, train=False), one_run(state), x)
    return int(outputs.shape[-1])


def check_inputs(x: jax.Array, state: TrainState | None) -> jax.Array:
    """Integer inputs to a model initialised on floats (raw uint8 images, say), or the reverse,
    are an error rather than a silent cast."""
    if state is not None and state.input_dtype is not None:
        want_float = jnp.issubdtype(state.input_dtype, jnp.floating)
        if jnp.issubdtype(jnp.result_type(x), jnp.floating) != want_float:
            fix = (
                "convert them to floats (uint8 images: jaxnets.data.to_float scales them to [0, 1])"
                if want_float
                else "pass integers, as at initialisation"
            )
            raise InputError(
                f"inputs have dtype {jnp.result_type(x)} but the model was initialised on "
                f"{state.input_dtype} inputs: {fix}"
            )
    return x
