"""The printed table and REPORT.md: every check with ours, the notes', the difference, the bar,
the verdict, the time and the plots; divergences and skipped experiments listed."""

from experiments.harness import report, results, stats
from experiments.harness.checks import at_least, falls, identical
from experiments.harness.results import Result


def _result(id_="X1", checks=None, diverged=None) -> Result:
    return Result(
        id=id_,
        name=id_.lower(),
        title="An experiment",
        config={},
        history=[],
        metrics={},
        checks=checks or [at_least("acc", 1.0, 1.0)],
        diverged=diverged or {},
        plots=["curve.png"],
        wall_time_s=1.5,
        env=results.env_info(),
    )


def test_checks_table_lists_ours_notes_and_verdict():
    table = report.checks_table([at_least("acc", 0.98, 0.975, notes=0.9805), at_least("loss", 0.5, 1.0)])
    assert "PASS" in table and "FAIL" in table and "0.9805" in table and "≥ 0.975" in table


def test_report_lists_each_check_with_its_difference_time_and_plots():
    run = _result(
        checks=[
            at_least("accuracy", 0.97, 0.95, notes=0.98),
            falls("costs", 1.0, 2.0, notes=[1.5, 2.0]),
            identical("words", "yes", "yes", notes="no"),
        ]
    )
    text = report.report_markdown([run], {"Y1": "mnist not found; set JAXNETS_DATA_DIR"})
    assert (
        "| X1 An experiment | accuracy | 0.97 | 0.98 | -0.01 | ≥ 0.95 | ✅ | 1.5 s | [curve](x1/curve.png) |"
        in text
    )
    assert "[-0.5, +0]" in text and "❌ FAIL" in text
    assert "| words | yes | no | – |" in text
    assert "0 of 1 pass" in text
    assert "**Y1**: mnist not found; set JAXNETS_DATA_DIR" in text


def test_report_lists_diverged_runs_and_an_unexpected_one_fails():
    def run(id_, expected):
        return _result(id_, diverged={"raw": {"epoch": 6, "step": 6, "reason": "loss", "expected": expected}})

    text = report.report_markdown([run("A4", True), run("D1", False)])
    assert "1 of 2 pass" in text
    assert "- **A4** raw: non-finite loss at epoch 6, step 6; expected" in text
    assert "- **D1** raw: non-finite loss at epoch 6, step 6; **not expected" in text


def test_a_distribution_shows_as_mean_sd_n_and_the_notes_figure_is_placed():
    ours = stats.dist([0.978, 0.979, 0.981])
    run = _result(checks=[at_least("B8 test accuracy", ours, 0.975, notes=0.9805)])
    text = report.report_markdown([run])
    assert "| 0.9793 ± 0.001528 (n=3) | 0.9805 | -0.001167 | ≥ 0.975 | ✅ |" in text
    assert (
        "| | ↳ notes' 0.9805 vs ours | inside [0.978, 0.981], z = +0.76 | | | \\|z\\| ≤ 2 | typical | | |"
        in text
    )
    table = report.checks_table(run.checks)
    assert "↳ notes' 0.9805 vs ours" in table and "typical" in table
