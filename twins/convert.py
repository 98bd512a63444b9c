"""A twin's PyTorch parameters as jaxnets' Flax pytree, every layout change written out: what
the step-for-step tests start both sides from."""

from __future__ import annotations

from typing import Any

import numpy as np


def array(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


def linear(layer: Any) -> dict[str, np.ndarray]:
    """``nn.Linear``'s weight (out, in) → a Flax kernel (in, out) (``x @ kernel``); bias as is."""
    out = {"kernel": array(layer.weight).T}
    if layer.bias is not None:
        out["bias"] = array(layer.bias)
    return out


def linears(layers: list[Any]) -> dict[str, dict[str, np.ndarray]]:
    """The ``nn.Linear`` layers of an MLP, in order, as ``jaxnets.models.MLP``'s Linear_0, Linear_1, …"""
    return {f"Linear_{i}": linear(layer) for i, layer in enumerate(layers)}


def conv(layer: Any) -> dict[str, np.ndarray]:
    """``nn.Conv2d``'s weight (out, in, h, w) → a Flax kernel (h, w, in, out) (NHWC convolutions)."""
    out = {"kernel": array(layer.weight).transpose(2, 3, 1, 0)}
    if layer.bias is not None:
        out["bias"] = array(layer.bias)
    return out


def batch_norm(layer: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``nn.BatchNorm1d/2d`` → Flax ``BatchNorm``'s params (weight → scale, bias) and batch_stats
    (running_mean → mean, running_var → var). (PyTorch's momentum m is Flax's 1 − m; jaxnets' models
    set it so.)"""
    return (
        {"scale": array(layer.weight), "bias": array(layer.bias)},
        {"mean": array(layer.running_mean), "var": array(layer.running_var)},
    )
