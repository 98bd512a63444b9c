"""Check helpers: the bar's text comes from the threshold the check tests, and a check fails when
ours misses it."""

import pytest

from jaxnets import checks, results, stats


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
    check = checks.holds("B8 vs B7", 0.03, "B8 > B7", False, notes=0.0354)
    assert (check.bar, check.passed, check.notes) == ("B8 > B7", False, 0.0354)
    assert checks.at_least("n", 1.0, 0.5).notes == checks.NO_FIGURE


def test_a_bar_applies_to_the_mean_of_a_distribution_and_the_notes_are_placed_in_it():
    ours = stats.dist([0.978, 0.979, 0.981])
    check = checks.at_least("B8 test accuracy", ours, 0.975, notes=0.9805)
    assert check.passed and check.placement["inside"] and abs(check.placement["z"]) < 2
    assert not checks.at_least("B8 test accuracy", ours, 0.98).passed  # the mean is 0.9793
    pair = checks.holds("cost first → last", [ours, ours], "falls", True, notes=[0.9805, 0.5])
    assert [p["inside"] for p in pair.placement] == [True, False]
    # Words, a single seed or a list of words place nothing.
    assert checks.at_least("n", ours, 0.9, notes="~0.98").placement is None
    assert checks.at_least("n", stats.dist([0.98]), 0.9, notes=0.98).placement is None
    assert checks.equal("AND accuracy (every seed)", stats.dist([1.0, 1.0]), 1.0).passed
    assert not checks.equal("AND accuracy (every seed)", stats.dist([1.0, 0.75]), 1.0).passed
    back = checks.Check.from_json(results.jsonable(check.to_json()))
    assert back.ours == ours and back.placement == check.placement
    assert checks.compared("test cost", ours, 1.4).passed
