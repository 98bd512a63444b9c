"""The comparison of ours and the twin: the verdicts follow the intervals, and the report and the
console show the twin beside ours when a twin run is in the results folder (without torch)."""

from __future__ import annotations

import json

import numpy as np

from experiments import runner
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
    report = runner.write_report(tmp_path, [], {}, False).read_text()
    assert (
        "## Beside the labs' own code" in report
        and "| C4 | valid accuracy after 20 epochs | 0.9785 |" in report
    )
