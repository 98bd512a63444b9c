"""Checkpoint and resume: a run killed mid-way and resumed ends exactly where an uninterrupted
run ends; checkpoints of another run are refused; Ctrl-C never cuts a save in half."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import chex
import jax
import numpy as np
import pytest

from jaxnets import checkpoint, models, optim
from jaxnets.errors import InputError
from jaxnets.train import TrainState, classification_metrics, create_train_state, fit
from tests.helpers import counting_compiles, untimed

# A BN + dropout net with Adam, shuffled batches: every piece of state a resume must restore.
RUN = """
import json, os, signal, sys, time
import jax, jax.numpy as jnp, numpy as np
from jaxnets import checkpoint, models, optim
from jaxnets.train import classification_metrics, fit, seeded_state

folder, kill_after, out, seeds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rng = np.random.default_rng(0)
x = jnp.asarray(rng.standard_normal((300, 8)), jnp.float32)
y = jnp.asarray(rng.integers(0, 3, 300), jnp.int32)
model = models.MLP((16, 16, 3), batch_norm=True, dropout=0.2)
state, key = seeded_state(
    model, optim.optimizer("adam", 1e-2), x[:1], seed=0, seeds=seeds, metrics_fn=classification_metrics
)

def on_epoch(epoch, state, row):
    if kill_after and epoch == kill_after + 1:  # once epoch k's checkpoint is complete on disk, die at once
        while checkpoint.latest_epoch(folder) != kill_after:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGKILL)

fitted = fit(
    state, (x, y), epochs=6, batch_size=32, key=key, valid=(x, y), checkpoint_dir=folder, on_epoch=on_epoch
)
s = fitted.state
leaves = jax.tree.leaves((s.params, s.batch_stats, s.opt_state, s.step, jax.random.key_data(s.key)))
np.savez(out + ".npz", *[np.asarray(a) for a in leaves], **{"steps_" + k: v for k, v in fitted.steps.items()})
untimed = lambda rows: [{k: v for k, v in row.items() if k != "time_s"} for row in rows]
runs = fitted.per_run()
history = [untimed(r.rows) for r in runs]
json.dump({"history": history, "diverged": [r.diverged for r in runs]}, open(out + ".json", "w"))
"""


def _run(
    tmp_path: Path, folder: str, kill_after: int, out: str, seeds: int = 1
) -> subprocess.CompletedProcess:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    cmd = [
        sys.executable,
        "-c",
        RUN,
        str(tmp_path / folder),
        str(kill_after),
        str(tmp_path / out),
        str(seeds),
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def _load(tmp_path: Path, out: str):
    arrays = np.load(tmp_path / f"{out}.npz")
    return {k: arrays[k] for k in arrays.files}, json.loads((tmp_path / f"{out}.json").read_text())


@pytest.mark.parametrize("seeds", [1, 3])
def test_a_killed_run_resumes_to_the_same_parameters_and_history_bit_for_bit(tmp_path, monkeypatch, seeds):
    """One seed, and three seeds trained as one program (a stacked state). The killed run and its
    resumption are processes of their own; the uninterrupted run runs here."""
    killed = _run(tmp_path, "ckpt", 3, "killed", seeds)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert checkpoint.latest_epoch(tmp_path / "ckpt") == 3, "epochs 1-3 were saved before the kill"
    resumed = _run(tmp_path, "ckpt", 0, "resumed", seeds)
    assert resumed.returncode == 0, resumed.stderr
    monkeypatch.setattr(
        sys, "argv", ["run", str(tmp_path / "fresh"), "0", str(tmp_path / "straight"), str(seeds)]
    )
    exec(RUN, {"__name__": "__main__"})
    (a, history_a), (b, history_b) = _load(tmp_path, "resumed"), _load(tmp_path, "straight")
    assert a.keys() == b.keys() and len(a) > 10
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)  # params, BN stats, Adam, step, key
        assert seeds == 1 or a[name].shape[0] == seeds or name.startswith("steps_")
    assert history_a == history_b
    per_seed = history_a["history"]
    assert len(per_seed) == seeds and all(len(h) == 6 for h in per_seed)


def _setup(n=120):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = rng.integers(0, 2, n).astype(np.int32)
    state = create_train_state(
        models.MLP((8, 2)),
        optim.optimizer("sgd", 0.1),
        x[:1],
        jax.random.key(0),
        metrics_fn=classification_metrics,
    )
    return state, (x, y)


def test_a_finished_run_returns_at_once_and_another_run_is_refused(tmp_path):
    state, data = _setup()
    first = fit(state, data, epochs=3, batch_size=40, key=jax.random.key(1), checkpoint_dir=tmp_path)
    calls = []
    again = fit(
        state,
        data,
        epochs=3,
        batch_size=40,
        key=jax.random.key(1),
        checkpoint_dir=tmp_path,
        on_epoch=lambda *a: calls.append(a),
    )
    assert calls == [] and again.rows == first.rows
    np.testing.assert_array_equal(again.steps["loss"], first.steps["loss"])
    # More epochs continue the same run from its last checkpoint, with the programs compiled for it.
    with counting_compiles() as compiled:
        longer = fit(state, data, epochs=5, batch_size=40, key=jax.random.key(1), checkpoint_dir=tmp_path)
    assert [r["epoch"] for r in longer.rows] == [1, 2, 3, 4, 5]
    assert longer.rows[:3] == first.rows
    assert compiled == [], "the resumed run compiled its epoch again"
    with pytest.raises(InputError, match="belongs to another run.*batch_size"):
        fit(state, data, epochs=5, batch_size=20, key=jax.random.key(1), checkpoint_dir=tmp_path)
    with pytest.raises(InputError, match="at epoch 5, past the 2 asked for"):
        fit(state, data, epochs=2, batch_size=40, key=jax.random.key(1), checkpoint_dir=tmp_path)
    other = create_train_state(
        models.MLP((16, 2)), optim.optimizer("sgd", 0.1), data[0][:1], jax.random.key(0)
    )
    with pytest.raises(InputError, match="belongs to another run .its .*model.* differ"):
        fit(other, data, epochs=6, batch_size=40, key=jax.random.key(1), checkpoint_dir=tmp_path)


@pytest.mark.parametrize(
    ("change", "differ"),
    [
        ("sigmoid", "model"),  # the same shapes, another activation
        ("lr", "optimizer"),  # Adam 1e-2 → 1e-6
        ("data", "data"),  # the same number of examples, other contents
    ],
)
def test_a_checkpoint_of_another_run_is_refused_even_when_every_shape_agrees(tmp_path, change, differ):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((120, 4)).astype(np.float32), rng.integers(0, 2, 120).astype(np.int32)

    def state(activation="relu", lr=1e-2):
        model = models.MLP((8, 2), activation=activation)
        return create_train_state(model, optim.optimizer("adam", lr), x[:1], jax.random.key(0))

    fit(state(), (x, y), epochs=2, batch_size=40, key=jax.random.key(1), checkpoint_dir=tmp_path)
    other = {
        "sigmoid": (state("sigmoid"), (x, y)),
        "lr": (state(lr=1e-6), (x, y)),
        "data": (state(), (x[::-1], y)),
    }
    with pytest.raises(InputError, match=f"belongs to another run .its {differ} differ"):
        fit(*other[change], epochs=4, batch_size=40, key=jax.random.key(1), checkpoint_dir=tmp_path)
    assert (
        len(
            fit(state(), (x, y), epochs=4, batch_size=40, key=jax.random.key(1), checkpoint_dir=tmp_path).rows
        )
        == 4
    )


def test_a_damaged_checkpoint_or_a_file_for_a_folder_is_named_with_the_fix(tmp_path):
    state, data = _setup()
    fit(state, data, epochs=2, batch_size=40, key=jax.random.key(1), checkpoint_dir=tmp_path / "ckpt")
    for path in (tmp_path / "ckpt").rglob("*"):  # truncate every file of the saved state
        if path.is_file() and "state" in path.parts:
            path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 3])
    with pytest.raises(InputError, match="is damaged or unreadable .*delete that folder to start afresh"):
        fit(state, data, epochs=4, batch_size=40, key=jax.random.key(1), checkpoint_dir=tmp_path / "ckpt")
    (tmp_path / "a_file").write_text("not a folder")
    calls = []
    with pytest.raises(InputError, match="is a file: name a folder"):
        fit(
            state,
            data,
            epochs=2,
            batch_size=40,
            key=jax.random.key(1),
            checkpoint_dir=tmp_path / "a_file",
            on_epoch=lambda *a: calls.append(a),
        )
    assert calls == [], "refused before training an epoch"


def test_a_diverged_run_that_stopped_stays_stopped_on_resume(tmp_path):
    state, (x, y) = _setup()
    state = state.replace(
        tx=optim.optimizer("sgd", 1e30), opt_state=optim.optimizer("sgd", 1e30).init(state.params)
    )
    stopped = fit(
        state, (x * 1e20, y), epochs=8, batch_size=40, key=jax.random.key(1), checkpoint_dir=tmp_path
    )
    stopped = stopped.run(0)
    assert stopped.diverged is not None and len(stopped.rows) == stopped.diverged.epoch < 8
    again = fit(state, (x * 1e20, y), epochs=8, batch_size=40, key=jax.random.key(1), checkpoint_dir=tmp_path)
    again = again.run(0)
    assert again.diverged == stopped.diverged and len(again.rows) == len(stopped.rows)


class _StateWithEma(TrainState):
    """A state a user extends with a field of their own (an exponential moving average)."""

    ema: Any = None


def test_every_array_field_of_the_state_is_saved_including_one_a_subclass_adds(tmp_path):
    state, _ = _setup()
    state = _StateWithEma(
        **{f.name: getattr(state, f.name) for f in dataclasses.fields(state)}, ema=state.params
    )
    assert set(checkpoint.saved_fields(state)) == {"step", "params", "opt_state", "batch_stats", "key", "ema"}
    trained = state.replace(ema=jax.tree.map(lambda p: p + 1.0, state.params), step=7)
    with checkpoint.Checkpointer(tmp_path, {"run": 1}) as saver:
        saver.save(
            1, trained, {"history": [], "steps": {"loss": np.ones(3)}, "diverged": None, "stopped": False}
        )
    with checkpoint.Checkpointer(tmp_path, {"run": 1}) as saver:
        epoch, restored, record = saver.restore(state)
    assert epoch == 1 and int(restored.step) == 7 and record["steps"]["loss"].tolist() == [1, 1, 1]
    chex.assert_trees_all_equal(restored.ema, trained.ema)  # not its initial value
    chex.assert_trees_all_equal(jax.random.key_data(restored.key), jax.random.key_data(trained.key))
    with (
        checkpoint.Checkpointer(tmp_path, {"run": 2}) as saver,
        pytest.raises(InputError, match="another run"),
    ):
        saver.restore(state)


def test_checkpoint_every_saves_each_nth_epoch_and_the_last_and_a_stop_resumes_from_the_last_save(
    tmp_path, monkeypatch
):
    state, data = _setup()
    saved: list[int] = []
    save = checkpoint.Checkpointer.save
    monkeypatch.setattr(
        checkpoint.Checkpointer,
        "save",
        lambda self, epoch, *a: (saved.append(epoch), save(self, epoch, *a))[1],
    )
    straight = fit(
        state,
        data,
        epochs=5,
        batch_size=40,
        key=jax.random.key(1),
        checkpoint_dir=tmp_path / "every2",
        checkpoint_every=2,
    )
    assert saved == [2, 4, 5], "epochs 2 and 4, and the last"

    def stop_in_epoch_4(epoch, state, row):
        if epoch == 4:
            raise KeyboardInterrupt

    saved.clear()
    with pytest.raises(KeyboardInterrupt):
        fit(
            state,
            data,
            epochs=5,
            batch_size=40,
            key=jax.random.key(1),
            checkpoint_dir=tmp_path / "stopped",
            checkpoint_every=3,
            on_epoch=stop_in_epoch_4,
        )
    assert saved == [3] and checkpoint.latest_epoch(tmp_path / "stopped") == 3
    resumed = fit(
        state,
        data,
        epochs=5,
        batch_size=40,
        key=jax.random.key(1),
        checkpoint_dir=tmp_path / "stopped",
        checkpoint_every=3,
    )
    assert saved == [3, 5] and [r["epoch"] for r in resumed.rows] == [1, 2, 3, 4, 5]
    assert untimed(resumed.rows) == untimed(straight.rows)
    chex.assert_trees_all_equal(resumed.state.params, straight.state.params)
    for every in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="checkpoint_every must be a whole number >= 1"):
            fit(
                state,
                data,
                epochs=5,
                batch_size=40,
                key=jax.random.key(1),
                checkpoint_dir=tmp_path / "x",
                checkpoint_every=every,
            )


def test_leaving_on_an_error_reports_that_error_not_the_save_in_flight(tmp_path, monkeypatch):
    """Ctrl-C (or a full disk) while a checkpoint is written: the error that stopped the run comes
    out, not the unfinished save's failure on top of it."""
    saver = checkpoint.Checkpointer(tmp_path / "ckpt", {"data": 1})

    def failing_close():
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(saver.manager, "close", failing_close)
    with pytest.raises(KeyboardInterrupt), saver:
        raise KeyboardInterrupt
    with pytest.raises(OSError, match="No space left"), saver:  # leaving normally: its failure is the error
        pass


def test_a_ctrl_c_while_orbax_starts_a_save_comes_after_the_save_call(tmp_path, monkeypatch):
    """Python raises a KeyboardInterrupt between any two bytecodes; raised inside Orbax's ``save``,
    it left Orbax's threads waiting for a signal that never came (the process hung at its exit).
    A Ctrl-C that lands while the save call runs (here: made slow) comes after it, and the save
    is kept."""
    state, _ = _setup()
    record = {"history": [], "steps": {"loss": np.ones(3)}, "diverged": None, "stopped": False}
    with checkpoint.Checkpointer(tmp_path, {"run": 1}) as saver:
        save = saver.manager.save

        def slow_save(*args: Any, **kwargs: Any) -> Any:
            time.sleep(1.0)  # the Ctrl-C lands meanwhile
            return save(*args, **kwargs)

        monkeypatch.setattr(saver.manager, "save", slow_save)
        # Python's Ctrl-C handler, also where the tests run as a background job (SIGINT ignored).
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
            with pytest.raises(KeyboardInterrupt):
                saver.save(1, state, record)
                time.sleep(5.0)  # (where the save call ended before the Ctrl-C came)
        finally:
            signal.signal(signal.SIGINT, previous)
    assert checkpoint.latest_epoch(tmp_path) == 1
