"""Bad input at the command line, as a new user gives it: each case is one line on stderr, no
traceback, the documented exit code, and earlier results left byte for byte as they were."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import experiments
from experiments.harness import cli, flags, plan, runner
from jaxnets import data
from tests.conftest import needs_fashion, needs_mnist
from tests.helpers import free_port, make_dataset, one_line, patch_run, training_job


@pytest.fixture
def earlier(tmp_path):
    """A results folder holding a finished D1; ``unchanged()`` says whether its files are as they were."""
    out = tmp_path / "results"
    assert cli.main(["D1", "--out", str(out)]) == 0
    files = lambda: {p: p.read_bytes() for p in (out / "linear_regression").iterdir() if p.is_file()}  # noqa: E731
    before = files()
    return out, lambda: files() == before


@pytest.fixture
def untouched(tmp_path):
    """A results folder with an earlier result in it (its files stand in for one: the flags tested
    with it are refused before any experiment runs); ``unchanged()`` says whether they are as they were."""
    out = tmp_path / "results"
    (out / "linear_regression").mkdir(parents=True)
    for name in ("result.json", "history.csv", "linear_regression.png"):
        (out / "linear_regression" / name).write_text(f"an earlier {name}")
    (out / "REPORT.md").write_text("an earlier report")
    files = lambda: {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}  # noqa: E731
    before = files()
    return out, lambda: files() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "-1"], "--seed: must be from 0 to 4294967295"),
        (["--seed", "4294967296"], "--seed: must be from 0 to 4294967295"),
        (["--seed", "1180591620717411303424"], "--seed: must be from 0 to 4294967295"),  # 2**70
        (["--lr", "nan"], "--lr: 'nan' is not a finite number"),
        (["--lr", "inf"], "--lr: 'inf' is not a finite number"),
        (["--lr", "0"], "--lr: must be > 0"),
        (["--epochs", "99999999999999999999999"], "more than any run can finish"),
        (["--epochs", "1e9"], "more than any run can finish"),
        (["--epochs", "2.5"], "'2.5' is not a whole number"),
        (["--epochs", "-3"], "--epochs: must be from 1"),
        (["--on-divergence", "maybe"], "invalid choice: 'maybe'"),
        (["--batch-size", "0"], "--batch-size: must be from 1"),
    ],
)
def test_a_bad_flag_value_is_one_line_and_exit_2(capsys, untouched, args, message):
    out, unchanged = untouched
    with pytest.raises(SystemExit) as exit_:
        cli.main(["D1", *args, "--out", str(out)])
    assert exit_.value.code == 2
    assert message in one_line(capsys.readouterr().err)
    assert unchanged()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["A1", "--set", "n=0"], "--set n=0: A1's n must be from 1 to 2**31 - 1, got 0"),  # ZeroDivisionError
        (["A1", "--set", "n=99999999999"], "A1's n must be from 1 to 2**31 - 1, got 99999999999"),  # overflow
        (["A1", "--set", "k=300"], "--set k=300: A1's k must be from 0 to n (100), got 300"),  # θ̂ 3.0
        (["A1", "--set", "theta0=1.5"], "A1's theta0 must be between 0 and 1, both excluded"),
        (["A1", "--set", "lr=inf"], "--set lr=inf: A1's lr must be > 0 and finite, got inf"),
        (["A1", "--set", "theta0=1e999"], "--set theta0=1e999: A1's theta0 must be between 0 and 1"),
        (["A1", "--set", "lr=0"], "--set lr=0: A1's lr must be > 0 and finite, got 0.0"),  # as --lr 0 is
        (["C2", "--set", "slow_lr=0"], "C2's slow_lr must be > 0 and finite, got 0.0"),  # ZeroDivisionError
        (["B3", "--set", "log_every=0"], "B3's log_every must be from 1 to 2**31 - 1, got 0"),  # range()
        (["A3", "--set", "lrs=()"], "A3's lrs must be one or more values, each > 0 and finite, got ()"),
        (
            ["B11", "--quick", "--set", "lrs=(0.1, -1)"],
            "B11's lrs must be one or more values, each > 0 and finite",
        ),
        (
            ["B12", "--quick", "--set", "sizes=()"],
            "B12's sizes must be one or more values, each from 1 to 2**31 - 1",
        ),
        (
            ["B10", "--quick", "--set", "hidden=(512, 0)"],
            "B10's hidden must be one or more values, each from 1",
        ),
        (["C5", "--set", "hidden=0"], "C5's hidden must be from 1 to 2**31 - 1, got 0"),
        (["B10", "--quick", "--set", "drop_prob=1"], "B10's drop_prob must be from 0 to 1, 1 excluded"),
        (
            ["D2", "--quick", "--set", "valid_fraction=1.5"],
            "D2-D3's valid_fraction must be between 0 and 1",
        ),  # 50/50
        (["A2", "--set", "sweep_seeds=0"], "A2's sweep_seeds must be from 1 to 10000, got 0"),
        (
            ["A5", "--quick", "--set", "chunks=9"],
            "A5's chunks must be from 1 to 8 (the chunks A to H), got 9",
        ),
        (["B6", "--quick", "--set", "weight_init=glorot"], "B6's weight_init must be one of he_normal"),
        (
            ["A1", "--config", "NAN"],
            "A1's theta0 must be between 0 and 1, both excluded (log L is -inf at 0 and 1), got nan",
        ),
        (["A1", "--lr", "0"], "argument --lr: must be > 0 and finite, got 0"),  # the flag: the same rule
    ],
)
def test_a_setting_outside_its_rule_is_one_line_and_exit_2_however_it_is_given(
    capsys, untouched, args, message
):
    """The value, not only the type, of every setting: a flag, --set and --config meet the same
    rule (``limits``), before anything runs."""
    out, unchanged = untouched
    (out.parent / "nan.toml").write_text("[A1]\ntheta0 = nan\n")  # "NAN": a config file with a TOML nan
    args = [str(out.parent / "nan.toml") if a == "NAN" else a for a in args]
    try:
        code = cli.main([*args, "--out", str(out)])
    except SystemExit as e:  # argparse's (the flags): the same one line
        code = e.code
    assert code == 2
    assert message in one_line(capsys.readouterr().err)
    assert unchanged()


def test_numbers_may_be_written_as_1e3():
    args = flags.parser().parse_args(["D1", "--epochs", "1e3", "--seed", "4294967295"])
    assert (args.epochs, args.seed) == (1000, 4294967295)


def test_an_output_folder_that_cannot_be_written_is_one_line_and_exit_2(capsys, tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    for out in (tmp_path / "a_file", tmp_path / "a_file" / "below", Path("/proc/jaxnets-results")):
        assert cli.main(["D1", "--out", str(out)]) == 2
        assert f"cannot write results to {out}" in one_line(capsys.readouterr().err)
    assert (tmp_path / "a_file").read_text() == "not a folder"


@pytest.mark.parametrize("damage", ['{"id": "A2", "checks"', "[]", '{"id": 1}', "WALL"])
def test_a_damaged_result_of_another_experiment_breaks_neither_the_report_nor_the_estimate(
    capsys, earlier, damage
):
    out, unchanged = earlier
    folder = out / "overfitting"
    folder.mkdir()
    if damage == "WALL":  # well-formed JSON with a wrong type inside
        result = json.loads((out / "linear_regression" / "result.json").read_text())
        damage = json.dumps({**result, "wall_time_s": "slow", "id": "A2"})
    (folder / "result.json").write_text(damage)
    assert cli.main(["A2", "D1", "--quick", "--out", str(out.parent / "other")]) == 0
    assert cli.main(["D1", "--out", str(out)]) == 0  # report over the folder, estimate
    report = (out / "REPORT.md").read_text()
    assert "| D1 " in report and "| A2 " not in report
    capsys.readouterr()


def test_a_second_run_into_the_same_folder_stops_and_touches_nothing(capsys, earlier):
    out, unchanged = earlier
    lock = out / ".locks" / "linear_regression"
    with runner._locked(lock, out / "linear_regression"):  # a first run, still running
        assert cli.main(["D1", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"another run is writing {out / 'linear_regression'} (process {os.getpid()})" in err
        assert "wait for it to finish, or give this run another --out" in err
    assert unchanged()
    assert cli.main(["D1", "--out", str(out)]) == 0  # once it is done, the folder is free


@pytest.mark.parametrize("deleted", ["linear_regression.png", "history.csv"])
def test_resume_runs_again_a_finished_result_whose_files_were_deleted(capsys, earlier, deleted):
    out, _ = earlier
    (out / "linear_regression" / deleted).unlink()
    assert cli.main(["D1", "--out", str(out), "--resume"]) == 0
    assert "finished earlier" not in capsys.readouterr().out
    assert (out / "linear_regression" / deleted).exists()
    assert cli.main(["D1", "--out", str(out), "--resume"]) == 0
    assert "finished earlier with these settings (kept, --resume)" in capsys.readouterr().out


def test_a_leftover_unfinished_run_of_other_settings_says_how_to_clear_it(capsys, earlier):
    out, unchanged = earlier
    work = out / "linear_regression" / runner.WORK
    work.mkdir()
    (work / "config.json").write_text('{"seed": 99}')
    assert cli.main(["D1", "--out", str(out), "--resume"]) == 2
    err = one_line(capsys.readouterr().err)
    assert "has other settings (" in err and "or without --resume to start afresh (which deletes it)" in err
    assert unchanged()
    assert cli.main(["D1", "--out", str(out)]) == 0 and not work.exists()


def test_two_tables_of_one_experiment_that_disagree_are_refused_as_two_sets_are(capsys, untouched):
    out, unchanged = untouched
    config = out.parent / "c.toml"
    config.write_text("[A1]\nk = 30\n[thumbtack_mle]\nk = 40\n")
    assert cli.main(["A1", "--config", str(config), "--out", str(out)]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"--config {config}: tables [A1] and [thumbtack_mle] are both A1's, and set k to 30 and 40" in line
    assert line.endswith("give it once")
    assert unchanged()
    config.write_text("[A1]\nk = 30\n[thumbtack_mle]\nk = 30\nepochs = 5\n")  # agreeing: one setting
    assert cli.main(["A1", "--config", str(config), "--out", str(out.parent / "other")]) == 0
    saved = json.loads((out.parent / "other" / "thumbtack_mle" / "result.json").read_text())["config"]
    assert (saved["k"], saved["epochs"]) == (30, 5)


def test_resume_takes_the_data_folder_given_by_flag_that_the_first_run_found_by_variable(
    monkeypatch, capsys, tmp_path
):
    """The data folder is no setting: where a run found it through $JAXNETS_DATA_DIR, --resume
    with --data-dir naming the same folder goes on (and keeps a result finished that way)."""
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "data"))
    ran = []

    def run(config, ws):
        ran.append(config.data_dir)
        if len(ran) == 1:
            raise KeyboardInterrupt  # the first run, stopped
        return {"history": [{"epoch": 1, "loss": 0.5}], "valid_accuracy": 0.98, "params_identical": True}

    patch_run(monkeypatch, "C4", run)
    out = tmp_path / "results"
    assert cli.main(["C4", "--out", str(out)]) == 130
    again = ["C4", "--out", str(out), "--resume", "--data-dir", str(tmp_path / "data")]
    assert cli.main(again) == 0, capsys.readouterr().err
    assert ran == [None, str(tmp_path / "data")]
    assert cli.main(["C4", "--out", str(out), "--resume"]) == 0  # finished with it: kept
    assert "finished earlier with these settings (kept, --resume)" in capsys.readouterr().out
    assert len(ran) == 2


def test_an_interrupted_experiment_without_checkpoints_says_it_starts_again(monkeypatch, capsys, tmp_path):
    def interrupted(config, ws):
        raise KeyboardInterrupt

    patch_run(monkeypatch, "A2", interrupted)
    assert cli.main(["A2", "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert (
        "A2 had saved nothing (it keeps no checkpoints, or had not finished an epoch): it starts again" in err
    )


def test_damaged_data_fails_all_while_missing_data_is_skipped(monkeypatch, capsys, tmp_path):
    make_dataset(tmp_path / "bad" / "mnist", corrupt="train_images")
    subset = [experiments.load(n) for n in ("D1", "B1", "D2")]
    monkeypatch.setattr(plan, "all_experiments", lambda: subset)
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    code = cli.main(["all", "--quick", "--data-dir", str(tmp_path / "bad"), "--out", str(tmp_path / "r")])
    captured = capsys.readouterr()
    assert code == 1 and "error: B1-B2: " in captured.err and "not a valid gzip file" in captured.err
    assert "1 passed, 2 failed, 0 skipped" in captured.out  # D2-D3: its damaged mnist, too
    (tmp_path / "none").mkdir()
    code = cli.main(["all", "--quick", "--data-dir", str(tmp_path / "none"), "--out", str(tmp_path / "r")])
    assert code == 0 and "1 passed, 0 failed, 2 skipped" in capsys.readouterr().out


@needs_mnist
def test_an_explicit_data_folder_without_the_files_does_not_fall_back(capsys, tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    assert os.environ.get(data.ENV_VAR), "the data folder variable points at the real data"
    assert cli.main(["B1", "--quick", "--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path)]) == 1
    assert "no mnist files in" in capsys.readouterr().err


@needs_fashion
def test_fashion_mnist_under_mnist_is_refused_unless_accepted(capsys, tmp_path):
    real = data._find_folder("fashion_mnist", None)
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    for name in data.IDX_FILES.values():
        os.symlink((real / name).resolve(), tmp_path / "data" / "mnist" / name)
    args = [
        "B1",
        "--quick",
        "--epochs",
        "1",
        "--data-dir",
        str(tmp_path / "data"),
        "--out",
        str(tmp_path / "r"),
    ]
    assert cli.main(args) == 1
    assert "not the standard file's contents" in one_line(capsys.readouterr().err)
    assert not (tmp_path / "r" / "quick" / "mnist_softmax" / "result.json").exists()
    assert cli.main([*args, "--accept-data"]) == 0  # trains (a quick run's bars inform, never fail it)
    assert "Traceback" not in capsys.readouterr().err
    assert (tmp_path / "r" / "quick" / "mnist_softmax" / "result.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--coordinator", "127.0.0.1", "--num-processes", "2", "--process-id", "0"], "must be HOST:PORT"),
        (["--num-processes", "2", "--process-id", "0"], "(missing: --coordinator)"),
        (["--coordinator", "127.0.0.1:1234", "--num-processes", "2", "--process-id", "2"], "from 0 to 1"),
        (["--coordinator", "auto", "--process-id", "1"], "drop --num-processes and --process-id"),
        (["--coordinator", "auto"], "--coordinator auto found no job to join"),
    ],
)
def test_bad_multi_process_flags_are_one_line_and_exit_2(capsys, untouched, args, message):
    out, unchanged = untouched
    assert cli.main(["D1", *args, "--out", str(out)]) == 2
    assert message in one_line(capsys.readouterr().err)
    assert unchanged()


@pytest.mark.parametrize(
    "args",
    [
        ["A2", "--quick", "--seed", str(flags.MAX_SEED)],  # the documented largest seed: offsets wrap
        ["D1", "--seed", str(flags.MAX_SEED), "--seeds", "2"],
        pytest.param(["A5", "--quick", "--lr", "1e30"], marks=needs_mnist),  # every seed diverges at once
    ],
    ids=["A2-largest-seed", "D1-largest-seed-2-seeds", "A5-lr-1e30"],
)
def test_documented_extremes_give_a_result_not_a_traceback(args, capsys, tmp_path):
    assert cli.main([*args, "--out", str(tmp_path)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert list(tmp_path.rglob("result.json"))


def test_a_foreign_or_hand_edited_result_is_listed_once_and_breaks_no_report(capsys, earlier):
    out, _ = earlier
    saved = json.loads((out / "linear_regression" / "result.json").read_text())
    for check in saved["checks"]:
        check["placement"] = {"inside": True}  # hand-edited: no "z"
    (out / "linear_regression" / "result.json").write_text(json.dumps(saved))
    (out / "overfitting").mkdir()
    (out / "overfitting" / "result.json").write_text(json.dumps(saved))  # D1's result in A2's folder
    assert cli.main(["A1", "--out", str(out)]) == 0
    report = (out / "REPORT.md").read_text()
    assert report.count("| D1 ") == 1 and "| A2 " not in report and "| A1 " in report
    assert "Traceback" not in capsys.readouterr().err


def test_a_report_path_that_is_a_folder_is_one_line_and_exit_2(capsys, earlier):
    out, unchanged = earlier
    (out / "REPORT.md").unlink()
    (out / "REPORT.md").mkdir()
    assert cli.main(["D1", "--out", str(out)]) == 2
    assert "REPORT.md is a folder, where the results' REPORT.md goes" in capsys.readouterr().err
    assert unchanged()


def test_process_0_refuses_a_port_already_taken_in_one_line(capsys, untouched):
    out, unchanged = untouched
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["D1", "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", "0"]
        assert cli.main([*args, "--out", str(out)]) == 2
    assert "process 0 cannot listen at 127.0.0.1:" in one_line(capsys.readouterr().err)
    assert unchanged()


def test_two_processes_started_with_different_settings_both_stop_at_once(tmp_path):
    """A 2-process job whose processes disagree (--epochs) ends on both with one line and exit 2,
    instead of each waiting forever on a collective the other never reaches."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
    env.pop("JAX_PLATFORMS", None)
    job = ["--coordinator", f"127.0.0.1:{free_port()}", "--num-processes", "2", "--out", str(tmp_path)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "experiments", "D1", "--epochs", epochs, *job, "--process-id", i],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, epochs in (("0", "5"), ("1", "6"))
    ]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 2, err[-2000:]
        assert "started with different settings (process(es) 1 differ from process 0)" in err
        assert "Traceback" not in err
    assert not list(tmp_path.rglob("result.json"))


@pytest.mark.parametrize(
    "error, message",
    [
        (
            RuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 9 GB"),
            "out of memory (RESOURCE_EXHAUSTED",
        ),
        (OSError(28, "No space left on device", "plot.png"), "could not write its results (No space left"),
        (OSError(27, "File too large", "plot.png"), "(File too large: plot.png): raise the file-size limit"),
        (OSError(122, "Disk quota exceeded", "x.csv"), "(Disk quota exceeded: x.csv): free some of your"),
        (  # a checkpoint's write, as Orbax reports TensorStore's failure
            ValueError("OUT_OF_RANGE: Error writing ...: File too large [os_error_code='27']"),
            "could not write its results (File too large: the results folder)",
        ),
    ],
)
def test_a_machine_failure_is_one_line_and_exit_1(monkeypatch, capsys, earlier, error, message):
    out, unchanged = earlier

    def run(config, ws):
        raise error

    patch_run(monkeypatch, "D1", run)
    assert cli.main(["D1", "--epochs", "5", "--out", str(out)]) == 1
    assert message in one_line(capsys.readouterr().err)
    assert unchanged()


def test_a_file_size_limit_is_one_line_and_exit_1_and_keeps_the_results(earlier):
    """Past ``ulimit -f`` (SIGXFSZ ignored, as a shell that sets the limit leaves it), a write
    fails with EFBIG: the run says so in one line, and the earlier results stay as they were."""
    out, unchanged = earlier
    limited = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000)); "
        "from experiments.harness import cli; sys.exit(cli.main(sys.argv[1:]))"
    )
    args = ["D1", "--epochs", "5", "--no-cache", "--out", str(out)]
    run = subprocess.run([sys.executable, "-c", limited, *args], capture_output=True, text=True, timeout=240)
    assert run.returncode == 1, run.stderr[-3000:]
    assert "could not write its results (File too large" in one_line(run.stderr)
    assert unchanged()


@pytest.mark.parametrize(
    ("victim", "sig", "code", "message"),
    [
        (0, signal.SIGINT, 130, "process 0 of the job was interrupted (Ctrl-C or SIGTERM)"),
        (1, signal.SIGKILL, -9, "one of them stopped or died"),  # gloo's closed connection, at once
        (1, signal.SIGSTOP, None, "process 1 of the job stopped answering 15 s ago"),  # frozen: no word
    ],
)
def test_a_job_that_loses_a_process_stops_on_every_process_in_one_line(tmp_path, victim, sig, code, message):
    """A 2-process job (D1, training on and on) whose process ``victim`` is interrupted, killed or
    frozen: the other stops too, with one line saying which process and why and how to go on
    (exit 1), within the bounds stated in docs/devices.md; no traceback, no JAX abort dump."""
    procs = training_job(tmp_path)
    try:
        procs[victim].send_signal(sig)
        sent = time.monotonic()
        other = procs[1 - victim]
        try:
            _, err = other.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # where both wait: their threads' stacks (the CLI's SIGUSR1)
            alive = [p for p in procs if p.poll() is None]
            for p in alive:
                p.send_signal(signal.SIGUSR1)
            time.sleep(2)
            for p in alive:
                p.kill()
            errs = [p.communicate()[1] for p in procs]
            pytest.fail(
                f"process {1 - victim} did not stop in 60 s; its stderr:\n{errs[1 - victim][-8000:]}\n"
                f"process {victim}'s stderr:\n{errs[victim][-8000:]}"
            )
        took = time.monotonic() - sent
        if code is not None:  # (process 0 leaves last: the coordination service ends with it)
            _, victim_err = procs[victim].communicate(timeout=60)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert other.returncode == 1, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0] and "this process stops too" in lines[0], err[-3000:]
    assert "--resume" in lines[0] and "Traceback" not in err and "Check failure" not in err
    assert took < (20 if sig == signal.SIGSTOP else 5), f"{took:.1f} s"
    if code is not None:
        assert procs[victim].returncode == code and "Traceback" not in victim_err, victim_err[-3000:]
