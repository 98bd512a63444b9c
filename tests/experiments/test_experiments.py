"""Each experiment run end to end (reduced where long), asserting its key behaviour."""

import dataclasses
import json

import pytest

import experiments
from experiments import cli
from tests.conftest import needs_mnist


def run(name, out, **overrides):
    module = experiments.load(name)
    config = dataclasses.replace(module.Config(), **overrides)
    result = cli.run_experiment(module, config, out)
    assert (out / result["name"] / "result.json").exists()
    assert result["plots"], "every experiment draws at least one plot"
    return result, {c["name"]: c for c in result["checks"]}


def test_a1_thumbtack_reaches_k_over_n(out):
    result, _ = run("A1", out)
    assert abs(result["metrics"]["theta_hat"] - 0.27) < 1e-4


def test_a2_overfitting_train_cost_falls_below_test_cost(out):
    result, _ = run("overfitting", out, sweep_seeds=5)
    m = result["metrics"]
    assert m["last_train_cost"] < m["first_train_cost"]
    assert m["test_cost"] > m["train_cost"]


def test_a3_learning_rates(out):
    result, checks = run("A3", out)
    assert all(c["pass"] for c in checks.values()), checks
    assert result["metrics"]["lr=100000"]["max_cost"] > 1e4


def test_a4_raw_inputs_diverge_and_are_reported(out):
    result, checks = run("A4", out)
    assert result["diverged"]["run"] == "raw"
    assert result["metrics"]["raw_first_inf_epoch"] is not None
    assert result["metrics"]["standardized_costs"][-1] < 20
    saved = json.loads((out / "standardization" / "result.json").read_text())
    assert "nan" in saved["metrics"]["raw_costs"]


@needs_mnist
def test_a5_regularization_reduced(out):
    result, checks = run("A5", out, subset=1000, epochs=6, hidden=(64,), chunk_epochs=2)
    m = result["metrics"]
    assert m["baseline_test"]["accuracy"] > 0.7
    assert m["online_valid_accuracy"][-1] > 0.5


def test_c2_quadratic_barely_moves_then_falls(out):
    result, checks = run("C2", out)
    assert all(c["pass"] for c in checks.values()), checks


def test_d1_linear_regression_reaches_least_squares(out):
    _, checks = run("D1", out)
    assert all(c["pass"] for c in checks.values()), checks


def test_cli_list_and_errors(capsys, tmp_path):
    assert cli.main(["list"]) == 0
    assert "A4" in capsys.readouterr().out
    assert cli.main(["nonsense", "--out", str(tmp_path)]) == 2
    assert "python -m experiments list" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["A1", "--epochs", "-3"])
    with pytest.raises(SystemExit, match="no setting seed"):
        cli.main(["A1", "--seed", "3", "--out", str(tmp_path)])
    assert cli.main(["D1", "--epochs", "300", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "linear_regression" / "result.json").exists()
