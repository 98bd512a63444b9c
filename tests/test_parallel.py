"""Data parallelism: training on 8 (simulated CPU) devices equals training on one.

The comparison runs in a subprocess started with
``XLA_FLAGS=--xla_force_host_platform_device_count=8``, since the device count is fixed when
JAX starts; this file is also that subprocess's module (python -m tests.test_parallel).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import jax
import numpy as np
import optax

from jaxnets import checkpoint, losses, models, parallel, train
from jaxnets.errors import InputError
from tests.helpers import fit_four_classes, four_classes, interrupt_at_epoch_2, max_diff

N_DEVICES = 8
# Adam on a plain MLP with batches that split evenly; batch norm and dropout with batches of 100,
# not a multiple of 8, so that XLA pads the last shard (which must not enter the batch statistics).
CASES = (("mlp", 64), ("bn_dropout", 100))


def _compiled_epoch(state, mesh, key, batch_size: int, epoch_mesh=None) -> str:
    """The compiled epoch ``fit`` ran (the same arguments' placement: no new compile), as text."""
    data = parallel.replicate(four_classes(), mesh)
    lowered = train.train_epoch.lower(state, data, key, batch_size=batch_size, shuffle=True, mesh=epoch_mesh)
    return lowered.compile().as_text()


def compare_one_and_many() -> dict:
    """For each net and batch size: the largest differences between the 1-device and the
    8-device run, and facts showing the second one really ran on 8 devices."""
    devices = jax.devices()
    one, many = parallel.data_mesh(devices[:1]), parallel.data_mesh(devices)
    # SGD for the BN net: the bias of a layer followed by BatchNorm has a true gradient of 0, and
    # Adam turns the ±1e-9 rounding noise of that 0 (which depends on the order of additions)
    # into steps of ±lr, so its value differs between device counts while the outputs do not.
    nets = {
        "mlp": (models.MLP((32, 32, 4)), optax.adam(1e-2)),
        "bn_dropout": (models.MLP((32, 32, 4), batch_norm=True, dropout=0.3), optax.sgd(0.1, momentum=0.9)),
    }
    out: dict = {"devices": len(devices)}
    on_many = {}
    for name, batch_size in CASES:
        model, tx = nets[name]
        a = fit_four_classes(model, tx, one, batch_size)
        b = on_many[name] = fit_four_classes(model, tx, many, batch_size)
        leaves = jax.tree.leaves(b.state.params)
        hlo = _compiled_epoch(b.state, many, jax.random.fold_in(jax.random.key(2), 1), batch_size, many)
        out[f"{name}/{batch_size}"] = {
            "loss_diff": float(np.max(np.abs(a.steps["loss"] - b.steps["loss"]))),
            "loss_scale": float(np.max(np.abs(a.steps["loss"]))),
            "param_diff": max_diff(a.state.params, b.state.params),
            "batch_stats_diff": max_diff(a.state.batch_stats, b.state.batch_stats),
            "valid_diff": abs(a.rows[-1]["valid_loss"] - b.rows[-1]["valid_loss"]),
            "state_devices": len(leaves[0].sharding.device_set),
            "all_reduce": "all-reduce" in hlo,
            "loss_falls": bool(b.rows[-1]["train_loss"] < b.rows[0]["train_loss"]),
        }
    # Interrupted in epoch 2 and resumed from epoch 1's checkpoint, on 8 devices: the same run.
    with tempfile.TemporaryDirectory() as folder:
        model, tx = nets["bn_dropout"]
        try:
            fit_four_classes(model, tx, many, 100, checkpoint_dir=folder, on_epoch=interrupt_at_epoch_2)
        except KeyboardInterrupt:
            pass
        resumed_from = checkpoint.latest_epoch(folder)
        resumed = fit_four_classes(model, tx, many, 100, checkpoint_dir=folder)
    straight = on_many["bn_dropout"]
    strip = [[{k: v for k, v in r.items() if k != "time_s"} for r in f.rows] for f in (resumed, straight)]
    out["resumed_8"] = {
        "state_diff": max_diff(
            (resumed.state.params, resumed.state.batch_stats, resumed.state.opt_state),
            (straight.state.params, straight.state.batch_stats, straight.state.opt_state),
        ),
        "history_equal": strip[0] == strip[1],
        "resumed_from": resumed_from,
        "state_devices": len(jax.tree.leaves(resumed.state.params)[0].sharding.device_set),
    }
    # Several seeds of one model: each device trains its own runs, nothing is communicated, and
    # every run ends as it does on one device.
    x, y = four_classes()
    model, tx = nets["bn_dropout"]
    state, keys = train.seeded_state(model, tx, x[:1], seed=0, seeds=8, loss_fn=losses.cross_entropy)
    alone = train.fit(
        state, (x, y), epochs=2, batch_size=64, key=keys, valid=(x, y), mesh=one
    )  # seeds 0-7 on one device
    first_params = {n: jax.tree.map(lambda a, n=n: a[:n], alone.state.params) for n in (8, 4)}
    for seeds in (8, 4):  # seeds 0-7 on the 8 devices, seeds 0-3 on 4 of them
        state, keys = train.seeded_state(model, tx, x[:1], seed=0, seeds=seeds, loss_fn=losses.cross_entropy)
        spread = train.fit(state, (x, y), epochs=2, batch_size=64, key=keys, valid=(x, y))
        mesh = parallel.runs_mesh(seeds)
        epoch_keys = jax.vmap(jax.random.fold_in, (0, None))(parallel.shard_runs(keys, mesh), 1)
        hlo = _compiled_epoch(spread.state, mesh, epoch_keys, 64)
        leaf = jax.tree.leaves(spread.state.params)[0]
        out[f"seeds_{seeds}"] = {
            "state_devices": len(leaf.sharding.device_set),
            "runs_per_device": leaf.addressable_shards[0].data.shape[0],
            "collectives": [
                c for c in ("all-reduce", "all-gather", "collective-permute", "all-to-all") if c in hlo
            ],
            "loss_diff": float(np.max(np.abs(spread.steps["loss"] - alone.steps["loss"][:seeds]))),
            "param_diff": max_diff(spread.state.params, first_params[seeds]),
        }
    # shard_batch: 24 rows go 3 to each device; 25 cannot be split evenly and are refused.
    even = parallel.shard_batch(np.zeros((24, 2), np.float32), many)
    try:
        parallel.shard_batch(np.zeros((25, 2), np.float32), many)
        uneven = "accepted"
    except InputError as e:
        uneven = str(e)
    out["shard_batch"] = {
        "even_shards": len(even.addressable_shards),
        "even_shard_rows": even.addressable_shards[0].data.shape[0],
        "uneven_error": uneven,
    }
    return out


def test_eight_devices_train_like_one() -> None:
    """One test (one process runs the 8-device subprocess, under pytest-xdist too), four claims."""
    r = _run_on_eight_devices()
    assert r["devices"] == N_DEVICES
    for net, batch_size in CASES:
        run = r[f"{net}/{batch_size}"]
        where = f"{net}, batch {batch_size}"
        assert run["state_devices"] == N_DEVICES and run["all_reduce"], f"{where}: not spread over 8 devices"
        assert run["loss_falls"], where
        # Same batches, same dropout masks: only the order of float additions differs.
        assert run["loss_diff"] <= 1e-5 * max(1.0, run["loss_scale"]), where
        assert run["param_diff"] <= 1e-5, where
        # Equal running averages: batch norm used the statistics of the global batch, not a shard's.
        assert run["batch_stats_diff"] <= 1e-5 and run["valid_diff"] <= 1e-5, where

    # Interrupted in epoch 2 and resumed from epoch 1's checkpoint on 8 devices: the same run, bit for bit.
    resumed = r["resumed_8"]
    assert resumed["state_devices"] == N_DEVICES
    assert resumed["resumed_from"] == 1
    assert resumed["state_diff"] == 0.0 and resumed["history_equal"]

    # Several seeds: each device trains its own runs, nothing is communicated.
    for seeds in (8, 4):
        run = r[f"seeds_{seeds}"]
        assert run["state_devices"] == seeds and run["runs_per_device"] == 1, (
            f"{seeds} seeds: one run per device"
        )
        assert run["collectives"] == [], f"{seeds} seeds: the runs are independent, nothing to communicate"
        assert run["loss_diff"] <= 1e-5 and run["param_diff"] <= 1e-5, f"{seeds} seeds: as on one device"

    # shard_batch: 24 rows go 3 to each device; 25 cannot be split evenly and are refused.
    split = r["shard_batch"]
    assert split["even_shards"] == N_DEVICES and split["even_shard_rows"] == 3
    assert "a batch of 25 examples cannot be split evenly over 8 devices" in split["uneven_error"]


def _run_on_eight_devices() -> dict:
    """The comparison, in a subprocess started with 8 simulated CPU devices."""
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={N_DEVICES}"}
    env.pop("JAX_PLATFORMS", None)
    root = Path(__file__).resolve().parents[1]  # as a module, so that it imports tests.helpers
    proc = subprocess.run(
        [sys.executable, "-m", "tests.test_parallel"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_mesh_of_finds_the_replicated_mesh() -> None:
    mesh = parallel.data_mesh()
    assert parallel.mesh_of(parallel.replicate({"w": np.ones(3)}, mesh)) == mesh
    assert parallel.mesh_of({"w": np.ones(3)}) is None


if __name__ == "__main__":
    print(json.dumps(compare_one_and_many()))
