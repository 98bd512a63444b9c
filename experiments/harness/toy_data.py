"""The notes' small data sets, written out as in the notes, as NumPy arrays, and the fastai
book's order of its 3s and 7s."""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxnets.errors import unknown

Arrays = tuple[np.ndarray, np.ndarray]

A2_X_TRAIN = [[1, 2, 1], [1, 3, 2], [1, 3, 4], [1, 5, 5], [1, 7, 5], [1, 2, 5], [1, 6, 6], [1, 7, 7]]
A2_Y_TRAIN = [2, 2, 2, 1, 1, 1, 0, 0]
A2_X_TEST = [[2, 1, 1], [3, 1, 2], [3, 3, 4]]
A2_Y_TEST = [2, 2, 2]


def softmax_toy() -> tuple[Arrays, Arrays]:
    """Lab 07-1's 3-class toy problem: 8 training and 3 test points with 3 features."""
    return (
        (np.array(A2_X_TRAIN, np.float32), np.array(A2_Y_TRAIN, np.int32)),
        (np.array(A2_X_TEST, np.float32), np.array(A2_Y_TEST, np.int32)),
    )


def exam_scores() -> Arrays:
    """Lab 07-1's regression data: three quiz scores → final score (5 students)."""
    x = np.array([[73, 80, 75], [93, 88, 93], [89, 91, 90], [96, 98, 100], [73, 66, 70]], np.float32)
    y = np.array([[152], [185], [180], [196], [142]], np.float32)
    return x, y


def logic_gate(name: str) -> Arrays:
    """The four points of AND, OR or XOR with 0/1 targets of shape (4, 1)."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    ops = {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}
    if name not in ops:
        raise unknown("gate", name, ops)
    return x, ops[name](x[:, 0], x[:, 1]).astype(np.float32)[:, None]


def speed_curve(seed: int) -> Arrays:
    """fastai's roller-coaster speeds: t = 0..19, speed = 3·N(0,1) + 0.75(t - 9.5)² + 1."""
    t = np.arange(20, dtype=np.float32)
    noise = np.random.default_rng(seed).standard_normal(20).astype(np.float32)
    return t, 3 * noise + 0.75 * (t - 9.5) ** 2 + 1


def noisy_line(seed: int, n: int = 20, slope: float = 2.0, intercept: float = 1.0) -> Arrays:
    """Points y = slope·x + intercept + N(0, 1) noise for x evenly spaced in [0, 5]."""
    x = np.linspace(0, 5, n, dtype=np.float32)
    noise = np.random.default_rng(seed).standard_normal(n).astype(np.float32)
    return x[:, None], (slope * x + intercept + noise)[:, None]


def standardize(x: np.ndarray) -> np.ndarray:
    """(x - μ) / σ per column, σ with n - 1 degrees of freedom as ``torch.std``."""
    return (x - x.mean(0)) / x.std(0, ddof=1)


def threes_then_sevens(split: tuple[Any, Any]) -> tuple[Any, Any]:
    """A split of ``mnist_sample`` in the fastai book's order: every 3, then every 7, each in
    MNIST's order (``train_x = torch.cat([stacked_threes, stacked_sevens])``). The book trains on it
    with an unshuffled ``DataLoader``, so the order shapes its curves (after epoch 1 the model has
    just seen 24 batches of 7s)."""
    x, y = split
    order = np.argsort(-np.asarray(y), kind="stable")  # label 1 (a 3) first
    return x[order], y[order]
