"""Results: strict JSON that keeps non-finite values readable, written whole or not at all, and
read back typed."""

import json

import numpy as np

from experiments.harness import results
from experiments.harness.checks import at_least
from experiments.harness.results import Result


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


def _result(diverged=None) -> Result:
    return Result(
        id="X1",
        name="x",
        title="An experiment",
        config={"seed": 0},
        history=[{"epoch": 1, "train_loss": 0.5}],
        metrics={"acc": 0.97},
        checks=[at_least("accuracy", 0.97, 0.95, notes=0.98)],
        diverged=diverged or {},
        wall_time_s=1.5,
    )


def test_a_result_survives_its_json_form_and_knows_whether_it_passed(tmp_path):
    result = _result()
    results.write_json(tmp_path / "result.json", result.to_json())
    back = results.read_result(tmp_path / "result.json")
    assert back == result and back.passed
    (tmp_path / "broken.json").write_text('{"id": "X1"')
    assert results.read_result(tmp_path / "broken.json") is None
    assert results.read_result(tmp_path / "missing.json") is None


def test_only_an_unexpected_divergence_fails_a_result():
    expected = _result({"raw": {"epoch": 6, "step": 6, "reason": "loss", "expected": True}})
    unexpected = _result({"raw": {"epoch": 6, "step": 6, "reason": "loss", "expected": False}})
    assert expected.passed and not expected.unexpected_divergence
    assert not unexpected.passed and list(unexpected.unexpected_divergence) == ["raw"]


def test_slugs():
    assert results.slug("BN, lr 0.01") == "BN_lr_0.01" and results.slug("B7 normal(0,1)") == "B7_normal_0_1"


def test_the_history_is_also_a_flat_table_one_row_per_epoch_per_run():
    history = [
        {"run": "raw", "seed": 1, "epoch": 1, "train_loss": 2.5},
        {"run": "raw", "seed": 1, "epoch": 2, "train_loss": float("inf"), "time_s": 0.1},
        {"run": "std", "seed": 2, "epoch": 1, "train_loss": 1.5, "valid_loss": 1.7},
    ]
    lines = results.history_csv(history).splitlines()
    assert lines[0] == "run,seed,epoch,train_loss,time_s,valid_loss"
    assert lines[1:] == ["raw,1,1,2.5,,", "raw,1,2,inf,0.1,", "std,2,1,1.5,,1.7"]
