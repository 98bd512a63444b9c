"""Distributions over seeds: the summary leaves diverged (non-finite) seeds out, and the notes'
figure is placed in the distribution."""

import math

import numpy as np
import pytest

from experiments.harness import stats


def test_a_distribution_summarises_its_finite_values():
    d = stats.dist(np.array([0.97, 0.98, 0.99, float("nan")]))
    assert d.n == 3 and d.mean == pytest.approx(0.98) and d.sd == pytest.approx(0.01)
    assert (d.min, d.max) == (0.97, 0.99) and len(d.values) == 4
    assert d.to_json() == {
        "values": list(d.values),
        "mean": d.mean,
        "sd": d.sd,
        "min": 0.97,
        "max": 0.99,
        "n": 3,
    }
    assert stats.from_json(d.to_json()).values[:3] == d.values[:3]
    assert f"{d:.3f}" == "0.980 ± 0.010 (n=3)"
    one = stats.dist([0.5])
    assert one.sd is None and f"{one:.2f}" == "0.50"


def test_the_notes_figure_is_placed_in_our_distribution():
    ours = stats.dist([0.97, 0.98, 0.99])
    inside = stats.placement(0.985, ours)
    assert inside["inside"] and inside["z"] == pytest.approx(0.5) and stats.typical(inside)
    outside = stats.placement(0.9451, ours)
    assert not outside["inside"] and outside["z"] < -2 and stats.typical(outside) is False
    assert stats.placement(0.9, stats.dist([0.9])) == {"notes": 0.9, "inside": True, "z": None}
    assert stats.typical({"z": None}) is None and math.isnan(stats.dist([float("inf")]).mean)
