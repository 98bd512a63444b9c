"""Check helpers: the bar's text comes from the threshold the check tests, and a check fails when
ours misses it."""

import numpy as np
import pytest

from experiments.harness import checks, results, stats


@pytest.mark.parametrize(
    ("helper", "args", "bar", "passes", "fails"),
    [
        (checks.at_least, (0.975,), "≥ 0.975", 0.98, 0.97),
        (checks.at_most, (1 / 3,), "≤ 0.333333", 0.0, 0.5),
        (checks.below, (1e-3,), "< 0.001", 1e-5, 1e-3),
        (checks.above, (0,), "> 0", 0.36, 0.0),
        (checks.between, (0.1, 10), "within 0.1 to 10", 2.3, 11.0),
        (checks.within, (0.27, 1e-4), "|ours − 0.27| < 0.0001", 0.27004, 0.2702),
    ],
)
def test_each_helper_writes_its_bar_and_tests_it(helper, args, bar, passes, fails):
    good, bad = helper("n", passes, *args), helper("n", fails, *args)
    assert good.bar == bar == bad.bar
    assert good.passed and not bad.passed


def test_lists_pass_only_when_every_entry_does_and_nan_never_passes():
    assert checks.at_least("n", [0.96, 0.97], 0.95).passed
    assert not checks.at_least("n", [0.96, 0.94], 0.95).passed
    assert not checks.at_least("n", float("nan"), 0.95).passed
    assert not checks.below("n", None, 1.0).passed


def test_equal_holds_and_the_notes_figure():
    assert checks.equal("preds", [0, 1, 1, 0], [0, 1, 1, 0]).passed
    assert not checks.equal("preds", [0, 1, 1, 1], [0, 1, 1, 0]).passed
    check = checks.greater("B8 vs B7", 0.95, 0.97, ("B8", "B7"), notes=[0.98, 0.95])
    assert (check.bar, check.passed, check.ours) == ("B8 > B7", False, [0.95, 0.97])
    assert checks.at_least("n", 1.0, 0.5).notes == checks.NO_FIGURE


def test_a_bar_applies_to_the_mean_of_a_distribution_and_the_notes_are_placed_in_it():
    ours = stats.dist([0.978, 0.979, 0.981])
    check = checks.at_least("B8 test accuracy", ours, 0.975, notes=0.9805)
    assert check.passed and check.placement["inside"] and abs(check.placement["z"]) < 2
    assert not checks.at_least("B8 test accuracy", ours, 0.98).passed  # the mean is 0.9793
    pair = checks.falls("cost first → last", ours, ours, notes=[0.9805, 0.5])
    assert [p["inside"] for p in pair.placement] == [True, False]
    # Words, a single seed or a list of words place nothing.
    assert checks.at_least("n", ours, 0.9, notes="~0.98").placement is None
    assert checks.at_least("n", stats.dist([0.98]), 0.9, notes=0.98).placement is None
    assert checks.equal("AND accuracy (every seed)", stats.dist([1.0, 1.0]), 1.0).passed
    assert not checks.equal("AND accuracy (every seed)", stats.dist([1.0, 0.75]), 1.0).passed
    back = checks.Check.from_json(results.jsonable(check.to_json()))
    assert back.ours == ours and back.placement == check.placement
    assert checks.compared("test cost", ours, 1.4).passed


def test_each_check_writes_its_bar_from_what_it_tests():
    a, b = stats.dist([3.0, 2.0]), stats.dist([1.0, 2.5])  # means 2.5 and 1.75; seed 2 rises
    assert (checks.falls("c", a, b).bar, checks.falls("c", a, b).passed) == ("falls", True)
    every = checks.falls("c", a, b, every_seed=True)
    assert (every.bar, every.passed) == ("falls, every seed", False)
    by = checks.falls("c", 100.0, 0.5, by=100)
    assert (by.bar, by.passed) == ("falls > 100x", True) and not checks.falls("c", 100.0, 2.0, by=100).passed
    assert checks.rises("r", b, a).passed and not checks.rises("r", a, b).passed
    assert checks.less("l", b, a, ("B5", "B4")).bar == "B5 < B4" and checks.less("l", b, a, ("x", "y")).passed
    assert not checks.greater("g", float("nan"), 0.0, ("x", "y")).passed
    curves = np.array([[5.0, 3.0, 1.0], [4.0, 3.5, 3.6]])
    assert (
        checks.falls_every_epoch("f", curves[:1]).passed and not checks.falls_every_epoch("f", curves).passed
    )
    assert checks.reported("r", 6).passed and not checks.reported("r", None).passed
    both = checks.all_of(
        "xor", [0.5, 0.7], [checks.at_most("accuracy", 0.5, 0.75), checks.above("loss", 0.7, 0.69)]
    )
    assert both.bar == "accuracy ≤ 0.75 and loss > 0.69" and both.passed
    assert not checks.all_of("xor", 0, [checks.at_most("a", 0.8, 0.75), checks.above("b", 0.7, 0.69)]).passed
