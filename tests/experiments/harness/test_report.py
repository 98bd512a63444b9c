"""The printed table and REPORT.md: every check with ours, the notes', the difference, the bar,
the verdict, the time and the plots; divergences and skipped experiments listed."""

import dataclasses

from experiments.harness import report, results, stats
from experiments.harness.checks import at_least, equal, falls
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
            equal("words", "yes", "yes", notes="no"),
        ]
    )
    text = report.report_markdown([run], {"Y1": "mnist not found; set JAXNETS_DATA_DIR"})
    assert (
        "| X1 An experiment | the notes' settings | accuracy | 0.97 | 0.98 | -0.01 | ≥ 0.95 | ✅ | 1.5 s | "
        "[curve](x1/curve.png) |" in text
    )
    assert "[-0.5, +0]" in text and "❌ FAIL" in text
    assert "| words | yes | no | – |" in text
    assert "0 passed, 1 failed at the notes' settings" in text
    assert "**Y1**: mnist not found; set JAXNETS_DATA_DIR" in text


def test_report_lists_diverged_runs_and_an_unexpected_one_fails():
    def run(id_, expected):
        return _result(id_, diverged={"raw": {"epoch": 6, "step": 6, "reason": "loss", "expected": expected}})

    text = report.report_markdown([run("A4", True), run("D1", False)])
    assert "1 passed, 1 failed at the notes' settings" in text
    assert "- **A4** raw: non-finite loss at epoch 6, step 6; expected" in text
    assert "- **D1** raw: non-finite loss at epoch 6, step 6; **not expected" in text


def test_a_distribution_shows_as_mean_sd_n_and_the_notes_figure_is_placed():
    ours = stats.dist([0.978, 0.979, 0.981])
    run = _result(checks=[at_least("B8 test accuracy", ours, 0.975, notes=0.9805)])
    text = report.report_markdown([run])
    assert "| 0.9793 ± 0.001528 (n=3) | 0.9805 | -0.001167 | ≥ 0.975 | ✅ |" in text
    assert (
        "| | | ↳ notes' 0.9805 | inside [0.978, 0.981], z = +0.76 | | | \\|z\\| ≤ 2 | typical | | |" in text
    )
    table = report.checks_table(run.checks)
    assert "↳ notes' 0.9805" in table and "typical" in table


def test_runs_at_other_settings_get_their_own_table_and_inform_without_failing():
    full = _result("X1", checks=[at_least("acc", 0.9, 0.95)])
    reduced = dataclasses.replace(
        _result("X2", checks=[at_least("acc", 0.9, 0.95)]),
        config={"epochs": 1, "seeds": 3},
        changed={"epochs": {"ran": 1, "notes": 15}},
    )
    assert (full.verdict, reduced.verdict) == ("FAIL", "informational")
    text = report.report_markdown([full, reduced])
    summary = "**0 passed, 1 failed at the notes' settings; 1 informational (other settings than the notes')"
    assert summary in text
    at_notes, other = text.split("## At other settings (informational)")
    assert "| X1 " in at_notes and "| X2 " not in at_notes and "❌ FAIL" in at_notes
    assert "| X2 An experiment | epochs 1 (notes 15), 3 seeds | acc | 0.9 |" in other
    assert "not met" in other and "FAIL" not in other


def test_printed_tables_wrap_to_100_columns_and_keep_every_word():
    name = "the notes' outcome: test cost > train cost and test accuracy ≤ 1/3, share of our seeds"
    notes = "1 run (torch seed 1): " * 4
    table = report.checks_table([at_least(name, [0.5, 0.25, 0.125, 0.0625, 0.03125], 0.0, notes=notes)])
    lines = table.splitlines()
    assert max(map(len, lines)) <= 100 and len(lines) > 3
    starts = [i for i, ch in enumerate(lines[1]) if ch == "-" and (i == 0 or lines[1][i - 1] == " ")]
    columns = [
        " ".join(line[a:b].strip() for line in lines[2:]).split()
        for a, b in zip(starts, [*starts[1:], None], strict=True)
    ]  # each column read down its own lines holds its whole text
    assert columns[0] == name.split() and columns[2] == notes.split()
    assert "".join(columns[1]) == "[0.5,0.25,0.125,0.0625,0.03125]"


def test_a_table_that_fits_keeps_its_natural_widths():
    table = report.checks_table([at_least("acc", 0.98, 0.975, notes=0.9805)])
    assert table.splitlines()[1] == "  ".join("-" * w for w in (5, 4, 6, 7, 4))
