"""The training state: one pytree holding everything a run changes, and the checks that a batch
fits the model it was initialised for.

    state = create_train_state(model, optax.adam(1e-3), x[:1], key, loss_fn=losses.cross_entropy,
                               metrics_fn=metrics.classification_metrics)

Models take ``(x, train: bool)`` (a flag named ``training``, ``is_training`` or ``deterministic``
is set to match; a model without one runs the same either way); the loss is
``loss_fn(outputs, targets)``. A batch is ``(inputs, targets)`` or a dict with named keys
(``{"image", "label"}`` as tensorflow-datasets and Grain give it).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax
from flax import linen as nn
from flax.errors import InvalidRngError, ScopeParamShapeError
from flax.training import train_state

from jaxnets import losses, rewrite
from jaxnets.errors import InputError
from jaxnets.metrics import MetricsFn, no_metrics

Batch = tuple[jax.Array, jax.Array]


class TrainState(train_state.TrainState):
    """Everything a training run changes, as one pytree.

    Adds to Flax's ``TrainState`` (step, params, opt_state, apply_fn, tx): the BatchNorm running
    averages, a PRNG key from which each step's dropout key is derived, and (static) the loss,
    metrics and L2 coefficient and the RNG streams the model draws from in training (``dropout``,
    and any others it names), so ``train_step(state, batch)`` needs nothing else, and the shape
    of one example and the dtype the model was initialised on, to check batches against.

    ``runs``: the number of independent runs (seeds) stacked along a leading axis of every array
    (``create_train_states``), which the epoch, evaluation and prediction functions vmap over;
    None for a single run.
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
    matmul_convs: bool = flax.struct.field(pytree_node=False, default=False)

    def run(self, k: int) -> TrainState:
        """Run ``k`` of a stacked state, as a single-run state."""
        if self.runs is None:
            raise InputError("run(k) picks one run of a stacked state; this state holds a single run")
        return jax.tree.map(lambda a: a[k], self).replace(runs=None)


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
    variables: dict[str, Any] | None = None,
    matmul_convs: bool | None = None,
) -> TrainState:
    """Initialise ``model`` on ``example_input`` and wrap it with optimizer ``tx``.

    ``l2`` adds l2·ΣW² (kernels only) to the training loss, the notes' explicit regulariser.
    ``rng_streams``: the streams the model draws from in training (``self.make_rng(name)``), each
    given its own key every step; the first is the step's key itself. ``variables``: start from
    these (``{"params": …, "batch_stats": …}``, e.g. weights converted from PyTorch) instead of
    drawing new ones; checked against the model's shapes, and nothing is drawn.
    ``matmul_convs``: run the model's plain 2-D convolutions as patch matmuls and its tiling max
    pools as reshapes (``jaxnets.rewrite``: the same numbers up to float rounding, several times
    faster on XLA:CPU, in a compiled loop most of all); None (the default): on CPU, for a model
    with such a convolution or pool.
    """
    apply_fn = _apply_fn(model)  # refuses a model whose call takes arguments jaxnets cannot give
    init_key, state_key = jax.random.split(key)
    # Only the shape of the input is needed: the initial values do not depend on it, and Flax's
    # lazy_init draws them without running the model's forward pass op by op (each op of which
    # would be compiled on its own; for ResNet-18 that is most of its start-up time).
    example = jax.ShapeDtypeStruct(jnp.shape(example_input), jnp.result_type(example_input))

    def init(key: jax.Array) -> dict[str, Any]:
        return model.lazy_init({"params": key}, example, **_flag(model, False))

    if variables is None:
        variables = init(init_key)
    else:  # only the shapes of the model's own (a trace: no random numbers drawn, nothing compiled)
        variables = _given(variables, jax.eval_shape(init, init_key))
    return TrainState.create(
        apply_fn=apply_fn,
        params=variables["params"],
        tx=tx,
        batch_stats=variables.get("batch_stats", {}),
        key=state_key,
        loss_fn=loss_fn,
        metrics_fn=metrics_fn,
        l2=l2,
        rng_streams=_streams(rng_streams),
        example_shape=tuple(example.shape[1:]),
        input_dtype=example.dtype.name,
        matmul_convs=_matmul_convs(model, example, variables) if matmul_convs is None else bool(matmul_convs),
    ).replace(
        # Flax starts at a weakly typed 0, a checkpoint restores a plain int32: the same type
        # from the start, so that a resumed run reuses the compiled epoch instead of compiling it again.
        step=jnp.zeros((), jnp.int32)
    )


def _matmul_convs(model: nn.Module, example: jax.ShapeDtypeStruct, variables: dict[str, Any]) -> bool:
    """On CPU, whether the model's program holds what ``rewrite.matmul_convs`` replaces (a trace
    of its evaluation: shapes only, nothing runs; once per model, input and variable shapes); a
    model whose program it would leave as it is (dense, or ResNet-18 with its own
    ``conv_as_matmul``) is applied directly."""
    if jax.default_backend() != "cpu":
        return False
    leaves, tree = jax.tree.flatten(variables)
    shapes = tuple(jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)) for a in leaves)
    try:
        return _rewrites(model, example, tree, shapes)
    except TypeError:  # a module with unhashable fields (e.g. a list of widths)
        return _rewrites.__wrapped__(model, example, tree, shapes)


@functools.cache
def _rewrites(model: nn.Module, example: jax.ShapeDtypeStruct, tree: Any, shapes: tuple) -> bool:
    apply = lambda v, x: model.apply(v, x, **_flag(model, False))  # noqa: E731
    program = jax.make_jaxpr(apply)(jax.tree.unflatten(tree, shapes), example)
    return rewrite.rewrites(program.jaxpr)


def _given(variables: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """``variables`` as arrays, or an error naming the first that differs from the model's own
    (``expected``, shapes) in name or shape."""
    given = {k: v for k, v in variables.items() if k in ("params", "batch_stats")}
    got = {jax.tree_util.keystr(p): jnp.shape(a) for p, a in jax.tree_util.tree_leaves_with_path(given)}
    want = {jax.tree_util.keystr(p): a.shape for p, a in jax.tree_util.tree_leaves_with_path(expected)}
    for name in sorted(got.keys() | want.keys()):
        if got.get(name) != want.get(name):
            raise InputError(
                f"the given variables do not fit the model at {name}: the model has "
                f"{want.get(name, 'no such variable')}, the given ones {got.get(name, 'none')} (give "
                "{'params': …, 'batch_stats': …} with the names and shapes of model.init's)"
            )
    return jax.tree.map(jnp.asarray, given)


def run_count(state: TrainState) -> int:
    """How many runs the state holds: its stacked runs, or 1."""
    return state.runs or 1


def with_run_axis(state: TrainState, tree: Any) -> Any:
    """``tree`` (the state's arrays, or per-run values) with a leading run axis: as it is for a
    stacked state, one of size 1 added for a single run."""
    return tree if state.runs else jax.tree.map(lambda a: a[None], tree)


def run_keys(state: TrainState, key: jax.Array) -> jax.Array:
    """``key`` checked to hold one key per run: N keys for N stacked runs, one (or a stack of one)
    for a single run."""
    if not state.runs and jnp.shape(key) == (1,):
        return key[0]
    if state.runs and jnp.shape(key) != (state.runs,):
        raise InputError(
            f"a state of {state.runs} stacked runs needs {state.runs} keys (one per run), "
            f"got shape {jnp.shape(key)}"
        )
    return key


def each_run(state: TrainState) -> list[TrainState]:
    """The runs of a stacked state one by one (``[state]`` for a single run)."""
    return [state] if state.runs is None else [state.run(k) for k in range(state.runs)]


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
    matmul_convs: bool | None = None,
) -> TrainState:
    """One state per key in ``keys``, stacked along a leading run axis (``state.runs``): run k is
    what ``create_train_state(..., keys[k])`` makes, so N seeds train as one program."""

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
            matmul_convs=matmul_convs,
        )

    return jax.vmap(one)(keys).replace(runs=int(keys.shape[0]))


def _apply_fn(model: nn.Module) -> Callable:
    """``model.apply``, the same object for equal modules: ``apply_fn`` is static under jit, and a
    bound method equals another only for the very same module instance, so without this every
    new (but equal) module would recompile the steps. A module whose ``__call__`` takes no
    ``train`` argument (one without BatchNorm or Dropout) gets it, ignored."""
    try:
        return _canonical_apply(model)
    except TypeError:  # a module with unhashable fields (e.g. a list of widths)
        return _canonical_apply.__wrapped__(model)


@functools.cache
def _canonical_apply(model: nn.Module) -> Callable:
    if _train_flag(model) == "train":
        return model.apply

    def apply(variables: Any, x: jax.Array, train: bool = False, **kwargs: Any) -> Any:
        return model.apply(variables, x, **kwargs, **_flag(model, train))

    apply.module = model  # what it applies (for checkpoint signatures)
    return apply


# The names a module's train/eval flag goes by, and whether it means "training" (True) or its
# opposite (``deterministic``, as Flax's Dropout names it).
TRAIN_FLAGS = {"train": True, "training": True, "is_training": True, "deterministic": False}


def _train_flag(model: nn.Module) -> str | None:
    """The name of the module's train/eval flag (``TRAIN_FLAGS``; "train" where it takes any
    keyword), None where it takes none; ``InputError`` where its call needs an argument jaxnets
    cannot give."""
    params = inspect.signature(type(model).__call__).parameters
    for name in TRAIN_FLAGS:
        if name in params:
            return name
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return "train"
    needed = [
        n
        for n, p in list(params.items())[2:]  # after self and the inputs
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if needed:
        raise InputError(
            f"{type(model).__name__}.__call__ needs {', '.join(needed)} besides its inputs, and jaxnets "
            f"calls model(x) with a train/eval flag only: name that flag one of {', '.join(TRAIN_FLAGS)}, "
            f"or give the other arguments defaults"
        )
    return None


def _flag(model: nn.Module, train: bool) -> dict[str, bool]:
    """The keyword that puts ``model`` in training (or evaluation) mode: {} where it has no flag."""
    name = _train_flag(model)
    return {} if name is None else {name: train if TRAIN_FLAGS[name] else not train}


def _streams(names: Any) -> tuple[str, ...]:
    """``rng_streams`` checked: one or more stream names, "params" (initialisation's) not among them."""
    names = (names,) if isinstance(names, str) else tuple(names)
    if not names or not all(isinstance(n, str) and n and n != "params" for n in names):
        raise InputError(
            f"rng_streams must name the streams the model draws from in training, e.g. ('dropout',) or "
            f"('dropout', 'noise') ('params' is initialisation's), got {names!r}"
        )
    return names


def module_of(state: TrainState) -> nn.Module:
    """The Flax module the state applies."""
    return getattr(state.apply_fn, "module", None) or state.apply_fn.__self__


def variables(state: TrainState, params: Any) -> dict[str, Any]:
    """The Flax variables to apply the model with: ``params`` and the state's BatchNorm statistics."""
    if state.batch_stats:
        return {"params": params, "batch_stats": state.batch_stats}
    return {"params": params}


def _one_run(state: TrainState) -> TrainState:
    """A single run's state (for shapes): the state itself, or run 0 of a stacked one."""
    return state if state.runs is None else jax.eval_shape(lambda s: s.run(0), state)


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


def apply(state: TrainState, variables: dict[str, Any], x: jax.Array, **kwargs: Any) -> Any:
    """``state.apply_fn``, with inputs whose shape does not fit the parameters reported as such."""
    try:
        if state.matmul_convs:
            return _matmul_apply(state.apply_fn, variables, x, **kwargs)
        return state.apply_fn(variables, x, **kwargs)
    except InvalidRngError as e:
        stream = str(e).split('"')[1] if '"' in str(e) else "?"
        raise InputError(
            f"the model draws random numbers from the RNG stream {stream!r}, which the state does not "
            f"pass (it passes {', '.join(state.rng_streams)}): create the state with "
            f"rng_streams={(*state.rng_streams, stream)!r}"
        ) from None
    except ScopeParamShapeError as e:
        shape = state.example_shape
        init = f"(N, {', '.join(map(str, shape))})" if shape is not None else "another shape"
        raise InputError(
            f"inputs of shape {jnp.shape(x)} do not fit the model, which was initialised on inputs of "
            f"shape {init}: pass inputs of that shape ({str(e).split(' (https')[0]})"
        ) from None


def _matmul_apply(fn: Callable, variables: dict[str, Any], x: jax.Array, **kwargs: Any) -> Any:
    """``fn(variables, x, **kwargs)`` through ``rewrite.matmul_convs``: the variables, inputs and
    ``rngs`` traced, the other keywords (``train``, ``mutable``) fixed."""
    rngs = kwargs.pop("rngs", None)

    def call(variables: dict[str, Any], x: jax.Array, rngs: Any) -> Any:
        return fn(variables, x, **kwargs, **({} if rngs is None else {"rngs": rngs}))

    return rewrite.matmul_convs(call)(variables, x, rngs)
