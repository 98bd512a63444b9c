"""Every code block of the README and of docs/ works as written. Python blocks are executed
(fragments get small stand-ins for the names they take from their page: a 784-feature data set,
a model, a state); every command of a bash block is checked as the command line would take it
(flags, experiment names, settings, modules, files, extras), and the quick ones (`list`, A1, A4,
`--help`) run; a TOML block is the config file its page's commands read."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import shlex
import sys
import tomllib
import types
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments.harness import cli, flags, plan
from jaxnets import models
from jaxnets.train import fit, train_step
from tests.helpers import state_for

ROOT = Path(__file__).resolve().parents[1]
GENERATED = {"REPORT.md", "FIDELITY.md", "FIDELITY_100_SEEDS.md", "experiments.md"}
PAGES = [ROOT / "README.md", *(p for p in sorted((ROOT / "docs").glob("*.md")) if p.name not in GENERATED)]
QUICK = {"A1", "A4", "thumbtack_mle", "standardization"}  # run for real: seconds, no data


def _blocks(lang: str) -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for i, m in enumerate(re.finditer(r"```(\w*)\n(.*?)```", page.read_text(), re.S)):
            if m.group(1) == lang:
                found.append((f"{page.relative_to(ROOT)}#{i}", m.group(2)))
    return found


def _stand_ins(folder: Path) -> dict:
    """What the fragments take from their page: data of 784 features (x, y, x_test, y_test; the
    same rows as a file ``train_x.f32`` of ``n`` rows for the streaming page), a model, an
    optimizer, a state, a key and a few epochs."""
    rng = np.random.default_rng(0)
    n = 600
    x = rng.standard_normal((n, 784)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    x.tofile(folder / "train_x.f32")
    model = models.MLP((16, 2))
    return {
        "np": np,
        "jax": jax,
        "jnp": jnp,
        "n": n,
        "x": jnp.asarray(x),
        "y": jnp.asarray(y),
        "labels": y,
        "x_test": jnp.asarray(x[:200]),
        "y_test": jnp.asarray(y[:200]),
        "model": model,
        "tx": optax.adam(1e-2),
        "state": state_for(model, jnp.asarray(x)),
        "key": jax.random.key(0),
        "epochs": 2,
        "batch_size": 100,
        "fit": fit,
        "train_step": train_step,
    }


@pytest.mark.parametrize("where, code", _blocks("python"), ids=[w for w, _ in _blocks("python")])
def test_python_blocks_run(where, code, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = code.replace("epochs=15", "epochs=2").replace("epochs=20", "epochs=3")  # reduced
    module = types.ModuleType("blobs")  # a module of its own, as a page's module would be
    module.__dict__.update(_stand_ins(tmp_path))
    monkeypatch.setitem(sys.modules, "blobs", module)
    exec(compile(code, where, "exec"), module.__dict__)
    printed = capsys.readouterr().out
    if "print(" in code:
        assert printed.strip(), f"{where} prints nothing"
    if "evaluate(fitted.state, (x_test, y_test))" in code:  # the seeds snippet: one accuracy per seed
        assert "[" in printed and len(re.findall(r"\d\.\d+", printed)) == 5, printed


def _commands() -> list[tuple[str, list[str]]]:
    """Each command of every bash block: (where, words), environment assignments left out."""
    found = []
    for where, code in _blocks("bash"):
        for line in code.splitlines():
            line = line.split(" #")[0].strip()
            if not line or line.startswith("#"):
                continue
            for command in line.split("&&"):
                words = shlex.split(command)
                while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                    words = words[1:]
                found.append((where, words))
    return found


def _extras() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])


@pytest.mark.parametrize("where, words", _commands(), ids=[f"{w}:{' '.join(c)}" for w, c in _commands()])
def test_commands_are_ones_the_project_takes(where, words, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for _, toml in _blocks("toml"):  # the config files the pages' commands read
        (tmp_path / "my.toml").write_text(toml)
    program, args = words[0], words[1:]
    if program.endswith("pip"):
        assert (ROOT / args[args.index("-c") + 1]).is_file()
        for extra in re.findall(r"\[([\w,]+)\]", args[-1]):
            assert set(extra.split(",")) <= _extras(), f"{where}: no such extra {extra}"
        return
    if program == "bash":
        assert (ROOT / args[0]).is_file(), f"{where}: no {args[0]}"
        return
    if args[:2] == ["-m", "venv"]:
        return
    assert program.endswith("python") or program.endswith("python3"), f"{where}: what runs {words}?"
    module, args = args[1], args[2:]
    assert importlib.util.find_spec(module) is not None, f"{where}: no module {module}"
    if module.startswith("experiments."):
        name = module.split(".")[1]
        args = [name, *args]
        module = "experiments"
    if module == "twins":
        pytest.importorskip("torch", reason="the twins need PyTorch: pip install -e '.[twin]'")
        import twins

        for name in args:
            if not name.startswith("-") and name not in ("all", "fidelity") and not name.isdigit():
                twins.load(name)
        return
    if module == "pytest":
        assert all((ROOT / a).exists() for a in args if a.startswith("tests/")), f"{where}: no such tests"
    if module != "experiments":
        return
    if "--help" in args:
        with pytest.raises(SystemExit) as exit_, contextlib.redirect_stdout(io.StringIO()) as out:
            cli.main(args)
        assert exit_.value.code == 0 and "its settings" in out.getvalue()
        return
    parsed = flags.parser().parse_args(args)
    if parsed.names == ["list"]:
        assert cli.main(args) == 0
        return
    experiments, configs = plan.plan(parsed)  # raises InputError on anything a run would refuse
    assert experiments and len(configs) == len(experiments)
    if set(parsed.names) <= QUICK and parsed.coordinator is None:
        assert cli.main([*args, "--out", str(tmp_path / "out")]) == 0, capsys.readouterr().err
