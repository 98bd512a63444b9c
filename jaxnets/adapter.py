"""How the steps call a linen module: its train/eval flag by any of its usual names, the RNG
streams it draws from in training, and Flax's errors about them as one line each.

Models take ``(x, train: bool)``; a flag named ``training``, ``is_training`` or
``deterministic`` is set to match, and a model without one runs the same either way.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
from flax import linen as nn
from flax.errors import InvalidRngError, ScopeParamShapeError

from jaxnets.errors import InputError

# The names a module's train/eval flag goes by, and whether it means "training" (True) or its
# opposite (``deterministic``, as Flax's Dropout names it).
TRAIN_FLAGS = {"train": True, "training": True, "is_training": True, "deterministic": False}


def apply_fn(model: nn.Module) -> Callable:
    """``model.apply`` taking ``train=`` whatever the model calls its flag: the same object for
    equal modules, since ``apply_fn`` is static under jit (a bound method equals another only
    for the very same module instance, so every new but equal module would compile the steps
    again)."""
    try:
        return _canonical_apply(model)
    except TypeError:  # a module with unhashable fields (e.g. a list of widths)
        return _canonical_apply.__wrapped__(model)


@functools.cache
def _canonical_apply(model: nn.Module) -> Callable:
    if train_flag(model) == "train":
        return model.apply

    def apply(variables: Any, x: Any, train: bool = False, **kwargs: Any) -> Any:
        return model.apply(variables, x, **kwargs, **flag(model, train))

    apply.module = model  # what it applies (for checkpoint signatures)
    return apply


def module_of(apply: Callable) -> nn.Module:
    """The Flax module an ``apply_fn`` applies."""
    return getattr(apply, "module", None) or apply.__self__


def train_flag(model: nn.Module) -> str | None:
    """The name of the module's train/eval flag (``TRAIN_FLAGS``; "train" where it takes any
    keyword), None where it takes none; ``InputError`` where its call needs an argument jaxnets
    cannot give."""
    params = inspect.signature(type(model).__call__).parameters
    needed = [
        n
        for n, p in list(params.items())[2:]  # after self and the inputs
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and n not in TRAIN_FLAGS
    ]
    if needed:
        raise InputError(
            f"{type(model).__name__}.__call__ needs {', '.join(needed)} besides its inputs, and jaxnets "
            f"calls model(x) with a train/eval flag only: name that flag one of {', '.join(TRAIN_FLAGS)}, "
            f"or give the other arguments defaults"
        )
    for name in TRAIN_FLAGS:
        if name in params:
            return name
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return "train"
    return None


def flag(model: nn.Module, train: bool) -> dict[str, bool]:
    """The keyword that puts ``model`` in training (or evaluation) mode: {} where it has no flag."""
    name = train_flag(model)
    return {} if name is None else {name: train if TRAIN_FLAGS[name] else not train}


def streams(names: Any) -> tuple[str, ...]:
    """``rng_streams`` checked: one or more distinct stream names, "params" (initialisation's)
    not among them."""
    names = (names,) if isinstance(names, str) else tuple(names)
    if not names or not all(isinstance(n, str) and n and n != "params" for n in names):
        raise InputError(
            f"rng_streams must name the streams the model draws from in training, e.g. ('dropout',) or "
            f"('dropout', 'noise') ('params' is initialisation's), got {names!r}"
        )
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise InputError(
            f"rng_streams names {', '.join(map(repr, twice))} more than once ({names!r}): name each stream "
            f"once (each gets its own key every step)"
        )
    return names


def call(
    apply: Callable,
    variables: dict[str, Any],
    x: Any,
    *,
    rng_streams: tuple[str, ...] = (),
    example_shape: tuple[int, ...] | None = None,
    **kwargs: Any,
) -> Any:
    """``apply(variables, x, **kwargs)``, with Flax's errors for a stream the call does not pass
    and for inputs whose shape does not fit the parameters said in one line each."""
    try:
        return apply(variables, x, **kwargs)
    except InvalidRngError as e:
        text = str(e)
        stream = text.split('"')[1] if text.count('"') >= 2 else None
        fix = (
            f"create the state with rng_streams={(*rng_streams, stream)!r}"
            if stream
            else "name it in create_train_state's rng_streams"
        )
        raise InputError(
            f"the model draws random numbers from the RNG stream {stream or '(see below)'!r}, which the "
            f"state does not pass (it passes {', '.join(rng_streams) or 'none'}): {fix} "
            f"(Flax: {text.split(' (https')[0]})"
        ) from None
    except ScopeParamShapeError as e:
        shape = f"(N, {', '.join(map(str, example_shape))})" if example_shape is not None else "another shape"
        raise InputError(
            f"inputs of shape {jnp.shape(x)} do not fit the model, which was initialised on inputs of "
            f"shape {shape}: pass inputs of that shape ({str(e).split(' (https')[0]})"
        ) from None
