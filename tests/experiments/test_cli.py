"""The command line: listing, errors for bad input, and the compilation cache."""

import json
import os
import subprocess
import sys

import pytest

import experiments
from experiments import cli


def test_cli_list_and_errors(capsys, tmp_path):
    assert cli.main(["list"]) == 0
    assert "A4" in capsys.readouterr().out
    assert cli.main(["nonsense", "--out", str(tmp_path)]) == 2
    assert "python -m experiments list" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["A1", "--epochs", "-3"])
    with pytest.raises(SystemExit, match="no setting seed"):
        cli.main(["A1", "--seed", "3", "--out", str(tmp_path)])
    assert cli.main(["D1", "--epochs", "300", "--out", str(tmp_path), "--no-cache"]) == 0
    assert (tmp_path / "linear_regression" / "result.json").exists()


def test_the_compilation_cache_is_written_and_changes_no_numbers(tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    results = []
    for i in range(2):
        out = tmp_path / f"run{i}"
        cmd = [sys.executable, "-m", "experiments", "B3", "--out", str(out)]
        subprocess.run([*cmd, "--cache-dir", str(cache)], env=env, check=True, capture_output=True)
        results.append(json.loads((out / "perceptron" / "result.json").read_text()))
    assert any(cache.iterdir()), "compiled programs were written to the cache"
    assert results[0]["metrics"] == results[1]["metrics"]
    assert results[0]["history"] == results[1]["history"]


def test_quick_runs_show_progress_and_write_a_report(capsys, tmp_path):
    for _ in range(2):
        assert cli.main(["A1", "A3", "--quick", "--out", str(tmp_path), "--no-cache"]) == 0
    printed = capsys.readouterr().out
    assert "[1/2]" in printed and "[2/2]" in printed
    assert "left" in printed, "the second run estimates the time left from the first"
    report = (tmp_path / "quick" / "REPORT.md").read_text()
    assert "| A1 " in report and "| A3 " in report and "2 of 2 pass" in report
    assert "(learning_rate/" in report, "plots are linked"


def test_a_failing_experiment_does_not_stop_the_others(monkeypatch, capsys, tmp_path):
    def broken(config, out):
        raise RuntimeError("boom")

    monkeypatch.setattr(experiments.load("A3"), "run", broken)
    assert cli.main(["A3", "A1", "--out", str(tmp_path), "--no-cache"]) == 1
    captured = capsys.readouterr()
    assert "FAILED: A3 raised RuntimeError: boom" in captured.err
    assert "1 passed, 1 failed" in captured.out
    assert (tmp_path / "thumbtack_mle" / "result.json").exists()
    assert "| A1 " in (tmp_path / "REPORT.md").read_text()
