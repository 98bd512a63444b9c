import subprocess
import sys

import numpy as np

from experiments.harness import plots


def test_curves_survive_non_finite_values(tmp_path):
    y = [3.0, 2.0, float("inf"), float("nan")]
    name = plots.curves(tmp_path / "c.png", {"diverged": ([1, 2, 3, 4], y)}, "t", logy=True)
    assert (tmp_path / name).stat().st_size > 1000


def test_prediction_runs_summary_and_decision_regions_write_pngs(tmp_path):
    image = np.random.default_rng(0).uniform(size=(28, 28))
    plots.prediction(tmp_path / "p.png", image, "7", {"a": "7", "b": "1"})
    plots.runs_summary(
        tmp_path / "r.png",
        {"a": ([1, 2], [0.5, 0.2]), "b": ([1, 2], [0.6, float("nan")])},
        {"a": 0.9, "b": 0.8},
        "t",
    )
    fig, ax = plots.figure()
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    plots.decision_regions(
        ax, lambda g: (g[:, 0] + g[:, 1] > 1).astype(float), x, np.array([0, 0, 0, 1]), "AND"
    )
    plots.save(fig, tmp_path / "d.png")
    assert all((tmp_path / f).stat().st_size > 1000 for f in ("p.png", "r.png", "d.png"))


def test_a_run_that_is_nan_from_its_first_epoch_still_plots_and_says_so(tmp_path):
    # An axvline alone on a log axis used to raise "Data cannot be log-scaled".
    plots.runs_summary(
        tmp_path / "r.png",
        {"a": ([1], [float("nan")]), "b": ([1, 2], [0.5, 0.2])},
        {"a": float("nan"), "b": 0.9},
        "t",
    )
    fig, ax = plots.figure()
    plots.finite_line(ax, [1, 2], [float("nan"), float("inf")], logy=True, label="diverged")
    ax.set_yscale("log")
    assert [t.get_text() for t in ax.texts] == ["diverged non-finite from 1"]
    plots.save(fig, tmp_path / "f.png")
    assert (tmp_path / "r.png").stat().st_size > 1000 and (tmp_path / "f.png").stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "r.png"]  # no temporary left


def test_importing_jaxnets_changes_no_global_state():
    """No matplotlib backend is chosen and no logger is silenced by an import: a notebook that
    imports jaxnets keeps its inline plots and its logging."""
    code = (
        "import logging, sys, matplotlib\n"
        "backend = lambda: dict.__getitem__(matplotlib.rcParams, 'backend')  # read without resolving\n"
        "before = backend()\n"
        "import experiments, experiments.harness.plots, jaxnets.checkpoint, jaxnets.train\n"
        "experiments.all_experiments()  # every lab module imported\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "assert backend() == before, 'backend changed'\n"
        "assert logging.getLogger('absl').level == logging.NOTSET, 'absl logger changed'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
