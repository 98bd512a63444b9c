"""Matplotlib figures written straight to PNG files (no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

Curve = tuple[Sequence[float], Sequence[float]]


def save(fig: plt.Figure, path: Path) -> str:
    """Save ``fig`` as PNG at ``path`` (folders created) and close it; returns the file name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def curves(
    path: Path,
    series: Mapping[str, Curve],
    title: str,
    xlabel: str = "epoch",
    ylabel: str = "loss",
    logy: bool = False,
    markers: bool = False,
) -> str:
    """Line plot of several (x, y) series. Non-finite points (a diverged run) are left out and
    the first one is marked, so inf/nan never breaks the axis."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, (x, y) in series.items():
        x, y = np.asarray(x, float), np.asarray(y, float)
        ok = np.isfinite(y) & ((y > 0) if logy else True)
        ax.plot(x[ok], y[ok], "o-" if markers else "-", ms=3, label=label)
        bad = np.flatnonzero(~np.isfinite(y))
        if bad.size:
            ax.axvline(x[bad[0]], color="red", ls=":", lw=1)
            ax.annotate(
                f"non-finite from {x[bad[0]]:g}",
                (x[bad[0]], 0.5),
                xycoords=("data", "axes fraction"),
                rotation=90,
                color="red",
                fontsize=8,
                ha="right",
            )
    if logy:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if len(series) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    return save(fig, path)
