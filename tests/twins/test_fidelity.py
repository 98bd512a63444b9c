"""The comparison of ours and the twin: the verdicts follow the intervals, and the report and the
console show the twin beside ours when a twin run is in the results folder (without torch)."""

from __future__ import annotations

import json

import numpy as np

from experiments.harness import runner
from twins import fidelity


def test_verdicts_follow_the_intervals():
    rng = np.random.default_rng(0)
    same = rng.normal(0.98, 0.0005, 10)
    assert fidelity.compare(same, same + rng.normal(0, 0.0002, 10), 0.003)["verdict"] == "equivalent"
    assert fidelity.compare(same, same - 0.01, 0.003)["verdict"] == "not equivalent"
    wide = rng.normal(0.5, 0.1, 3)
    assert fidelity.compare(wide, wide[::-1] + 0.001, 0.003)["verdict"] == "too few seeds"
    assert fidelity.compare(same[:1], same, 0.003)["verdict"] == "too few seeds"


def test_the_report_shows_the_twin_beside_ours(tmp_path):
    folder = tmp_path / "basic_optim"
    folder.mkdir()
    ours = {"values": [0.979, 0.979, 0.979], "mean": 0.979}
    result = {"config": {"seed": 0, "seeds": 3}, "metrics": {"valid_accuracy": ours}}
    (folder / "result.json").write_text(json.dumps(result))
    spec = {"valid accuracy after 20 epochs": {"notes": 0.9785, "ours": "valid_accuracy", "kind": "accuracy"}}
    twin = {
        "id": "C4",
        "seeds": [0, 1, 2],
        "numbers": {"valid accuracy after 20 epochs": [0.9785, 0.979, 0.9795]},
    }
    (folder / "twin.json").write_text(json.dumps(twin | {"spec": spec}))
    found = fidelity.rows(tmp_path)
    assert [r["verdict"] for r in found] == ["equivalent"]
    (line,) = fidelity.summary_lines(found)
    assert line.endswith("ours 0.979 ± 0 (3), the labs' code 0.979 ± 0.0005 (3): equivalent")
    report = runner.write_report(tmp_path, [], {}).read_text()
    assert (
        "## Beside the labs' own code" in report
        and "| C4 | valid accuracy after 20 epochs | 0.9785 |" in report
    )


def test_curves_the_notes_print_are_drawn_beside_ours_and_the_twins(tmp_path):
    folder = tmp_path / "basic_optim"
    folder.mkdir()
    per_epoch = [{"values": [0.5 + 0.1 * e, 0.52 + 0.1 * e]} for e in range(3)]
    (folder / "result.json").write_text(json.dumps({"metrics": {"valid_accuracy_per_epoch": per_epoch}}))
    spec = {"valid accuracy per epoch": {"notes": [0.49, 0.6, 0.7], "ours": "valid_accuracy_per_epoch"}}
    spec["valid accuracy per epoch"] |= {"first_epoch": 1, "ylabel": "accuracy"}
    twin = {"id": "C4", "curves": {"valid accuracy per epoch": [[0.5, 0.6, 0.7]] * 3}, "curve_spec": spec}
    (folder / "twin.json").write_text(json.dumps(twin))
    ((lab, curve, path),) = fidelity.curve_plots(tmp_path, tmp_path / "fidelity")
    assert (lab, curve) == ("C4", "valid accuracy per epoch") and path.stat().st_size > 10_000
    text = fidelity.markdown([], [(lab, curve, path)], relative_to=tmp_path)
    assert "![C4 valid accuracy per epoch](fidelity/C4_valid_accuracy_per_epoch.png)" in text


def test_a_curve_can_come_from_ours_history(tmp_path):
    folder = tmp_path / "weight_init"
    folder.mkdir()
    history = [
        {"run": run, "seed": seed, "epoch": e, "train_loss": 100.0 / e + seed}
        for run in ("B7 normal(0,1)", "B8 Xavier")
        for seed in (0, 1)
        for e in (1, 2, 3)
    ]
    (folder / "result.json").write_text(json.dumps({"metrics": {}, "history": history}))
    where = {"history": "train_loss", "run": "B7 normal(0,1)"}
    spec = {"B7 cost": {"notes": [129.4, 36.2, 23.0], "ours": where, "first_epoch": 1, "logy": True}}
    twin = {"id": "B7-B9", "curves": {"B7 cost": [[120.0, 40.0, 20.0]] * 2}, "curve_spec": spec}
    (folder / "twin.json").write_text(json.dumps(twin))
    np.testing.assert_allclose(
        fidelity._ours_curve({"history": history}, where), [[100, 50, 100 / 3], [101, 51, 100 / 3 + 1]]
    )
    ((lab, _, path),) = fidelity.curve_plots(tmp_path, tmp_path / "fidelity")
    assert lab == "B7-B9" and path.is_file()


def test_the_notes_figure_is_placed_as_printed():
    # B3: the notes print 0.693 for ln 2 = 0.693147; ours spreads by 2e-8 over seeds: that is the
    # notes' figure rounded, not z = −7800.
    ln2 = np.log(2) + np.random.default_rng(0).normal(0, 2e-8, 10)
    assert fidelity._place(0.693, ln2) == "inside"
    assert fidelity._place(0.689, ln2) == "outside"
    assert fidelity._place(0.9681, np.array([0.974, 0.971, 0.976, 0.972])).startswith("z -")
    assert fidelity._place(0.9681, np.array([])) == "–"
