import json

import numpy as np

from jaxnets import plots, results


def test_write_json_is_strict_and_keeps_non_finite_values_readable(tmp_path):
    path = tmp_path / "r" / "result.json"
    results.write_json(path, {"a": np.float32(1.5), "b": [float("inf"), float("nan")], "c": np.arange(3)})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": ["inf", "nan"], "c": [0, 1, 2]}
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]  # no temporary left


def test_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "result.json"
    results.write_json(path, {"ok": 1})
    try:
        results.write_json(path, {"bad": object()})
    except TypeError:
        pass
    assert json.loads(path.read_text()) == {"ok": 1}
    assert len(list(tmp_path.iterdir())) == 1


def test_checks_table_lists_ours_notes_and_verdict():
    table = results.checks_table(
        [results.check("acc", 0.98, 0.9805, "≥ 0.975", True), results.check("loss", 2.0, 1.0, "< 1", False)]
    )
    assert "PASS" in table and "FAIL" in table and "0.9805" in table


def test_curves_survive_non_finite_values(tmp_path):
    name = plots.curves(
        tmp_path / "c.png", {"run": ([1, 2, 3, 4], [1.0, 1e30, np.inf, np.nan])}, title="t", logy=True
    )
    assert (tmp_path / name).stat().st_size > 1000


def test_report_lists_each_check_with_its_difference_time_and_plots():
    run = {
        "id": "X1",
        "name": "x",
        "title": "An experiment",
        "checks": [
            results.check("accuracy", 0.97, 0.98, "≥ 0.95", True),
            results.check("costs", [1.0, 2.0], [1.5, 2.0], "falls", False),
            results.check("words", "yes", "no", "as stated", True),
        ],
        "wall_time_s": 1.5,
        "plots": ["curve.png"],
        "env": results.env_info(),
    }
    report = results.report_markdown([run], {"Y1": "mnist not found; set JAXNETS_DATA_DIR"})
    assert (
        "| X1 An experiment | accuracy | 0.97 | 0.98 | -0.01 | ≥ 0.95 | ✅ | 1.5 s | [curve](x/curve.png) |"
        in report
    )
    assert "[-0.5, +0]" in report and "❌ FAIL" in report
    assert "| words | yes | no | – |" in report
    assert "0 of 1 pass" in report
    assert "**Y1**: mnist not found; set JAXNETS_DATA_DIR" in report


def test_report_lists_diverged_runs_and_an_unexpected_one_fails():
    def run(id_, expected):
        return {
            "id": id_,
            "name": id_.lower(),
            "title": "t",
            "checks": [results.check("acc", 1.0, 1.0, "=", True)],
            "diverged": {"raw": {"epoch": 6, "step": 6, "reason": "loss", "expected": expected}},
            "wall_time_s": 1.0,
            "plots": [],
            "env": results.env_info(),
        }

    report = results.report_markdown([run("A4", True), run("D1", False)])
    assert "1 of 2 pass" in report
    assert "- **A4** raw: non-finite loss at epoch 6, step 6; expected" in report
    assert "- **D1** raw: non-finite loss at epoch 6, step 6; **not expected" in report
    assert results.unexpected_divergence(run("D1", False)) and not results.unexpected_divergence(
        run("A4", True)
    )


def test_diverged_runs_and_slugs():
    from jaxnets.train import Divergence

    assert results.diverged_runs({"a": None, "b": None}) is None
    assert results.diverged_runs({"a": Divergence(2, 7, "loss"), "b": None}) == {
        "a": {"epoch": 2, "step": 7, "reason": "loss"}
    }
    assert results.slug("BN, lr 0.01") == "BN_lr_0.01" and results.slug("B7 normal(0,1)") == "B7_normal_0_1"
