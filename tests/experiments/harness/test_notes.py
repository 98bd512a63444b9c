"""The notes' numbers as data (``harness.notes``): each bar, written as it is shown, tested on the
metric its path names, a curve of a fit, or a pair; a path the run did not return is a check not met."""

import numpy as np
import pytest

from experiments.harness import notes
from experiments.harness.stats import Dist
from jaxnets.record import FitResult, columns

METRICS = {
    "test": {"a": {"accuracy": Dist((0.97, 0.98))}, "b": {"accuracy": Dist((0.90, 0.92))}},
    "theta": 0.27001,
    "identical": True,
    "share": Dist((0.0, 1.0)),
    "curve": [Dist((0.5,)), Dist((0.9,))],
}
ROWS = [[{"epoch": 1, "train_loss": 100.0}, {"epoch": 2, "train_loss": 1.0}]]
FITS = {"run": FitResult(None, {k: v[0] for k, v in columns(ROWS).items()}, ROWS[0], {}, None)}


@pytest.mark.parametrize(
    ("path", "bar", "passed"),
    [
        ("test/a/accuracy", "≥ 0.975", True),  # on the mean, 0.975
        ("test/a/accuracy", "> 0.975", False),
        ("test/b/accuracy", "≤ 0.91", True),
        ("test/b/accuracy", "< 0.91", False),
        ("identical", "= True", True),
        ("identical", "= False", False),
        ("theta", "0.27 ± 1e-4", True),
        ("theta", "0.27 ± 1e-6", False),
        ("theta", "from 0.2 to 0.3", True),
        ("share", "> 0", True),
        ("share", "reported", True),
        ("share", "none", True),  # compared only: never fails
        ("fits/run/train_loss", "falls", True),
        ("fits/run/train_loss", "falls > 50x", True),
        ("fits/run/train_loss", "falls > 200x", False),
        ("fits/run/train_loss", "rises", False),
        ("fits/run/train_loss", "falls every epoch", True),
        ("fits/run/train_loss/1", "from 50 to 150", True),  # epoch 1 over the seeds
        ("curve/-1", "≥ 0.9", True),  # a list's entry
        ("curve/0", "≥ 0.9", False),
        (("test/a/accuracy", "test/b/accuracy"), "A > B", True),
        (("test/a/accuracy", "test/b/accuracy"), "A < B", False),
        (("test/a/accuracy", "theta"), ["≥ 0.9", "< 0.3"], True),  # every part must hold
        (("test/a/accuracy", "theta"), ["≥ 0.99", "< 0.3"], False),
    ],
)
def test_each_bar_is_tested_as_it_is_written(path, bar, passed):
    (check,) = notes.checks_of({"c": (path, bar, None)}, METRICS, FITS)
    assert check.passed is passed, check
    shown = " and ".join(bar) if isinstance(bar, list) else bar
    assert check.bar == shown or (isinstance(bar, list) and all(b in check.bar for b in bar))


def test_a_path_the_run_did_not_return_is_a_check_not_met_that_says_so():
    for path in ("test/c/accuracy", "fits/other run/train_loss", ("test/a/accuracy", "nothing")):
        (check,) = notes.checks_of({"c": (path, "≥ 0.9", 0.95)}, METRICS, FITS)
        assert not check.passed and check.ours is None and "not measured" in check.bar


def test_a_curve_is_shown_as_its_first_and_last_epochs_over_the_seeds():
    (check,) = notes.checks_of({"c": ("fits/run/train_loss", "falls", [129.4, 0.79])}, METRICS, FITS)
    first, last = check.ours
    assert first.values == (100.0,) and last.values == (1.0,)
    assert np.isclose(check.notes[0], 129.4)
