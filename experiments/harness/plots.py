"""Matplotlib figures written straight to PNG files.

Figures are ``matplotlib.figure.Figure`` objects, not pyplot's: no backend is chosen and no
global state is touched, so importing jaxnets leaves a notebook's inline plots as they were.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from experiments.harness import results
from experiments.harness.stats import Dist

Curve = tuple[Sequence[float], Sequence[float]]


def figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (6.4, 4.2), **kw: Any):
    """A new figure and its axes (``Figure.subplots``), outside pyplot."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kw)


def save(fig: Figure, path: Path) -> str:
    """Save ``fig`` as PNG at ``path`` (folders created); returns the file name. Written to a
    temporary name and renamed (``results.replacing``), so an earlier plot is never left
    half-overwritten. In a multi-process job only process 0 draws and writes it."""
    if jax.process_index() != 0:
        return path.name
    for ax in fig.axes:  # a log axis with nothing positive and finite on it (every run diverged)
        limits = ax.dataLim.get_points()
        if ax.get_yscale() == "log" and not (np.isfinite(limits).all() and limits[1, 1] > 0):
            ax.set_yscale("linear")
    for ax in fig.axes:  # epochs and steps are counted: whole-number ticks, one point not a sliver
        if any(w in ax.get_xlabel().lower() for w in ("epoch", "step")):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            low, high = ax.get_xlim()
            if high - low < 2:
                ax.set_xlim((low + high) / 2 - 1, (low + high) / 2 + 1)
    with results.replacing(path) as tmp:
        fig.tight_layout()
        fig.savefig(tmp, dpi=110, format="png")
    return path.name


def finite_line(
    ax: Axes, x: Sequence[float], y: Sequence[float], fmt: str = "-", logy: bool = False, **kwargs
) -> None:
    """Plot the finite points of (x, y) (positive ones too on a log axis) and mark where the
    first non-finite value (a diverged run) appears, so inf/nan never breaks or empties an axis
    without a word."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(y) & ((y > 0) if logy else True)
    (line,) = ax.plot(x[ok], y[ok], fmt, **kwargs)
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        note = f"{kwargs.get('label') or ''} non-finite from {x[bad[0]]:g}".strip()
        if ok.any():
            ax.axvline(x[bad[0]], color=line.get_color(), ls=":", lw=1)
            ax.annotate(
                note,
                (x[bad[0]], 0.5),
                xycoords=("data", "axes fraction"),
                rotation=90,
                color="red",
                fontsize=8,
                ha="right",
            )
        else:  # nothing finite to draw: say so in the middle of the axes
            y_text = 0.5 - 0.07 * len(ax.texts)
            ax.text(0.5, y_text, note, transform=ax.transAxes, ha="center", color="red", fontsize=9)


def band_line(
    ax: Axes,
    x: Sequence[float],
    y: Sequence[float] | np.ndarray,
    fmt: str = "-",
    logy: bool = False,
    **kwargs,
) -> None:
    """``finite_line`` for one curve; for several seeds' curves (runs × points) their mean with
    a band from the lowest to the highest seed at each point (non-finite values left out)."""
    y = np.asarray(y, float)
    if y.ndim == 1 or len(y) == 1:
        finite_line(ax, x, y.reshape(-1), fmt, logy, **kwargs)
        return
    ok = np.isfinite(y) & ((y > 0) if logy else True)
    masked = np.where(ok, y, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan points stay nan
        mean, low, high = np.nanmean(masked, 0), np.nanmin(masked, 0), np.nanmax(masked, 0)
    label = kwargs.pop("label", None)
    label = f"{label or 'mean'} (band: {len(y)} seeds, min to max)"
    finite_line(ax, x, np.where(ok.any(0), mean, np.nan), fmt, logy, label=label, **kwargs)
    color = ax.lines[-1].get_color() if ax.lines else None
    if len(x) == 1:  # a band over one point has no width: a whisker from the lowest to the highest
        ax.errorbar(x, mean, yerr=[mean - low, high - mean], color=color, capsize=4, lw=1.5)
    else:
        ax.fill_between(np.asarray(x, float), low, high, color=color, alpha=0.2, lw=0)


def curves(
    path: Path,
    series: Mapping[str, Curve],
    title: str,
    xlabel: str = "epoch",
    ylabel: str = "loss",
    logy: bool = False,
    markers: bool = False,
) -> str:
    """Line plot of several (x, y) series, y one curve or one per seed (drawn as a band,
    ``band_line``); non-finite points are left out and marked (``finite_line``)."""
    fig, ax = figure(figsize=(6.4, 4.2))
    for label, (x, y) in series.items():
        band_line(ax, x, y, "o-" if markers else "-", logy, ms=3, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if len(series) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    return save(fig, path)


def prediction(
    path: Path,
    image: np.ndarray,
    label: str,
    predictions: Mapping[str, str],
    title: str = "Get one and predict",
) -> str:
    """One test image with its label and each model's prediction (the labs' "get one and predict")."""
    fig, ax = figure(figsize=(3.6, 3.9 + 0.22 * len(predictions)))
    ax.imshow(np.asarray(image), cmap="gray_r")
    ax.set_xticks([])
    ax.set_yticks([])
    lines = [f"label: {label}"] + [
        f"{name}: {pred}" + ("" if pred == label else "  (wrong)") for name, pred in predictions.items()
    ]
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("\n".join(lines), fontsize=9)
    return save(fig, path)


def decision_regions(
    ax: Axes, probs_fn, x: np.ndarray, y: np.ndarray, title: str, resolution: int = 101
) -> None:
    """Shade where ``probs_fn`` (2-D inputs → P(class 1)) predicts 1 and mark the data points."""
    lo, hi = x.min(0) - 0.5, x.max(0) + 0.5
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.stack([g0.ravel(), g1.ravel()], axis=1).astype(np.float32)
    probs = np.asarray(probs_fn(grid)).reshape(g0.shape)
    ax.contourf(g0, g1, probs, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    ax.contour(g0, g1, probs, levels=[0.5], colors="k", linewidths=1)
    y = np.asarray(y).ravel()
    for cls, marker in ((0, "o"), (1, "s")):
        pts = x[y == cls]
        ax.scatter(
            pts[:, 0], pts[:, 1], marker=marker, s=70, c="white", edgecolors="k", label=f"target {cls}"
        )
    ax.set(title=title, xlabel="x1", ylabel="x2", aspect="equal")


def score_bars(ax: Axes, scores: Mapping[str, float | Dist], label: str) -> None:
    """Each run's final score as a labelled bar; for scores over seeds the mean, with the lowest
    and highest seed as an error bar."""
    names = list(scores)
    dists = [v if isinstance(v, Dist) else Dist((float(v),)) for v in scores.values()]
    values = [d.mean for d in dists]
    spread = np.array([[d.mean - d.min, d.max - d.mean] if d.n > 1 else [0.0, 0.0] for d in dists]).T
    bars = ax.bar(
        range(len(names)),
        np.nan_to_num(values),
        yerr=np.nan_to_num(spread) if spread.any() else None,
        capsize=4,
        color=[f"C{i}" for i in range(len(names))],
    )
    labels = [f"{d.mean:.4f}" + ("" if d.sd is None else f"\n± {d.sd:.4f}") for d in dists]
    ax.bar_label(bars, labels=labels, fontsize=8, padding=6 if spread.any() else 0)
    seeds = max(d.n for d in dists)
    ax.set(
        title=label + (f"\n(mean ± sd of {seeds} seeds, whiskers min–max)" if seeds > 1 else ""),
        ylabel=label,
        xticks=range(len(names)),
        ylim=(
            0.0,
            1.15 * max(1.0, *np.nan_to_num(values)),
        ),  # bars from zero, so their heights compare honestly; room for the labels
    )
    ax.set_xticklabels(names, rotation=20, ha="right", fontsize=8)


def runs_summary(
    path: Path,
    curves: Mapping[str, Curve],
    scores: Mapping[str, float | Dist],
    title: str,
    ylabel: str = "train loss (mean over the epoch)",
    score_label: str = "test accuracy",
    logy: bool = True,
) -> str:
    """Two panels: each run's training curve, and each run's final score as labelled bars (for
    scores over seeds: the mean, with the lowest and highest seed as an error bar)."""
    fig, (left, right) = figure(1, 2, figsize=(11, 4.2), width_ratios=(3, 2))
    for label, (x, y) in curves.items():
        band_line(left, x, y, "o-", logy, ms=3, label=label)
    left.set(title=title, xlabel="epoch", ylabel=ylabel, yscale="log" if logy else "linear")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    score_bars(right, scores, score_label)
    return save(fig, path)
