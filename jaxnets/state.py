"""The training state: one pytree holding everything a run changes.

    state = create_train_state(model, optax.adam(1e-3), x[:1], jax.random.key(0),
                               loss_fn=losses.cross_entropy, metrics_fn=metrics.classification_metrics)

A state holds one run, or N runs (seeds) stacked along a leading axis of every array
(``create_train_states``, ``state.runs == N``). The rule every function of the training API
keeps: a single state gives values without a run axis, a stacked state values with a leading
axis of N (docs/library.md).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn
from flax.training import train_state

from jaxnets import adapter, losses
from jaxnets.errors import InputError
from jaxnets.metrics import MetricsFn, no_metrics
from jaxnets.parallel import is_key

Batch = tuple[jax.Array, jax.Array]
COLLECTIONS = ("params", "batch_stats")  # the variable collections a state carries


class TrainState(train_state.TrainState):
    """Everything a training run changes, as one pytree.

    Adds to Flax's ``TrainState`` (step, params, opt_state, apply_fn, tx): the BatchNorm running
    averages, a PRNG key from which each step's dropout key is derived, and (static) the loss,
    metrics and L2 coefficient and the RNG streams the model draws from in training (``dropout``,
    and any others it names), so ``train_step(state, batch)`` needs nothing else, and the shape
    of one example and the dtype the model was initialised on, to check batches against.

    ``runs``: the number of independent runs (seeds) stacked along a leading axis of every array
    (``create_train_states``); None for a single run.
    """

    batch_stats: Any = flax.struct.field(default_factory=dict)
    key: jax.Array | None = None
    loss_fn: losses.Loss = flax.struct.field(pytree_node=False, default=losses.cross_entropy)
    metrics_fn: MetricsFn = flax.struct.field(pytree_node=False, default=no_metrics)
    l2: float = flax.struct.field(pytree_node=False, default=0.0)
    example_shape: tuple[int, ...] | None = flax.struct.field(pytree_node=False, default=None)
    input_dtype: str | None = flax.struct.field(pytree_node=False, default=None)
    runs: int | None = flax.struct.field(pytree_node=False, default=None)
    rng_streams: tuple[str, ...] = flax.struct.field(pytree_node=False, default=("dropout",))

    def run(self, k: int) -> TrainState:
        """Run ``k`` of a stacked state, as a single-run state."""
        if self.runs is None:
            raise InputError("run(k) picks one run of a stacked state; this state holds a single run")
        if not -self.runs <= k < self.runs:  # (an index past the end would be clamped, silently)
            raise InputError(f"run({k}) of a state of {self.runs} runs: k must be from 0 to {self.runs - 1}")
        return jax.tree.map(lambda a: a[k], self).replace(runs=None)


def as_key(key: Any, what: str = "key") -> jax.Array:
    """``key`` as a typed PRNG key array: a key of ``jax.random.key`` as it is, one of
    ``jax.random.PRNGKey`` (uint32 raw data, last axis 2) wrapped; stacks of either alike."""
    if is_key(key):
        return key
    raw = jax.eval_shape(lambda: jax.random.key_data(jax.random.key(0))).shape  # (2,) for threefry
    if getattr(key, "dtype", None) == jnp.uint32 and jnp.shape(key)[-len(raw) :] == raw:
        return jax.random.wrap_key_data(key)
    raise InputError(
        f"{what} must be a JAX PRNG key (jax.random.key(seed) or jax.random.PRNGKey(seed), or a stack of "
        f"them), got {type(key).__name__} of shape {jnp.shape(key)} and dtype {getattr(key, 'dtype', None)}"
    )


def create_train_state(
    model: nn.Module,
    tx: optax.GradientTransformation,
    example_input: jax.Array,
    key: jax.Array,
    *,
    loss_fn: losses.Loss = losses.cross_entropy,
    metrics_fn: MetricsFn = no_metrics,
    l2: float = 0.0,
    rng_streams: tuple[str, ...] = ("dropout",),
    variables: Mapping[str, Any] | None = None,
) -> TrainState:
    """Initialise ``model`` on inputs like ``example_input`` and wrap it with optimizer ``tx``.

    ``loss_fn(outputs, targets)`` returns one value per example (as optax's losses do) or their
    mean; ``metrics_fn`` likewise, a dict. ``l2`` adds l2·ΣW² (kernels only) to the training
    loss, the notes' explicit regulariser. ``rng_streams``: the streams the model draws from in
    training (``self.make_rng(name)``), each given its own key every step; the first is the
    step's key itself. ``variables``: start from these (``{"params": …, "batch_stats": …}``,
    e.g. weights converted from PyTorch) instead of drawing new ones: checked against the
    model's names, shapes and dtypes, and copied (the caller's arrays stay theirs).
    """
    apply_fn = adapter.apply_fn(model)  # refuses a model whose call takes arguments jaxnets cannot give
    init_key, state_key = jax.random.split(as_key(key))
    shape, dtype = tuple(jnp.shape(example_input)), jnp.result_type(example_input)
    init = _initializer(model, shape, dtype)
    expected = jax.eval_shape(init, init_key)
    _check_collections(model, expected)
    variables = init(init_key) if variables is None else _given(variables, expected)
    return TrainState.create(
        apply_fn=apply_fn,
        params=variables["params"],
        tx=tx,
        batch_stats=variables.get("batch_stats", {}),
        key=state_key,
        loss_fn=loss_fn,
        metrics_fn=metrics_fn,
        l2=l2,
        rng_streams=adapter.streams(rng_streams),
        example_shape=shape[1:],
        input_dtype=np.dtype(dtype).name,
    ).replace(
        # Flax starts at a weakly typed 0, a checkpoint restores a plain int32: the same type
        # from the start, so that a resumed run reuses the compiled epoch instead of compiling it again.
        step=jnp.zeros((), jnp.int32)
    )


def _initializer(model: nn.Module, shape: tuple[int, ...], dtype: Any):
    """``model.init`` as one compiled program (as flax's examples jit it): every parameter drawn
    in one call, instead of op by op, each new shape compiled on its own. The same function for
    equal models and input shapes, so it is compiled once."""
    try:
        return _jitted_init(model, shape, np.dtype(dtype))
    except TypeError:  # a module with unhashable fields (e.g. a list of widths)
        return _jitted_init.__wrapped__(model, shape, np.dtype(dtype))


@functools.cache
def _jitted_init(model: nn.Module, shape: tuple[int, ...], dtype: np.dtype):
    @jax.jit
    def init(key: jax.Array) -> dict[str, Any]:
        variables = model.init({"params": key}, jnp.zeros(shape, dtype), **adapter.flag(model, False))
        return dict(variables)

    return init


def _check_collections(model: nn.Module, expected: Mapping[str, Any]) -> None:
    """A model whose variables live in collections a state does not carry is refused now, not
    at its first step with Flax's error."""
    other = sorted(set(expected) - set(COLLECTIONS))
    if other:
        raise InputError(
            f"{type(model).__name__} keeps variables in the collection(s) {', '.join(map(repr, other))}, "
            f"and a state carries only {' and '.join(COLLECTIONS)}: keep its trained variables in params, "
            f"its running statistics in batch_stats"
        )


def _given(variables: Any, expected: Mapping[str, Any]) -> dict[str, Any]:
    """``variables`` as new arrays (the caller's stay untouched, never donated), or an error
    naming the first that differs from the model's own (``expected``, shapes) in name or shape,
    or is not a float of the model's precision or more (float64 weights train in float64 under
    ``jax_enable_x64``)."""
    if not isinstance(variables, Mapping):
        raise InputError(
            f"variables must be a dict of collections, {{'params': …, 'batch_stats': …}} as model.init "
            f"returns it, got {type(variables).__name__}"
        )
    unknown = sorted(k for k in variables if k not in expected and jax.tree.leaves(variables[k]))
    if unknown:
        raise InputError(
            f"the given variables have the collection(s) {', '.join(map(repr, unknown))}, which the model "
            f"does not (it has {', '.join(map(repr, expected))}): give the collections of model.init's"
        )
    got = {jax.tree_util.keystr(p): a for p, a in jax.tree_util.tree_leaves_with_path(dict(variables))}
    want = {jax.tree_util.keystr(p): a for p, a in jax.tree_util.tree_leaves_with_path(dict(expected))}
    for name in sorted(got.keys() | want.keys()):
        mine, theirs = want.get(name), got.get(name)
        if mine is None or theirs is None or jnp.shape(theirs) != mine.shape:
            raise InputError(
                f"the given variables do not fit the model at {name}: the model has "
                f"{mine.shape if mine is not None else 'no such variable'}, the given ones "
                f"{jnp.shape(theirs) if theirs is not None else 'none'} (give "
                "{'params': …, 'batch_stats': …} with the names and shapes of model.init's)"
            )
        dtype = jnp.result_type(theirs)
        if not jnp.issubdtype(dtype, jnp.floating) or jnp.finfo(dtype).bits < jnp.finfo(mine.dtype).bits:
            raise InputError(
                f"the given variables at {name} are {dtype}, the model's {mine.dtype}: convert them "
                f"(e.g. .astype(np.{mine.dtype})) before passing them"
            )
    return jax.tree.map(
        lambda a: jnp.array(a, copy=True), {k: dict(variables[k]) for k in expected if k in variables}
    )


def create_train_states(
    model: nn.Module,
    tx: optax.GradientTransformation,
    example_input: jax.Array,
    keys: jax.Array,
    *,
    loss_fn: losses.Loss = losses.cross_entropy,
    metrics_fn: MetricsFn = no_metrics,
    l2: float = 0.0,
    rng_streams: tuple[str, ...] = ("dropout",),
) -> TrainState:
    """One state per key in ``keys``, stacked along a leading run axis (``state.runs``): run k is
    what ``create_train_state(..., keys[k])`` makes, so N seeds train as one program."""
    keys = as_key(keys, "keys")
    if keys.ndim != 1 or keys.shape[0] < 1:
        raise InputError(f"keys must be a stack of one or more keys (one per run), got shape {keys.shape}")

    def one(key: jax.Array) -> TrainState:
        return create_train_state(
            model,
            tx,
            example_input,
            key,
            loss_fn=loss_fn,
            metrics_fn=metrics_fn,
            l2=l2,
            rng_streams=rng_streams,
        )

    return jax.vmap(one)(keys).replace(runs=int(keys.shape[0]))


def run_count(state: TrainState) -> int:
    """How many runs the state holds: its stacked runs, or 1."""
    return state.runs or 1


def with_run_axis(state: TrainState, tree: Any) -> Any:
    """``tree`` (the state's arrays, or per-run values) with a leading run axis: as it is for a
    stacked state, one of size 1 added for a single run."""
    return tree if state.runs else jax.tree.map(lambda a: a[None], tree)


def run_keys(state: TrainState, key: jax.Array) -> jax.Array:
    """``key`` (new-style or legacy) checked to hold one key per run: N keys for N stacked runs,
    one (or a stack of one) for a single run."""
    key = as_key(key)
    if not state.runs and jnp.shape(key) == (1,):
        return key[0]
    if (state.runs and jnp.shape(key) != (state.runs,)) or (not state.runs and jnp.shape(key) != ()):
        want = f"{state.runs} keys (one per run)" if state.runs else "one key"
        raise InputError(
            f"a state of {run_count(state)} run(s) needs {want}, got keys of shape {jnp.shape(key)}"
        )
    return key


def one_run(state: TrainState) -> TrainState:
    """A single run's state (for shapes): the state itself, or run 0 of a stacked one."""
    return state if state.runs is None else jax.eval_shape(lambda s: s.run(0), state)


def module_of(state: TrainState) -> nn.Module:
    """The Flax module the state applies."""
    return adapter.module_of(state.apply_fn)


def variables(state: TrainState, params: Any) -> dict[str, Any]:
    """The Flax variables to apply the model with: ``params`` and the state's BatchNorm statistics."""
    if state.batch_stats:
        return {"params": params, "batch_stats": state.batch_stats}
    return {"params": params}


def apply(state: TrainState, variables: dict[str, Any], x: jax.Array, **kwargs: Any) -> Any:
    """``state.apply_fn``, with Flax's errors said in one line (``adapter.call``)."""
    return adapter.call(
        state.apply_fn,
        variables,
        x,
        rng_streams=state.rng_streams,
        example_shape=state.example_shape,
        **kwargs,
    )


def check_optimizer(state: TrainState) -> None:
    """The optimizer state is what ``state.tx`` keeps for these parameters: one made by another
    optimizer, or for another model's parameters, fails here in one line instead of inside
    optax. Shapes only (``jax.eval_shape``), when a step is traced: nothing runs per step."""
    # In a step, a stacked state is seen one run at a time (vmapped): params and opt_state alike.
    expected, actual = jax.eval_shape(state.tx.init, state.params), state.opt_state
    same = jax.tree.structure(expected) == jax.tree.structure(actual) and all(
        jnp.shape(a) == jnp.shape(b)
        for a, b in zip(jax.tree.leaves(expected), jax.tree.leaves(actual), strict=True)
    )
    if not same:
        raise InputError(
            "the state's optimizer state is not the one its optimizer (tx) keeps for its parameters (another "
            "optimizer's, or another model's): make the state with create_train_state, or replace tx and "
            "opt_state together (opt_state=tx.init(params))"
        )
