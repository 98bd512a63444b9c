"""Training engine: one ``TrainState`` pytree, jitted ``train_step``/``eval_step``, a whole epoch
in one compiled call (``lax.scan`` over shuffled batches), and ``fit`` to run epochs with a
progress bar, validation and divergence detection.

Usage on your own model and data::

    state = create_train_state(model, optax.adam(1e-3), x[:1], key, loss_fn=losses.cross_entropy,
                               metrics_fn=classification_metrics)
    state, metrics = train_step(state, (x_batch, y_batch))
    metrics = eval_step(state, (x_test, y_test))

Models take ``(x, train: bool)``; the loss is ``loss_fn(outputs, targets)``.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import chex
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn
from flax.errors import ScopeParamShapeError
from flax.training import train_state
from tqdm.auto import tqdm

from jaxnets import checkpoint, losses
from jaxnets.errors import InputError
from jaxnets.parallel import Mesh, constrain_batch, data_mesh, mesh_of, replicate

Batch = tuple[jax.Array, jax.Array]
Metrics = dict[str, jax.Array]
MetricsFn = Callable[[jax.Array, jax.Array], Metrics]


def no_metrics(outputs: jax.Array, targets: jax.Array) -> Metrics:
    """No metrics beyond the loss (regression)."""
    return {}


def classification_metrics(logits: jax.Array, labels: jax.Array) -> Metrics:
    """Accuracy of argmax predictions against integer labels."""
    return {"accuracy": losses.accuracy(logits, labels)}


def binary_metrics(probs: jax.Array, targets: jax.Array) -> Metrics:
    """Accuracy of probabilities thresholded at 0.5 against 0/1 targets."""
    return {"accuracy": losses.binary_accuracy(probs, targets)}


def logit_binary_metrics(logits: jax.Array, targets: jax.Array) -> Metrics:
    """Accuracy of one logit per example (sigmoid(logit) > 0.5) against 0/1 targets."""
    return {"accuracy": losses.logit_accuracy(logits, targets)}


class TrainState(train_state.TrainState):
    """Everything a training run changes, as one pytree.

    Adds to Flax's ``TrainState`` (step, params, opt_state, apply_fn, tx): the BatchNorm running
    averages, a PRNG key from which each step's dropout key is derived, and (static) the loss,
    metrics and L2 coefficient, so ``train_step(state, batch)`` needs nothing else, and the shape
    of one example and the dtype the model was initialised on, to check batches against.
    """

    batch_stats: Any = flax.struct.field(default_factory=dict)
    key: jax.Array | None = None
    loss_fn: losses.Loss = flax.struct.field(pytree_node=False, default=losses.cross_entropy)
    metrics_fn: MetricsFn = flax.struct.field(pytree_node=False, default=no_metrics)
    l2: float = flax.struct.field(pytree_node=False, default=0.0)
    example_shape: tuple[int, ...] | None = flax.struct.field(pytree_node=False, default=None)
    input_dtype: str | None = flax.struct.field(pytree_node=False, default=None)


def create_train_state(
    model: nn.Module,
    tx: optax.GradientTransformation,
    example_input: jax.Array,
    key: jax.Array,
    loss_fn: losses.Loss = losses.cross_entropy,
    metrics_fn: MetricsFn = no_metrics,
    l2: float = 0.0,
) -> TrainState:
    """Initialise ``model`` on ``example_input`` and wrap it with optimizer ``tx``.

    ``l2`` adds l2·ΣW² (kernels only) to the training loss, the notes' explicit regulariser.
    """
    init_key, state_key = jax.random.split(key)
    variables = model.init({"params": init_key}, example_input, train=False)
    return TrainState.create(
        apply_fn=_apply_fn(model),
        params=variables["params"],
        tx=tx,
        batch_stats=variables.get("batch_stats", {}),
        key=state_key,
        loss_fn=loss_fn,
        metrics_fn=metrics_fn,
        l2=l2,
        example_shape=tuple(jnp.shape(example_input)[1:]),
        input_dtype=jnp.result_type(example_input).name,
    )


def _apply_fn(model: nn.Module) -> Callable:
    """``model.apply``, the same object for equal modules: ``apply_fn`` is static under jit, and a
    bound method equals another only for the very same module instance, so without this every
    new (but equal) module would recompile the steps."""
    try:
        return _canonical_apply(model)
    except TypeError:  # a module with unhashable fields (e.g. a list of widths)
        return model.apply


@functools.cache
def _canonical_apply(model: nn.Module) -> Callable:
    return model.apply


def _variables(state: TrainState, params: Any) -> dict[str, Any]:
    if state.batch_stats:
        return {"params": params, "batch_stats": state.batch_stats}
    return {"params": params}


def _check_batch(batch: Batch, state: TrainState | None = None) -> Batch:
    """Fail early, at trace time, on a batch that is not (inputs, targets) of equal length, or
    whose inputs do not fit ``state`` (see ``_check_inputs``)."""
    if not (isinstance(batch, tuple | list) and len(batch) == 2):
        got = f"one array of shape {jnp.shape(batch)}" if hasattr(batch, "shape") else type(batch).__name__
        raise InputError(f"a batch must be a tuple (inputs, targets), got {got}")
    x, y = batch
    if jnp.ndim(x) == 0 or jnp.ndim(y) == 0 or jnp.shape(x)[0] != jnp.shape(y)[0]:
        raise InputError(
            f"inputs and targets must have the same leading (batch) size, got shapes "
            f"{jnp.shape(x)} and {jnp.shape(y)}"
        )
    return _check_inputs(x, state), y


def _check_inputs(x: jax.Array, state: TrainState | None) -> jax.Array:
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


def _apply(state: TrainState, variables: dict[str, Any], x: jax.Array, **kwargs: Any) -> Any:
    """``state.apply_fn``, with inputs whose shape does not fit the parameters reported as such."""
    try:
        return state.apply_fn(variables, x, **kwargs)
    except ScopeParamShapeError as e:
        shape = state.example_shape
        init = f"(N, {', '.join(map(str, shape))})" if shape is not None else "another shape"
        raise InputError(
            f"inputs of shape {jnp.shape(x)} do not fit the model, which was initialised on inputs of "
            f"shape {init}: pass inputs of that shape ({str(e).split(' (https')[0]})"
        ) from None


def _train_step(state: TrainState, batch: Batch, rng: jax.Array | None = None):
    x, y = _check_batch(batch, state)
    if rng is None:
        rng = jax.random.fold_in(state.key, state.step)

    def loss_of(params):
        outputs, updates = _apply(
            state, _variables(state, params), x, train=True, rngs={"dropout": rng}, mutable=["batch_stats"]
        )
        loss = state.loss_fn(outputs, y)
        total = loss + state.l2 * losses.l2_penalty(params) if state.l2 else loss
        return total, (loss, outputs, updates)

    (_, (loss, outputs, updates)), grads = jax.value_and_grad(loss_of, has_aux=True)(state.params)
    new_state = state.apply_gradients(grads=grads, batch_stats=updates.get("batch_stats", state.batch_stats))
    return new_state, {"loss": loss, **state.metrics_fn(outputs, y)}


train_step = jax.jit(_train_step, donate_argnums=0)
train_step.__doc__ = """One optimizer step on ``batch = (inputs, targets)``: returns ``(state, metrics)``.

BatchNorm uses (and updates) batch statistics; dropout is on, with key ``rng`` or, by default,
``fold_in(state.key, state.step)``. Metrics (``loss`` and ``state.metrics_fn``'s) are those of the
batch before the update. The input state is donated: use the returned one.
"""


@partial(jax.jit, static_argnames=("mesh",))
def eval_step(state: TrainState, batch: Batch, mesh: Mesh | None = None) -> Metrics:
    """Metrics of ``batch`` in evaluation mode (BN running averages, no dropout); no state change.
    With a ``mesh`` (see ``jaxnets.parallel``), the batch is split over its devices."""
    x, y = constrain_batch(_check_batch(batch, state), mesh)
    outputs = _apply(state, _variables(state, state.params), x, train=False)
    return {"loss": state.loss_fn(outputs, y), **state.metrics_fn(outputs, y)}


@jax.jit
def predict(state: TrainState, x: jax.Array) -> jax.Array:
    """Model outputs for ``x`` in evaluation mode."""
    return _apply(state, _variables(state, state.params), _check_inputs(x, state), train=False)


def _train_on(
    state: TrainState, data: Batch, idx: jax.Array, mesh: Mesh | None = None
) -> tuple[TrainState, Metrics]:
    """One training step on the examples of ``data`` at indices ``idx``, split over ``mesh``."""
    x, y = data
    return _train_step(state, constrain_batch((x[idx], y[idx]), mesh))


def _check_batch_size(batch_size: int, n: int) -> None:
    if not 0 < batch_size <= n:
        raise InputError(
            f"batch size {batch_size} does not fit a data set of {n} examples: use a batch size from 1 to {n}"
        )


def epoch_batches(n: int, key: jax.Array, batch_size: int, shuffle: bool = True) -> jax.Array:
    """The example indices of one epoch's batches, (n // batch_size, batch_size): a permutation
    drawn with ``key`` (or 0..n-1), the last partial batch dropped."""
    _check_batch_size(batch_size, n)
    steps = n // batch_size
    order = jax.random.permutation(key, n) if shuffle else jnp.arange(n)
    return order[: steps * batch_size].reshape(steps, batch_size)


@partial(jax.jit, static_argnames=("batch_size", "shuffle", "mesh"), donate_argnames=("state",))
def train_epoch(
    state: TrainState,
    data: Batch,
    key: jax.Array,
    batch_size: int,
    shuffle: bool = True,
    mesh: Mesh | None = None,
) -> tuple[TrainState, Metrics]:
    """One epoch as one compiled call: shuffle with ``key``, drop the last partial batch, scan.
    With a ``mesh``, each batch is split over its devices (data parallel; pass state and data
    replicated on it, see ``jaxnets.parallel``).

    Returns the new state and per-step metrics (arrays of length ``len(data) // batch_size``).
    """
    x, y = _check_batch(data, state)
    batches = epoch_batches(x.shape[0], key, batch_size, shuffle)
    steps = batches.shape[0]

    state, metrics = jax.lax.scan(lambda state, idx: _train_on(state, (x, y), idx, mesh), state, batches)
    chex.assert_tree_shape_prefix(metrics, (steps,))
    return state, metrics


def evaluate(state: TrainState, data: Batch, batch_size: int = 1000) -> dict[str, float]:
    """Mean metrics over the whole of ``data`` (every example, remainder included), split over
    the devices of the mesh the state is replicated on, if any."""
    mesh = mesh_of(state.params)
    x, y = data if mesh is None else replicate(data, mesh)
    n = len(x)
    totals: dict[str, jax.Array] = {}
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        for name, value in eval_step(state, (x[start:stop], y[start:stop]), mesh).items():
            totals[name] = totals.get(name, 0.0) + value * (stop - start)
    return {name: float(total) / n for name, total in jax.device_get(totals).items()}


@jax.jit
def _all_finite(tree: Any) -> jax.Array:
    return jnp.all(jnp.array([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]))


class Divergence(NamedTuple):
    """Where training first produced a non-finite loss or parameters."""

    epoch: int
    step: int
    reason: str


class FitResult(NamedTuple):
    """The outcome of ``fit``: final state, per-epoch rows, per-step metrics, divergence."""

    state: TrainState
    history: list[dict[str, float]]
    steps: dict[str, np.ndarray]
    diverged: Divergence | None


def fit(
    state: TrainState,
    train: Batch,
    epochs: int,
    batch_size: int,
    key: jax.Array,
    valid: Batch | None = None,
    shuffle: bool = True,
    stop_on_divergence: bool = True,
    progress: bool | None = None,
    desc: str = "train",
    on_epoch: Callable[[int, TrainState, dict[str, float]], bool | None] | None = None,
    mesh: Mesh | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
) -> FitResult:
    """Train for ``epochs`` epochs; evaluate on ``valid`` after each one.

    History rows hold ``epoch`` (1-based), ``train_<metric>`` (mean of the epoch's steps, each
    measured before its update, as the labs print it), ``valid_<metric>`` and ``time_s``. Metrics
    reach the host once per epoch. A non-finite loss or parameter is recorded in ``diverged``; the
    run stops there unless ``stop_on_divergence`` is False. ``on_epoch(epoch, state, row)`` is
    called after each epoch; returning True stops the run (see ``early_stopping``).
    ``progress=None`` shows a bar on a terminal only. Training is data parallel over ``mesh``
    (default: all local devices): state and data are replicated on it and each batch is split
    over its devices.

    With ``checkpoint_dir``, the state and the run so far are saved there after every epoch
    (see ``jaxnets.checkpoint``), and a run that finds a checkpoint there goes on from it, to
    the same result as if it had never stopped; one that had finished returns at once. Callbacks
    keep no saved state: ``on_epoch`` sees only the epochs trained after a restore.
    """
    if epochs < 0:
        raise InputError(f"epochs must be >= 0, got {epochs}")
    x, _ = _check_batch(train, state)
    _check_batch_size(batch_size, len(x))
    mesh = data_mesh() if mesh is None else mesh
    state = replicate(state, mesh, copy=True)  # train_epoch donates it; the caller's stays usable
    train, valid = replicate((train, valid), mesh)
    signature = {
        "examples": len(x),
        "batch_size": batch_size,
        "shuffle": shuffle,
        "key": np.asarray(jax.random.key_data(key)).tolist(),
    }
    manager = None if checkpoint_dir is None else checkpoint.open_manager(checkpoint_dir)
    done, record = 0, {"history": [], "steps": {}, "diverged": None, "stopped": False}
    bar = None
    try:
        if manager is not None and (restored := checkpoint.restore(manager, state, signature)):
            done, state, record = restored
            if done > epochs:
                raise InputError(
                    f"the checkpoint in {checkpoint_dir} is at epoch {done}, past the {epochs} asked for"
                )
        history: list[dict[str, float]] = record["history"]
        steps = {k: [v] for k, v in record["steps"].items()}
        diverged = Divergence(**record["diverged"]) if record["diverged"] else None
        bar = tqdm(
            [] if record["stopped"] else range(done + 1, epochs + 1),
            desc=desc,
            initial=done,
            total=epochs,
            disable=None if progress is None else not progress,
            leave=False,
        )
        for epoch in bar:
            start = time.perf_counter()
            state, step_metrics = train_epoch(
                state, train, jax.random.fold_in(key, epoch), batch_size, shuffle, mesh
            )
            step_metrics = jax.device_get(step_metrics)
            row: dict[str, float] = {"epoch": epoch}
            row.update({f"train_{k}": float(np.mean(v)) for k, v in step_metrics.items()})
            if valid is not None:
                row.update({f"valid_{k}": v for k, v in evaluate(state, valid).items()})
            row["time_s"] = time.perf_counter() - start
            history.append(row)
            for name, values in step_metrics.items():
                steps.setdefault(name, []).append(np.asarray(values))
            bar.set_postfix(loss=f"{row['train_loss']:.4g}")
            stop = False
            if diverged is None:
                diverged = _divergence(epoch, step_metrics["loss"], state)
                stop = diverged is not None and stop_on_divergence
            if not stop and on_epoch is not None:
                stop = bool(on_epoch(epoch, state, row))
            if manager is not None:
                record = {
                    "history": history,
                    "steps": {k: np.concatenate(v) for k, v in steps.items()},
                    "diverged": diverged._asdict() if diverged else None,
                    "stopped": stop,
                    "signature": signature,
                }
                checkpoint.save(manager, epoch, state, record)
            if stop:
                break
    finally:
        if bar is not None:
            bar.close()
        if manager is not None:
            manager.close()  # waits for the save in flight
    return FitResult(state, history, {k: np.concatenate(v) for k, v in steps.items()}, diverged)


def _divergence(epoch: int, step_losses: np.ndarray, state: TrainState) -> Divergence | None:
    steps_per_epoch = len(step_losses)
    bad = np.flatnonzero(~np.isfinite(step_losses))
    if bad.size:
        return Divergence(epoch, (epoch - 1) * steps_per_epoch + int(bad[0]) + 1, "loss")
    if not bool(_all_finite(state.params)):
        return Divergence(epoch, epoch * steps_per_epoch, "params")
    return None


def _descend(
    loss_fn: Callable[[Any], jax.Array],
    params: Any,
    tx: optax.GradientTransformation,
    steps: int,
    keep_path: bool = False,
) -> tuple[Any, Any]:
    """``steps`` optimizer steps on ``loss_fn(params)`` as one ``lax.scan`` (to be traced inside
    a jit). Returns the final parameters and each step's loss (before its update), paired with
    each step's parameters when ``keep_path``."""

    def body(carry, _):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), ((loss, params) if keep_path else loss)

    (params, _), per_step = jax.lax.scan(body, (params, tx.init(params)), length=steps)
    return params, per_step


def minimize(
    loss_fn: Callable[[Any], jax.Array], params: Any, tx: optax.GradientTransformation, steps: int
) -> tuple[Any, np.ndarray, Any]:
    """Minimise ``loss_fn(params)`` for ``steps`` optimizer steps in one compiled scan.

    For problems with no model or data batches (a likelihood, a plain pytree of parameters).
    Returns the final parameters, each step's loss (before its update) and each step's
    parameters (the path taken, stacked along a leading axis).
    """
    params, (losses_, path) = jax.jit(lambda p: _descend(loss_fn, p, tx, steps, keep_path=True))(params)
    return params, np.asarray(losses_), jax.device_get(path)


@partial(jax.jit, static_argnames=("model", "tx", "steps", "loss_fn"))
def fit_full_batch(
    model: nn.Module,
    tx: optax.GradientTransformation,
    data: Batch,
    steps: int,
    keys: jax.Array,
    loss_fn: losses.Loss = losses.binary_cross_entropy,
) -> tuple[Any, jax.Array]:
    """Full-batch training of a plain model (no BatchNorm or Dropout) from every key in ``keys``
    at once: each key initialises one copy, and all copies take ``steps`` optimizer steps on the
    whole of ``data`` in one compiled, vmapped scan, as the labs' ``for step in range(10001)``.

    Returns the final parameters and each step's loss (before its update), both with a leading
    axis of ``len(keys)``.
    """
    x, y = _check_batch(data)

    def one_run(key):
        params = model.init(key, x)["params"]
        return _descend(lambda p: loss_fn(model.apply({"params": p}, x), y), params, tx, steps)

    params, step_losses = jax.vmap(one_run)(keys)
    chex.assert_shape(step_losses, (keys.shape[0], steps))
    return params, step_losses


def train_model(
    model: nn.Module,
    tx: optax.GradientTransformation,
    train: Batch,
    epochs: int,
    batch_size: int | None = None,
    seed: int = 0,
    loss_fn: losses.Loss = losses.cross_entropy,
    metrics_fn: MetricsFn = no_metrics,
    l2: float = 0.0,
    **fit_kwargs: Any,
) -> FitResult:
    """Initialise ``model`` from ``seed`` and ``fit`` it; ``batch_size=None`` is full batch.

    The seed's key is split into one for the parameters and dropout and one for shuffling.
    """
    x, y = jnp.asarray(train[0]), jnp.asarray(train[1])
    init_key, data_key = jax.random.split(jax.random.key(seed))
    state = create_train_state(model, tx, x[:1], init_key, loss_fn, metrics_fn, l2)
    return fit(state, (x, y), epochs, batch_size or len(x), data_key, **fit_kwargs)


def early_stopping(patience: int, metric: str = "valid_loss") -> Callable[..., bool]:
    """An ``on_epoch`` callback for ``fit``: stop once ``metric`` has not improved for
    ``patience`` epochs. Its ``best`` dict holds the best epoch, value and (host copy) state."""
    best: dict[str, Any] = {"epoch": 0, "value": float("inf"), "state": None}

    def callback(epoch: int, state: TrainState, row: dict[str, float]) -> bool:
        if best["state"] is None or row[metric] < best["value"]:  # the first epoch, even if nan
            best.update(epoch=epoch, value=row[metric], state=jax.device_get(state))
        return epoch - best["epoch"] >= patience

    callback.best = best
    return callback


def epoch_table(
    columns: tuple[str, ...] = ("train_loss", "valid_loss", "valid_accuracy"),
    print_fn: Callable[[str], None] = print,
) -> Callable[..., None]:
    """An ``on_epoch`` callback for ``fit`` that prints one row per epoch, as fastai's
    ``Learner.fit`` does: epoch, the chosen history columns, and the epoch's time."""
    header = ["epoch", *columns, "time"]
    widths = [max(len(h), 10) for h in header]
    printed = []

    def callback(epoch: int, state: TrainState, row: dict[str, float]) -> None:
        if not printed:  # the first epoch this run trains (later than 1 after a restore)
            printed.append(epoch)
            print_fn("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        cells = [
            str(epoch),
            *(f"{row[c]:.6f}" if c in row else "-" for c in columns),
            f"{row['time_s']:.2f}s",
        ]
        print_fn("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))

    return callback
