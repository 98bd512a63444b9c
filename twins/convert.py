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
    (running_mean → mean, running_var → var). (``jaxnets.models.BatchNorm`` keeps PyTorch's
    conventions: momentum 0.1, the unbiased running variance.)"""
    return (
        {"scale": array(layer.weight), "bias": array(layer.bias)},
        {"mean": array(layer.running_mean), "var": array(layer.running_var)},
    )


def resnet18(model: Any) -> tuple[dict, dict]:
    """``twins.resnet.cnn_model`` (torchvision's ResNet-18 body, fastai's head) → the params and
    batch_stats of ``jaxnets.models.ResNet18(head="fastai")``: the stem's Conv_0/BatchNorm_0,
    BasicBlock_0…7 (conv1 → Conv_0, bn1 → BatchNorm_0, conv2 → Conv_1, bn2 → BatchNorm_1, the
    downsample's conv and BN → Conv_2, BatchNorm_2), and FastaiHead_0 (its two BatchNorm1d and two
    Linear, in order)."""
    body, head = model[0], model[1]
    params: dict = {"Conv_0": conv(body[0])}
    stats: dict = {}
    params["BatchNorm_0"], stats["BatchNorm_0"] = batch_norm(body[1])
    blocks = [block for stage in body[4:] for block in stage]
    for i, block in enumerate(blocks):
        p: dict = {"Conv_0": conv(block.conv1), "Conv_1": conv(block.conv2)}
        s: dict = {}
        p["BatchNorm_0"], s["BatchNorm_0"] = batch_norm(block.bn1)
        p["BatchNorm_1"], s["BatchNorm_1"] = batch_norm(block.bn2)
        if block.downsample is not None:
            p["Conv_2"] = conv(block.downsample[0])
            p["BatchNorm_2"], s["BatchNorm_2"] = batch_norm(block.downsample[1])
        params[f"BasicBlock_{i}"], stats[f"BasicBlock_{i}"] = p, s
    norms = [m for m in head if type(m).__name__ == "BatchNorm1d"]
    dense = [m for m in head if type(m).__name__ == "Linear"]
    p = {f"Dense_{i}": linear(m) for i, m in enumerate(dense)}
    s = {}
    for i, m in enumerate(norms):
        p[f"BatchNorm_{i}"], s[f"BatchNorm_{i}"] = batch_norm(m)
    params["FastaiHead_0"], stats["FastaiHead_0"] = p, s
    return params, stats
