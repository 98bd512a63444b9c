"""Check helpers: the bar's text comes from the threshold the check tests, and a check fails when
ours misses it."""

import pytest

from jaxnets import checks


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
