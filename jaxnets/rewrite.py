"""A model's program rewritten into operations XLA:CPU runs fast: the same numbers, other ops.

XLA:CPU runs convolutions and the backward pass of max pooling several times slower inside a
compiled loop (the ``lax.scan`` of an epoch) than called on their own (jax-ml/jax#12868), and
convolutions of small maps with many channels below its matmul speed even outside one. Traced
once, a model's program has every plain 2-D convolution replaced by ``models.conv_as_matmul``
(patches and one matmul) and every non-overlapping max pool by a max over a reshape (the
gradient to the first maximum of each window, as XLA's own): a small CNN's epoch as a scan then
runs ~5× faster than with XLA's convolutions, and faster than a loop of its step. The state
applies its model through this on CPU (``TrainState.matmul_convs``); other convolutions
(grouped, dilated, 1-D or 3-D) and pools are left as they are.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.extend import core as jex_core

from jaxnets.models import conv_as_matmul

_NHWC = ((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))  # lhs, rhs, out specs of NHWC/HWIO/NHWC (nn.Conv's)


def matmul_convs(fun: Callable) -> Callable:
    """``fun`` with its plain 2-D convolutions as patch matmuls and its non-overlapping max pools
    as reshapes; its arguments are arrays, or pytrees of them (keys included)."""

    @functools.wraps(fun)
    def rewritten(*args: Any) -> Any:
        closed, shape = jax.make_jaxpr(fun, return_shape=True)(*args)
        out = _run(closed.jaxpr, closed.consts, jax.tree.leaves(args))
        return jax.tree.unflatten(jax.tree.structure(shape), out)

    return rewritten


def holds(jaxpr: Any, *primitives: str) -> bool:
    """Whether ``jaxpr`` or any program inside it (a jit, a scan's body, …) uses one of ``primitives``."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name in primitives:
            return True
        for value in eqn.params.values():
            for inner in value if isinstance(value, tuple | list) else (value,):
                inner = getattr(inner, "jaxpr", inner)
                if hasattr(inner, "eqns") and holds(inner, *primitives):
                    return True
    return False


def rewrites(jaxpr: Any) -> bool:
    """Whether ``matmul_convs`` would replace anything in ``jaxpr`` (or in a jit inside it): a
    plain 2-D convolution or a tiling max pool."""
    for eqn in jaxpr.eqns:
        name, avals = eqn.primitive.name, [v.aval for v in eqn.invars]
        if (
            (name == "conv_general_dilated" and _plain_conv(eqn.params, *avals))
            or (name == "reduce_window_max" and _tiling_pool(eqn.params, *avals))
            or (name in ("pjit", "jit") and rewrites(eqn.params["jaxpr"].jaxpr))
        ):
            return True
    return False


def _run(jaxpr: Any, consts: list[Any], args: list[Any]) -> list[Any]:
    """``jax.core.eval_jaxpr``, with the rewrites (also inside nested jits)."""
    env: dict[Any, Any] = dict(zip(jaxpr.constvars, consts, strict=True))
    env.update(zip(jaxpr.invars, args, strict=True))

    def read(v: Any) -> Any:
        return v.val if isinstance(v, jex_core.Literal) else env[v]

    for eqn in jaxpr.eqns:
        ins = [read(v) for v in eqn.invars]
        name, out = eqn.primitive.name, None
        if name == "conv_general_dilated":
            out = _conv(eqn.params, *ins)
        elif name == "reduce_window_max":
            out = _pool(eqn.params, *ins)
        elif name in ("pjit", "jit"):
            inner = eqn.params["jaxpr"]
            out = _run(inner.jaxpr, inner.consts, ins)
        if out is None:
            with eqn.ctx.manager:
                out = eqn.primitive.bind(*ins, **eqn.primitive.get_bind_params(eqn.params))
        env.update(zip(eqn.outvars, out if eqn.primitive.multiple_results else [out], strict=True))
    return [read(v) for v in jaxpr.outvars]


def _conv(p: dict[str, Any], lhs: jax.Array, rhs: jax.Array) -> jax.Array | None:
    """A plain NHWC 2-D convolution as ``conv_as_matmul``; None for any other."""
    if not _plain_conv(p, lhs, rhs):
        return None
    return conv_as_matmul(lhs, rhs, p["window_strides"], p["padding"], precision=p["precision"])


def _plain_conv(p: dict[str, Any], lhs: Any, rhs: Any) -> bool:
    """A 2-D NHWC/HWIO convolution without groups or dilation (arrays or their avals)."""
    dn = p["dimension_numbers"]
    return (
        lhs.ndim == 4
        and (tuple(dn.lhs_spec), tuple(dn.rhs_spec), tuple(dn.out_spec)) == _NHWC
        and p["feature_group_count"] == 1
        and p["batch_group_count"] == 1
        and all(d == 1 for d in (*p["lhs_dilation"], *p["rhs_dilation"]))
        and p["preferred_element_type"] in (None, lhs.dtype)
        and lhs.dtype == rhs.dtype
    )


def _pool(p: dict[str, Any], x: jax.Array) -> jax.Array | None:
    """A max pool whose windows tile the input as a max over a reshape; None for any other."""
    return _tiled_max(x, tuple(p["window_dimensions"]), tuple(x.shape)) if _tiling_pool(p, x) else None


def _tiling_pool(p: dict[str, Any], x: Any) -> bool:
    """A max pool whose windows tile its floating-point input: window = stride, no padding or dilation."""
    return (
        tuple(p["window_dimensions"]) == tuple(p["window_strides"])
        and all(lo == hi == 0 for lo, hi in p["padding"])
        and all(d == 1 for d in (*p["base_dilation"], *p["window_dilation"]))
        and jnp.issubdtype(x.dtype, jnp.floating)
    )


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def _tiled_max(x: jax.Array, window: tuple[int, ...], shape: tuple[int, ...]) -> jax.Array:
    return _windows(x, window).max(axis=-1)


def _windows(x: jax.Array, window: tuple[int, ...]) -> jax.Array:
    """``x`` as (out_1, …, out_d, w_1·…·w_d): each window's values last, in row-major order."""
    out = [n // w for n, w in zip(x.shape, window, strict=True)]
    x = x[tuple(slice(0, o * w) for o, w in zip(out, window, strict=True))]  # VALID: drop the rest
    x = x.reshape([d for o, w in zip(out, window, strict=True) for d in (o, w)])
    d = len(window)
    x = x.transpose([*range(0, 2 * d, 2), *range(1, 2 * d, 2)])
    return x.reshape(*out, -1)


def _tiled_max_fwd(
    x: jax.Array, window: tuple[int, ...], shape: tuple[int, ...]
) -> tuple[jax.Array, jax.Array]:
    w = _windows(x, window)
    return w.max(axis=-1), jnp.argmax(w, axis=-1)  # each window's first maximum, as XLA's own


def _tiled_max_bwd(
    window: tuple[int, ...], shape: tuple[int, ...], first: jax.Array, g: jax.Array
) -> tuple[jax.Array]:
    hot = (jnp.arange(math.prod(window)) == first[..., None]).astype(g.dtype) * g[..., None]  # (out…, window)
    d = len(window)
    out = hot.shape[:d]
    hot = hot.reshape(*out, *window).transpose([i for k in range(d) for i in (k, d + k)])
    hot = hot.reshape([o * w for o, w in zip(out, window, strict=True)])
    return (jnp.pad(hot, [(0, n - m) for n, m in zip(shape, hot.shape, strict=True)]),)


_tiled_max.defvjp(_tiled_max_fwd, _tiled_max_bwd)
