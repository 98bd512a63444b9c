"""The command line: listing, errors for bad input, divergence, interrupting and resuming,
results that are never half-written, determinism, and the compilation cache."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import experiments
from experiments.harness import cli, runner
from jaxnets import checkpoint
from jaxnets.errors import InputError
from tests.conftest import needs_mnist
from tests.helpers import free_port, make_dataset, patch_run


def test_cli_list_and_errors(capsys, tmp_path):
    assert cli.main(["list"]) == 0
    assert "A4" in capsys.readouterr().out
    assert cli.main(["nonsense", "--out", str(tmp_path)]) == 2
    assert "python -m experiments list" in capsys.readouterr().err
    assert cli.main(["overfiting", "--out", str(tmp_path)]) == 2
    assert "did you mean 'overfitting'" in capsys.readouterr().err
    assert cli.main(["A1", "--seed", "3", "--out", str(tmp_path)]) == 2
    assert "A1 takes no --seed; its settings are" in capsys.readouterr().err
    assert cli.main(["A1", "--on-divergence", "continue", "--out", str(tmp_path)]) == 2
    assert "takes no --on-divergence" in capsys.readouterr().err
    assert cli.main(["D1", "--epochs", "300", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "linear_regression" / "result.json").exists()


def test_the_compilation_cache_is_written_and_changes_no_numbers(tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    results = []
    for i in range(2):
        out = tmp_path / f"run{i}"
        # D1 is the shortest seeded run; the test session caches every program (conftest: no
        # minimum compile time), so its programs are written.
        cmd = [sys.executable, "-m", "experiments", "D1", "--out", str(out)]
        subprocess.run([*cmd, "--cache-dir", str(cache)], env=env, check=True, capture_output=True)
        results.append(json.loads((out / "linear_regression" / "result.json").read_text()))
    assert any(cache.iterdir()), "compiled programs were written to the cache"
    assert results[0]["metrics"] == results[1]["metrics"]
    untimed = [[{k: v for k, v in row.items() if k != "time_s"} for row in r["history"]] for r in results]
    assert untimed[0] == untimed[1]


def test_quick_runs_show_progress_and_write_a_report(capsys, tmp_path):
    for _ in range(2):
        assert cli.main(["A1", "A3", "--quick", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "[1/2]" in printed and "[2/2]" in printed
    assert "left" in printed, "the second run estimates the time left from the first"
    report = (tmp_path / "quick" / "REPORT.md").read_text()
    assert "| A1 " in report and "| A3 " in report and "2 passed, 0 failed at the notes' settings" in report
    assert "(learning_rate/" in report, "plots are linked"


def test_a_failing_experiment_does_not_stop_the_others(monkeypatch, capsys, tmp_path):
    def broken(config, ws):
        raise RuntimeError("boom")

    patch_run(monkeypatch, "A3", broken)
    assert cli.main(["A3", "A1", "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "FAILED: A3 raised RuntimeError: boom" in captured.err
    assert "1 passed, 1 failed" in captured.out
    assert (tmp_path / "thumbtack_mle" / "result.json").exists()
    assert "| A1 " in (tmp_path / "REPORT.md").read_text()


def _cli(*args, timeout=300) -> subprocess.CompletedProcess:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    cmd = [sys.executable, "-m", "experiments", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def test_bad_data_gives_one_line_naming_the_problem_and_the_fix(tmp_path):
    missing = _cli("B1", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r"))
    assert missing.returncode == 1
    assert "does not exist: point it at the folder that holds mnist/" in missing.stderr
    make_dataset(tmp_path / "bad" / "mnist", corrupt="train_images")
    corrupt = _cli("B1", "--quick", "--data-dir", str(tmp_path / "bad"), "--out", str(tmp_path / "r"))
    assert corrupt.returncode == 1
    assert "train-images-idx3-ubyte.gz: not a valid gzip file" in corrupt.stderr
    assert "download it again" in corrupt.stderr
    for run in (missing, corrupt):
        assert "Traceback" not in run.stderr + run.stdout


@needs_mnist
def test_a_batch_larger_than_the_data_is_an_error_not_a_traceback(tmp_path):
    run = _cli("B1", "--quick", "--batch-size", "5000", "--out", str(tmp_path))
    assert run.returncode == 2
    assert "error: B1-B2: batch size 5000 does not fit a data set of 3000 examples" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_failed_run_leaves_the_earlier_results_as_they_were(monkeypatch, tmp_path):
    assert cli.main(["D1", "--out", str(tmp_path)]) == 0
    folder = tmp_path / "linear_regression"
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    assert {"result.json", "linear_regression.png"} <= before.keys()

    def half_done(config, ws, error):
        (ws.plots / "linear_regression.png").write_bytes(b"half a plot")
        (ws.plots / "extra.png").write_bytes(b"another")
        raise error

    patch_run(monkeypatch, "D1", lambda c, ws: half_done(c, ws, RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        cli.main(["D1", "--out", str(tmp_path)])
    patch_run(monkeypatch, "D1", lambda c, ws: half_done(c, ws, InputError("bad setting")))
    assert cli.main(["D1", "--out", str(tmp_path)]) == 2
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    assert after == before, "nothing of the failed runs reached the results"
    assert (folder / runner.WORK / "extra.png").exists(), "the unfinished run is kept apart"
    # Results are readable like any file the user writes (not the 0600 of a temporary file).
    assert (folder / "result.json").stat().st_mode & 0o044


def test_divergence_stops_the_run_is_saved_and_fails_only_where_unexpected(capsys, tmp_path):
    # A4's raw inputs are meant to blow up: recorded, plotted, stopped there, exit 0.
    assert cli.main(["A4", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "standardization" / "result.json").read_text())
    raw = result["diverged"]["raw"]
    assert raw == {"epoch": 6, "step": 6, "reason": "loss", "expected": True}
    assert [r["epoch"] for r in result["history"] if r["run"] == "raw"] == [1, 2, 3, 4, 5, 6]
    assert result["metrics"]["raw_costs"][-1]["values"] == ["inf"]
    assert result["plots"] == ["standardization.png"]
    assert "diverged, as the notes show: raw at epoch 6, step 6" in capsys.readouterr().out
    # --on-divergence continue trains on, through inf to the notes' nan at epoch 13.
    assert cli.main(["A4", "--on-divergence", "continue", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "standardization" / "result.json").read_text())
    metrics = result["metrics"]
    assert metrics["raw_first_nan_epoch"]["values"] == [13] and len(metrics["raw_costs"]) == 20
    capsys.readouterr()
    # D1 at an absurd learning rate diverges where nobody expects it: saved, plotted, reported,
    # and informational (exit 0): the run was at other settings than the notes'.
    assert cli.main(["D1", "--lr", "1e30", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "linear_regression" / "result.json").read_text())
    assert result["diverged"]["linear regression"]["expected"] is False
    assert result["changed"] == {"lr": {"ran": 1e30, "notes": 0.05}}
    assert (tmp_path / "linear_regression" / "linear_regression.png").stat().st_size > 1000
    printed = capsys.readouterr().out
    assert "DIVERGED: linear regression at epoch 2" in printed and "informational: " in printed
    report = (tmp_path / "REPORT.md").read_text()
    assert "## Diverged runs" in report and "not expected, at other settings than the notes'" in report


def test_an_unexpected_divergence_at_the_notes_settings_fails(monkeypatch, capsys, tmp_path):
    d1 = experiments.load("D1")
    patch_run(monkeypatch, "D1", lambda cfg, ws: d1.run(dataclasses.replace(cfg, lr=1e30), ws))
    assert cli.main(["D1", "A1", "--out", str(tmp_path)]) == 1
    printed = capsys.readouterr().out
    assert "DIVERGED: linear regression at epoch 2" in printed and "FAIL: 3 of 3 checks miss" in printed
    assert "1 passed, 1 failed, 0 skipped" in printed and "(failed: D1)" in printed
    report = (tmp_path / "REPORT.md").read_text()
    assert "not expected: counted as a failure" in report
    assert "1 passed, 1 failed at the notes' settings" in report


def test_the_same_seed_gives_the_same_numbers_in_a_new_process_and_another_seed_does_not(tmp_path):
    def run(seed, name, new_process):
        out = tmp_path / name
        args = ["A2", "--quick", "--seed", str(seed), "--out", str(out)]
        assert (_cli(*args).returncode if new_process else cli.main(args)) == 0
        result = json.loads((out / "quick" / "overfitting" / "result.json").read_text())
        history = [{k: v for k, v in row.items() if k != "time_s"} for row in result["history"]]
        return history, result["metrics"]

    first, again, other = run(5, "a", True), run(5, "b", False), run(6, "c", False)
    assert first == again
    assert first[0] != other[0] and first[1] != other[1]


@needs_mnist
def test_ctrl_c_saves_and_resume_ends_exactly_where_an_uninterrupted_run_ends(capsys, tmp_path):
    args = ["B10", "--quick", "--epochs", "30"]
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    # `python -m experiments ...` with Python's Ctrl-C handler, also where the tests run as a
    # background job (whose shell starts them with SIGINT ignored, which a child would inherit).
    main = "experiments"
    start = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        f"sys.argv[0] = {main!r}; runpy.run_module({main!r}, run_name='__main__', alter_sys=True)"
    )
    cmd = [sys.executable, "-c", start, *args, "--out", str(tmp_path / "stopped")]
    saved = tmp_path / "stopped" / "quick" / "dropout" / runner.WORK / "checkpoints" / "dropout"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while (checkpoint.latest_epoch(saved) or 0) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "interrupted during B10; saved: dropout up to epoch" in err
    assert "Go on from there with: python -m experiments B10 --quick --epochs 30" in err and "--resume" in err
    assert "Traceback" not in err
    stopped_at = checkpoint.latest_epoch(saved)
    assert 2 <= stopped_at < 30
    assert not (tmp_path / "stopped" / "quick" / "dropout" / "result.json").exists()

    resumed = _cli(*args, "--out", str(tmp_path / "stopped"), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert cli.main([*args, "--out", str(tmp_path / "straight")]) == 0  # uninterrupted, in this process
    a, b = (
        json.loads((tmp_path / name / "quick" / "dropout" / "result.json").read_text())
        for name in ("stopped", "straight")
    )
    strip = [[{k: v for k, v in row.items() if k != "time_s"} for row in r["history"]] for r in (a, b)]
    assert strip[0] == strip[1] and len(strip[0]) == 30
    assert a["metrics"] == b["metrics"]
    assert not (tmp_path / "stopped" / "quick" / "dropout" / runner.WORK).exists(), "checkpoints cleaned up"
    # A second --resume finds the experiment finished with these settings and keeps it.
    quick = tmp_path / "stopped" / "quick" / "dropout"
    assert cli.main([*args, "--out", str(tmp_path / "stopped"), "--resume"]) == 0
    assert "finished earlier with these settings" in capsys.readouterr().out
    assert json.loads((quick / "result.json").read_text()) == a
    # --resume with other settings refuses to mix two runs.
    (quick / runner.WORK).mkdir()
    (quick / runner.WORK / "config.json").write_text('{"seed": 99}')
    assert cli.main([*args, "--out", str(tmp_path / "stopped"), "--resume"]) == 2
    assert "has other settings (" in capsys.readouterr().err


@needs_mnist
def test_seeds_print_mean_sd_and_save_every_seeds_value(capsys, tmp_path):
    assert cli.main(["B8", "--quick", "--seeds", "3", "--out", str(tmp_path)]) == 0  # quick: informational
    printed = capsys.readouterr().out
    assert (
        "informational: at other settings than the notes' (epochs 2 (notes 15), "
        "train_subset 2000 (notes None), 3 seeds)" in " ".join(printed.split())
    )
    for model in ("B7 test accuracy", "B8 test accuracy", "B9 test accuracy vs B7"):
        line = next(line for line in printed.splitlines() if line.startswith(model))
        assert " ± " in line, line
    assert printed.count("(n=3)") >= 4, "B9 vs B7 is a list of two: each (n=3), wrapped in its column"
    assert "↳ notes' 0.9805" in printed
    result = json.loads((tmp_path / "quick" / "weight_init" / "result.json").read_text())
    accuracy = result["metrics"]["test"]["B8 Xavier"]["accuracy"]
    assert len(accuracy["values"]) == 3 and accuracy["n"] == 3 and accuracy["sd"] > 0
    assert sorted({row["seed"] for row in result["history"]}) == [0, 1, 2]
    assert cli.main(["A1", "--seeds", "3", "--out", str(tmp_path)]) == 0
    assert "A1 has no randomness: --seeds 3 is ignored" in capsys.readouterr().out


@needs_mnist
def test_two_processes_run_one_job_and_process_0_writes_the_result(tmp_path):
    """B1-B2 (quick, 1 epoch) as a job of 2 processes × 2 devices over 127.0.0.1: one result,
    printed, drawn and written by process 0 (that the numbers equal a 1 × 4 run is
    ``tests/test_distributed.py``'s; B11 by hand, in the README)."""

    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    env.pop("JAX_PLATFORMS", None)
    cmd = [sys.executable, "-m", "experiments", "B1", "--quick", "--epochs", "1", "--out", str(tmp_path)]
    cmd += ["--coordinator", f"127.0.0.1:{free_port()}", "--num-processes", "2", "--process-id"]
    procs = [
        subprocess.Popen([*cmd, i], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in ("0", "1")
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
    # Only process 0 prints: the header, the results' folder and the report's path are in its
    # output and not in process 1's (which holds gloo's connection messages only, written by
    # several threads of both processes and so at times broken mid-line).
    for mark in ("=== B1-B2", "results in ", "report: "):
        assert mark in outputs[0][0] and mark not in outputs[1][0], f"only process 0 prints: {mark!r}"
    assert "process 1 of 2: 4 devices in all, 2 here" in outputs[1][1]
    folder = tmp_path / "quick" / "mnist_softmax"
    result = json.loads((folder / "result.json").read_text())
    assert result["env"]["processes"] == 2 and len(result["env"]["devices"]) == 4
    assert len(result["history"]) == 2 and result["checks"]  # SGD and Adam, 1 epoch each
    assert result["plots"] and all((folder / plot).is_file() for plot in result["plots"]), "process 0 drew"
    assert sorted(p.name for p in (tmp_path / "quick").iterdir()) == [".locks", "REPORT.md", "mnist_softmax"]
    assert not (folder / runner.WORK).exists(), "the finished run's checkpoints were cleared"


def test_checkpoint_flags_reach_the_workspace_and_every_run_multiplies_in_float32(
    monkeypatch, capsys, tmp_path
):
    """--checkpoint-every and --no-checkpoint as the experiment sees them, --resume with nothing
    to go on from or with nothing saved, and the precision policy in the programs it compiles."""
    seen = []
    a1 = experiments.load("A1")

    def run(config, ws):
        import jax
        import jax.numpy as jnp

        hlo = jax.jit(jnp.dot).lower(jnp.ones((2, 2)), jnp.ones((2, 2))).as_text()
        seen.append((ws.checkpoint("run"), ws.checkpoint_each(), hlo))
        return a1.run(config, ws)

    patch_run(monkeypatch, "A1", run)
    out = ["--out", str(tmp_path)]
    assert cli.main(["A1", "--checkpoint-every", "5", *out]) == 0
    assert cli.main(["A1", "--no-checkpoint", *out]) == 0
    (every5, each5, hlo), (none, each_none, _) = seen
    assert every5["checkpoint_every"] == 5 and every5["checkpoint_dir"].name == "run"
    assert each5["checkpoint_dir"] == every5["checkpoint_dir"].parent
    assert none["checkpoint_dir"] is None and each_none["checkpoint_dir"] is None
    assert "precision = [HIGHEST, HIGHEST]" in hlo, "float32 matrix products on every backend"
    capsys.readouterr()
    assert cli.main(["A1", "--resume", "--no-checkpoint", *out]) == 2
    assert "--no-checkpoint saves none" in capsys.readouterr().err
    assert cli.main(["A1", "--resume", "--out", str(tmp_path / "new")]) == 0
    assert "A1 has no unfinished run in" in capsys.readouterr().out
    for bad in (["--checkpoint-every", "0"], ["--checkpoint-every", "2", "--no-checkpoint"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main(["A1", *bad, *out])
        assert exit_.value.code == 2
