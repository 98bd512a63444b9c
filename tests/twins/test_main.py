"""``python -m twins``: runs a twin over the experiment's seeds and saves twin.json after each seed,
with the notes' figures and the curves, so that a stopped run keeps what it finished."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch", reason="the twins need PyTorch: pip install -e '.[twin]'")

from twins import __main__ as twins_cli  # noqa: E402


def test_a_twin_run_saves_every_seed(tmp_path, capsys):
    assert twins_cli.main(["A2", "--seeds", "3", "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "overfitting" / "twin.json").read_text())
    assert record["id"] == "A2" and record["seeds"] == [1, 2, 3]  # A2's first seed is 1
    assert all(len(v) == 3 for v in record["numbers"].values()) and record["spec"]
    assert "A2 twin: 3 seed(s)" in capsys.readouterr().out


def test_a_stopped_twin_run_keeps_the_seeds_it_finished(tmp_path, monkeypatch):
    from twins import overfitting

    real, calls = overfitting.run, []

    def stops_at_the_third(seed, data_dir=None):
        calls.append(seed)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(seed, data_dir)

    monkeypatch.setattr(overfitting, "run", stops_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        twins_cli.main(["A2", "--seeds", "5", "--out", str(tmp_path)])
    record = json.loads((tmp_path / "overfitting" / "twin.json").read_text())
    assert record["seeds"] == [1, 2] and all(len(v) == 2 for v in record["numbers"].values())


def test_a_rerun_keeps_the_seeds_done_and_runs_only_the_others(tmp_path, monkeypatch, capsys):
    from twins import overfitting

    assert twins_cli.main(["A2", "--seeds", "2", "--out", str(tmp_path)]) == 0
    first = json.loads((tmp_path / "overfitting" / "twin.json").read_text())
    real, calls = overfitting.run, []
    monkeypatch.setattr(overfitting, "run", lambda seed, d=None: calls.append(seed) or real(seed, d))
    assert twins_cli.main(["A2", "--seeds", "4", "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "overfitting" / "twin.json").read_text())
    assert calls == [3, 4] and record["seeds"] == [1, 2, 3, 4]
    assert all(v[:2] == first["numbers"][k] for k, v in record["numbers"].items())
    assert "seed(s) [1, 2] already in" in capsys.readouterr().out


def test_an_unknown_twin_is_refused(capsys):
    assert twins_cli.main(["B6"]) == 2
    assert "no twin for 'B6'" in capsys.readouterr().err
