"""Every setting reachable: --help per experiment, --set NAME=VALUE, a --config file, and one
line for a setting or value that is not one."""

import json

import pytest

from experiments.harness import cli


def test_an_experiments_help_lists_its_own_settings_with_defaults(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["A1", "--help"])
    printed = capsys.readouterr().out
    assert exit_.value.code == 0
    assert "A1 (thumbtack_mle): Thumbtack MLE" in printed
    for line in ("k       int    27", "theta0  float  0.5", "epochs  int    100    (also --epochs)"):
        assert line in printed, printed[-600:]


def test_set_reaches_a_setting_without_a_flag_and_the_result_records_it(capsys, tmp_path):
    assert cli.main(["A1", "--set", "k=30", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "thumbtack_mle" / "result.json").read_text())
    assert abs(result["metrics"]["theta_hat"] - 0.30) < 1e-4  # θ̂ = k/n
    assert result["config"]["k"] == 30 and result["changed"] == {"k": {"ran": 30, "notes": 27}}
    printed = " ".join(capsys.readouterr().out.split())  # the verdict line wraps at 100 columns
    assert "informational: at other settings than the notes' (k 30 (notes 27))" in printed


def test_a_config_file_sets_every_named_experiment_then_its_own_table(tmp_path):
    (tmp_path / "c.toml").write_text("epochs = 3\n[A1]\nk = 40\n[standardization]\nlr = 0.01\n")
    out = tmp_path / "out"
    assert cli.main(["A1", "A4", "--config", str(tmp_path / "c.toml"), "--out", str(out)]) == 0
    a1 = json.loads((out / "thumbtack_mle" / "result.json").read_text())["config"]
    a4 = json.loads((out / "standardization" / "result.json").read_text())["config"]
    assert (a1["epochs"], a1["k"], a4["epochs"], a4["lr"]) == (3, 40, 3, 0.01)
    # The flags and --set win over the file.
    assert cli.main(["A1", "--config", str(tmp_path / "c.toml"), "--set", "k=50", "--out", str(out)]) == 0
    assert json.loads((out / "thumbtack_mle" / "result.json").read_text())["config"]["k"] == 50


@pytest.mark.parametrize(
    "args, message",
    [
        (["A1", "--set", "kk=3"], "experiment A1 has no setting 'kk' (did you mean 'k'?)"),
        (["A1", "--set", "k=abc"], "--set k=abc: A1's k is int, and 'abc' is not one (its default: 27)"),
        (["A1", "--set", "k"], "--set 'k': write NAME=VALUE"),
        (["A1", "--set", "epochs=0"], "epochs must be from 1 to"),
        (["A1", "--set", "epochs=5", "--epochs", "6"], "epochs is set twice, by --epochs and by --set"),
        (["B7", "--set", "hidden=(64, 'x')"], "B7-B9's hidden is tuple[int, ...]"),
        (["all", "--set", "kk=3"], "no experiment has a setting 'kk' (did you mean 'k'?)"),
        (["A1", "--config", "/nonexistent.toml"], "--config /nonexistent.toml: cannot read it"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(args, message, capsys, tmp_path):
    assert cli.main([*args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not any(tmp_path.iterdir()), "nothing written"


def test_a_config_file_that_is_not_toml_or_names_no_experiment_is_refused(capsys, tmp_path):
    (tmp_path / "bad.toml").write_text("epochs = \n")
    (tmp_path / "who.toml").write_text("[Z9]\nk = 1\n")
    assert cli.main(["A1", "--config", str(tmp_path / "bad.toml")]) == 2
    assert "is not TOML" in capsys.readouterr().err
    assert cli.main(["A1", "--config", str(tmp_path / "who.toml")]) == 2
    assert "table [Z9]: unknown experiment 'Z9'" in capsys.readouterr().err


def test_a_tuple_setting_takes_a_literal_and_quick_still_applies_under_it(tmp_path):
    out = tmp_path / "out"
    args = ["B4", "--quick", "--epochs", "201", "--set", "sweep_seeds=2", "--out", str(out)]
    assert cli.main(args) == 0
    config = json.loads((out / "quick" / "xor_mlp" / "result.json").read_text())["config"]
    assert (config["epochs"], config["sweep_seeds"]) == (201, 2)
