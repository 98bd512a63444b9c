"""What XLA:CPU runs many times slower inside a compiled loop (the ``lax.scan`` of an epoch,
jax-ml/jax#12868), written as what it runs at full speed there: a convolution as patches and one
matmul (``conv_as_matmul``, a drop-in for ``nn.Conv(..., conv_general_dilated=...)``) and a max
pool whose windows tile its input as a max over a reshape (``max_pool_tiled``, for
``nn.max_pool(x, window, strides=window)``). The same parameters and numbers to float rounding.
Nothing uses them behind a model's back: a model written with them scans fast on CPU, one
written with XLA's own ops is trained by ``fit`` as a loop of its compiled step there.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax


def conv_as_matmul(
    lhs: jax.Array,
    rhs: jax.Array,
    window_strides: Sequence[int],
    padding: str | Sequence[tuple[int, int]],
    lhs_dilation: Sequence[int] | None = None,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers: lax.ConvDimensionNumbers | None = None,
    feature_group_count: int = 1,
    precision: lax.PrecisionLike = None,
    **kwargs: Any,
) -> jax.Array:
    """A 2-D NHWC/HWIO convolution as one matmul over its patches ("im2col"), a drop-in for
    ``lax.conv_general_dilated`` in ``nn.Conv(..., conv_general_dilated=conv_as_matmul)``.

    Why: XLA:CPU runs convolutions many times slower inside a compiled loop (a ``lax.scan`` of an
    epoch, jax-ml/jax#12868) than called on their own, and those of small feature maps with many
    channels far below its matmul speed even outside one (a 3×3 conv on 2×2×256 maps: ~7
    GFLOP/s against ~160 for a matmul). As kh·kw shifted slices and one matmul, the same
    arithmetic runs at matmul speed in a loop too. Same parameters, same result up to the order
    of float additions. A convolution it does not take (not 2-D, grouped, dilated, negative
    padding) runs as ``lax.conv_general_dilated``, with a warning saying why.
    """
    plain = _plain_conv(lhs, rhs, padding, lhs_dilation, rhs_dilation, dimension_numbers, feature_group_count)
    if plain is not True or kwargs:
        why = plain if plain is not True else f"arguments {', '.join(kwargs)}"
        warnings.warn(
            f"conv_as_matmul: {why}; this convolution runs as lax.conv_general_dilated", stacklevel=2
        )
        return lax.conv_general_dilated(
            lhs,
            rhs,
            window_strides,
            padding,
            lhs_dilation,
            rhs_dilation,
            dimension_numbers,
            feature_group_count,
            precision=precision,
            **kwargs,
        )
    kh, kw, c_in, c_out = rhs.shape
    if isinstance(padding, str):
        padding = lax.padtype_to_pads(lhs.shape[1:3], (kh, kw), window_strides, padding)
    x = jnp.pad(lhs, ((0, 0), *padding, (0, 0)))
    sh, sw = window_strides
    ho, wo = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
    patches = jnp.concatenate(
        [
            x[:, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw, :]
            for i in range(kh)
            for j in range(kw)
        ],
        axis=-1,
    )  # (N, ho, wo, kh·kw·c_in), ordered as the HWIO kernel's first three axes
    return lax.dot_general(patches, rhs.reshape(kh * kw * c_in, c_out), (((3,), (0,)), ((), ())), precision)


_NHWC = ((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))  # lhs, rhs, out specs of NHWC/HWIO/NHWC (nn.Conv's)


def _plain_conv(lhs, rhs, padding, lhs_dilation, rhs_dilation, dimension_numbers, groups) -> bool | str:
    """True for a convolution ``conv_as_matmul`` takes; else why not."""
    if lhs.ndim != 4 or rhs.ndim != 4:
        return f"a {lhs.ndim - 2}-D convolution (it takes 2-D ones)"
    if dimension_numbers is None:  # lax's default: NCHW/OIHW
        return "dimension_numbers not given (lax's default is NCHW/OIHW; nn.Conv gives NHWC/HWIO)"
    dn = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
    if (tuple(dn.lhs_spec), tuple(dn.rhs_spec), tuple(dn.out_spec)) != _NHWC:
        return "dimensions other than NHWC/HWIO (nn.Conv's)"
    if groups != 1:
        return f"feature_group_count={groups}"
    if any(d != 1 for d in (*(lhs_dilation or ()), *(rhs_dilation or ()))):
        return "a dilated convolution"
    if not isinstance(padding, str) and any(p < 0 for pair in padding for p in pair):
        return f"negative padding {tuple(map(tuple, padding))}"
    return True


def max_pool_tiled(x: jax.Array, window: Sequence[int]) -> jax.Array:
    """``nn.max_pool(x, window, strides=window)`` (NHWC, windows that tile the input, no
    padding) as a max over a reshape: the same values, and its gradient to each window's first
    maximum, as XLA's. Why: XLA:CPU runs max pooling's backward pass (``select_and_scatter``)
    many times slower inside a compiled loop; this one runs at the speed of a reshape there."""
    full = (1, *window, *(1,) * (x.ndim - 1 - len(window)))
    return _tiled_max(x, full, tuple(x.shape))


@partial(jax.custom_vjp, nondiff_argnums=(1, 2))
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


def _tiled_max_fwd(x: jax.Array, window: tuple[int, ...], shape: tuple[int, ...]):
    w = _windows(x, window)
    return w.max(axis=-1), jnp.argmax(w, axis=-1)  # each window's first maximum, as XLA's own


def _tiled_max_bwd(window: tuple[int, ...], shape: tuple[int, ...], first: jax.Array, g: jax.Array):
    hot = (jnp.arange(math.prod(window)) == first[..., None]).astype(g.dtype) * g[..., None]  # (out…, window)
    d = len(window)
    out = hot.shape[:d]
    hot = hot.reshape(*out, *window).transpose([i for k in range(d) for i in (k, d + k)])
    hot = hot.reshape([o * w for o, w in zip(out, window, strict=True)])
    return (jnp.pad(hot, [(0, n - m) for n, m in zip(shape, hot.shape, strict=True)]),)


_tiled_max.defvjp(_tiled_max_fwd, _tiled_max_bwd)
