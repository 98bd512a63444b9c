"""Multi-process training: 2 processes × 2 simulated CPU devices, talking over 127.0.0.1, train as
one device does, from data on the devices or streamed (each process reading its own rows); a
checkpointed 2-process run stopped in epoch 2 and resumed from epoch 1's checkpoint ends as one
that never stopped; a killed process is reported by the other within a bounded time.

Each process is this file run as a script (``python -m tests.test_distributed ID PORT DIR``), since
the device count and the job are fixed when JAX starts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import optax
import pytest

from jaxnets import models, parallel, train
from jaxnets.checkpoint import latest_epoch
from jaxnets.errors import InputError
from tests.helpers import (
    fit_four_classes,
    four_classes,
    four_classes_state,
    free_port,
    interrupt_at_epoch_2,
    max_diff,
    untimed,
)

ROOT = Path(__file__).parents[1]
TIMEOUT_S = 240  # each process; a hang fails the test instead of blocking it
DEVICES = 4  # in all: 2 per process in the 2-process job (every device is a gloo peer: 4 keep it quick)


def _start(process_id: int, port: int, folder: Path) -> subprocess.Popen:
    """Process ``process_id`` of the 2-process job."""
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={DEVICES // 2}"}
    env.pop("JAX_PLATFORMS", None)
    args = [sys.executable, "-m", "tests.test_distributed", str(process_id), str(port)]
    return subprocess.Popen(
        [*args, str(folder)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"a process did not finish within {TIMEOUT_S} s (a hang): {err[-2000:]}")
    return proc.returncode, out, err


def test_two_processes_train_like_one_resume_and_stop_when_one_dies(tmp_path: Path) -> None:
    """One 2-process job (and, meanwhile, the same run on this process's one device to compare
    with): the numbers, then a kill."""
    port = free_port()
    survivor, victim = (_start(i, port, tmp_path) for i in (0, 1))
    _, one = _straight(*_net())
    victim_code, victim_out, victim_err = _finish(victim)
    died = time.monotonic()
    code, out, err = _finish(survivor)
    two = [json.loads((tmp_path / f"{i}.json").read_text()) for i in (0, 1)]
    assert two[0]["devices"] == DEVICES and two[0]["local_devices"] == DEVICES // 2
    assert two[0]["processes"] == 2 and two[0]["state_devices"] == DEVICES
    # Same batches, same dropout masks, batch norm over the global batch: only the order of
    # float additions differs between 2 processes × 2 devices and one device.
    for name in ("loss", "params", "batch_stats"):
        a, b = np.asarray(one[name]), np.asarray(two[0][name])
        assert np.max(np.abs(a - b)) <= 1e-5 * max(1.0, np.max(np.abs(a))), name
    assert np.asarray(two[0]["loss"])[-12:].mean() < np.asarray(two[0]["loss"])[:12].mean()
    # Both processes hold the same numbers, and the run stopped in epoch 2 and resumed from
    # epoch 1's checkpoint (written and read by both) ends as the straight run, bit for bit.
    assert two[0] == two[1]
    assert two[0]["caller_state_alive"] and two[0]["refit_diff"] == 0.0, "fit twice from one state"
    assert two[0]["resumed_from"] == 1 and two[0]["resumed_diff"] == 0.0 and two[0]["history_equal"]
    # Streamed, each process reading its own half of every batch: the on-device path's numbers.
    assert two[0]["streamed_path"].startswith("streamed") and two[0]["streamed_diff"] <= 1e-5
    assert f"use a batch size that is a multiple of {DEVICES}" in two[0]["uneven_stream"]
    # Then process 1 kills itself (SIGKILL) after epoch 2 of a long run: JAX stops process 0
    # with a clear message within the heartbeat timeout, instead of leaving it hanging.
    assert victim_code == -9 and "epoch 2" in victim_out, victim_err[-2000:]
    assert code != 0 and "finished" not in out, "the survivor must not go on as if nothing happened"
    assert "another task died" in err, err[-2000:]
    assert time.monotonic() - died < 60, "reported within the heartbeat timeout, not a hang"


def _train(process_id: int, folder: Path) -> None:
    """The run of ``_straight``, the same streamed, and (with a checkpoint) stopped in epoch 2
    and resumed from epoch 1's checkpoint; the numbers, as JSON, in ``folder``; then a kill."""
    model, tx = _net()
    straight, out = _straight(model, tx)
    # The streaming path: each process reads its half of every batch (Grain), same numbers.
    streamed = fit_four_classes(model, tx, None, 64, stream=True)
    out["streamed_path"] = streamed.data_path
    try:  # 66 rows do not split over 4 devices: refused, with what to do
        fit_four_classes(model, tx, None, 66, stream=True)
        out["uneven_stream"] = "accepted"
    except InputError as e:
        out["uneven_stream"] = str(e)
    out["streamed_diff"] = max(
        float(np.max(np.abs(streamed.steps["loss"] - straight.steps["loss"]))),
        max_diff(streamed.state.params, straight.state.params),
    )
    # The caller's state survives fit on every device of the job (fit donates its own copy):
    # fit twice from one state, and from a state the caller placed on the job's mesh.
    x, y = four_classes()
    state = four_classes_state(model, tx)
    placed = parallel.replicate(state, parallel.data_mesh())
    again = [
        train.fit(s, (x, y), epochs=3, batch_size=64, key=jax.random.key(2), valid=(x, y))
        for s in (state, state, placed, placed)
    ]
    out["caller_state_alive"] = not any(a.is_deleted() for a in jax.tree.leaves((state, placed)))
    out["refit_diff"] = max(max_diff(straight.state.params, f.state.params) for f in again)
    checkpoints = folder / "checkpoints"
    try:
        fit_four_classes(model, tx, None, 64, checkpoint_dir=checkpoints, on_epoch=interrupt_at_epoch_2)
    except KeyboardInterrupt:
        pass
    out["resumed_from"] = latest_epoch(checkpoints)
    resumed = fit_four_classes(model, tx, None, 64, checkpoint_dir=checkpoints)
    out["resumed_diff"] = max_diff(
        (resumed.state.params, resumed.state.batch_stats, resumed.state.opt_state),
        (straight.state.params, straight.state.batch_stats, straight.state.opt_state),
    )
    out["history_equal"] = untimed(resumed.rows) == untimed(straight.rows)
    (folder / f"{process_id}.json").write_text(json.dumps(out))
    _kill(process_id, model, tx)


def _kill(process_id: int, model, tx) -> None:
    """Train on and on (the programs compiled above); process 1 kills itself (SIGKILL) after epoch 2."""

    def on_epoch(epoch, state, row):
        print(f"epoch {epoch}", flush=True)
        if process_id == 1 and epoch == 2:
            os.kill(os.getpid(), signal.SIGKILL)

    fit_four_classes(model, tx, None, 64, epochs=1000, on_epoch=on_epoch)
    print("finished", flush=True)


def _net() -> tuple[models.MLP, optax.GradientTransformation]:
    """A BN + dropout MLP and SGD with momentum (see test_parallel for why not Adam)."""
    return models.MLP((32, 32, 4), batch_norm=True, dropout=0.3), optax.sgd(0.1, momentum=0.9)


def _straight(model, tx) -> tuple[train.FitResult, dict]:
    """``_net`` trained for 3 epochs on every device of the job, and its numbers. (One ``tx``
    for the runs of a process: the optimizer is part of the compiled program.)"""
    straight = fit_four_classes(model, tx, None, 64)
    return straight, {
        "devices": jax.device_count(),
        "local_devices": jax.local_device_count(),
        "processes": jax.process_count(),
        "state_devices": len(jax.tree.leaves(straight.state.params)[0].sharding.device_set),
        "loss": straight.steps["loss"].tolist(),
        "params": _flat(straight.state.params),
        "batch_stats": _flat(straight.state.batch_stats),
    }


def _flat(tree) -> list[float]:
    return np.concatenate([np.ravel(a) for a in jax.tree.leaves(jax.device_get(tree))]).tolist()


if __name__ == "__main__":
    process_id, port, folder = sys.argv[1:]
    # As a user's script joins a job: JAX's own multi-process runtime (the library needs nothing else).
    jax.distributed.initialize(
        f"127.0.0.1:{port}", 2, int(process_id), initialization_timeout=60, heartbeat_timeout_seconds=10
    )
    _train(int(process_id), Path(folder))
