"""Bad input to ``python -m twins``: one line that names the problem and the fix, exit code 2,
before any twin runs (so without PyTorch); ``fidelity`` with one side of a comparison only says
which and the command that makes it."""

from __future__ import annotations

import json

import pytest

from tests.helpers import one_line
from twins import __main__ as twins_cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["A2", "--seeds", "0", "--out", "FOLDER"],
            "error: argument --seeds: must be from 1 to 10000, got 0",
        ),
        (["A2", "--seed", "-1", "--out", "FOLDER"], "error: argument --seed: must be from 0 to 4294967295"),
        (["A2", "--out", "FILE"], "error: cannot write results to FILE (File exists): choose another --out"),
        (["fidelity", "--out", "MISSING"], "error: --out MISSING does not exist: give --out the folder that"),
        (["fidelity", "--out", "FILE"], "error: --out FILE is a file, not a results folder: give --out"),
    ],
)
def test_a_bad_argument_is_one_line_and_exit_2(capsys, tmp_path, args, message):
    (tmp_path / "a_file").write_text("not a folder")
    where = {
        "FILE": str(tmp_path / "a_file"),
        "MISSING": str(tmp_path / "missing"),
        "FOLDER": str(tmp_path / "r"),
    }
    try:
        code = twins_cli.main([where.get(a, a) for a in args])
    except SystemExit as e:  # argparse's
        code = e.code
    assert code == 2
    line = one_line(capsys.readouterr().err)
    for stand_in, path in where.items():
        message = message.replace(stand_in, path)
    assert line.startswith(message), line
    assert (tmp_path / "a_file").read_text() == "not a folder"
    assert not (tmp_path / "missing").exists() and not (tmp_path / "r").exists()


def test_fidelity_with_one_side_only_says_which_is_missing_and_how_to_make_it(capsys, tmp_path):
    folder = tmp_path / "basic_optim"
    folder.mkdir()
    result = {"config": {"seed": 0, "seeds": 3}, "metrics": {"valid_accuracy": {"values": [0.979] * 3}}}
    (folder / "result.json").write_text(json.dumps(result))
    assert twins_cli.main(["fidelity", "--out", str(tmp_path)]) == 2
    line = one_line(capsys.readouterr().err)
    assert line == (
        f"error: C4: the twin's run is missing beside ours ({folder / 'result.json'}): "
        f"python -m twins C4 --seed 0 --seeds 3 --out {tmp_path}"
    )
    assert not (tmp_path / "FIDELITY.md").exists()
    (folder / "result.json").rename(folder / "twin.json")  # the twin's only
    (folder / "twin.json").write_text(json.dumps({"id": "C4", "seeds": [5, 6], "numbers": {}}))
    assert twins_cli.main(["fidelity", "--out", str(tmp_path)]) == 2
    assert one_line(capsys.readouterr().err).endswith(
        f"python -m experiments C4 --seed 5 --seeds 2 --out {tmp_path}"
    )
