"""Small data, states, runs and files shared by the tests: their one home."""

import contextlib
import gzip
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxnets import data, losses, optim, train
from jaxnets.metrics import classification_metrics
from jaxnets.record import Divergence, FitResult, columns
from jaxnets.state import create_train_state


def __getattr__(name: str):
    """``KEY``, made when a test asks for it: importing this module must not start JAX's
    backend (a multi-process test's subprocess joins its job first)."""
    if name == "KEY":
        return jax.random.key(0)
    raise AttributeError(name)


def blobs(n=256, seed=0):
    """Two well separated 2-D classes."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 2)).astype(np.float32) + 3 * y[:, None]
    return jnp.asarray(x), jnp.asarray(y, jnp.int32)


def state_for(model, x, tx=None, **kw):
    return create_train_state(
        model,
        tx or optim.optimizer("sgd", 0.1),
        x[:1],
        jax.random.key(0),
        **{"metrics_fn": classification_metrics, **kw},
    )


def copy(tree):
    return jax.tree_util.tree_map(jnp.array, tree)


_COUNTERS: list[list[str]] = []  # the counting_compiles blocks open now


def _count_compile(event: str, duration: float, **kwargs) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        for counter in _COUNTERS:
            counter.append(event)


# One listener for the whole session (jax's public API registers; unregistering came only in jax 0.8).
jax.monitoring.register_event_duration_secs_listener(_count_compile)


@contextlib.contextmanager
def counting_compiles():
    """A list that grows by one for every program XLA compiles inside the ``with`` block."""
    events: list[str] = []
    _COUNTERS.append(events)
    try:
        yield events
    finally:
        _COUNTERS.remove(events)


def x64(enabled: bool = True):
    """``jax.enable_x64(enabled)``, a context (``jax.experimental.enable_x64`` before jax 0.8)."""
    import jax.experimental

    enable = jax.enable_x64 if hasattr(jax, "enable_x64") else jax.experimental.enable_x64
    return enable(enabled)


def relative(a: float, b: float) -> float:
    """|a − b| relative to |b| (the twin's number in the step-for-step tests)."""
    return abs(a - b) / max(abs(b), 1e-12)


def tree_apart(ours: dict, theirs: dict) -> float:
    """The largest difference of any array of the nested dict ``theirs`` from the same-named one
    of ``ours``, relative to the largest entry of ``theirs``'s array."""
    worst = 0.0
    for name, b in theirs.items():
        if isinstance(b, dict):
            worst = max(worst, tree_apart(ours[name], b))
        else:
            a, b = np.asarray(ours[name]), np.asarray(b)
            worst = max(worst, float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)))
    return worst


def four_classes(n: int = 800, d: int = 20, classes: int = 4):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d), np.float32)
    y = (x @ rng.standard_normal((d, classes), np.float32)).argmax(-1).astype(np.int32)
    return x, y


def four_classes_state(model, tx):
    """``model`` initialised (key 1) for ``four_classes``, with cross-entropy and accuracy."""
    x, _ = four_classes()
    return train.create_train_state(
        model,
        tx,
        x[:1],
        jax.random.key(1),
        loss_fn=losses.cross_entropy,
        metrics_fn=train.classification_metrics,
    )


def fit_four_classes(model, tx, mesh, batch_size: int, epochs: int = 3, **fit_kwargs):
    x, y = four_classes()
    state = four_classes_state(model, tx)
    key = jax.random.key(2)
    return train.fit(
        state, (x, y), epochs=epochs, batch_size=batch_size, key=key, valid=(x, y), mesh=mesh, **fit_kwargs
    )


def interrupt_at_epoch_2(epoch, state, row):
    """Ctrl-C at the end of epoch 2, before its checkpoint: a resume starts from epoch 1's."""
    if epoch == 2:
        raise KeyboardInterrupt


def max_diff(a, b) -> float:
    pairs = zip(jax.tree.leaves(jax.device_get(a)), jax.tree.leaves(jax.device_get(b)), strict=True)
    return max((float(np.max(np.abs(p - q))) for p, q in pairs), default=0.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def training_job(out) -> list[subprocess.Popen]:
    """A 2-process job (D1, one device each, training on and on into ``out``), both processes
    under way: process 0 printed its header 2 s ago. Text pipes for stdout and stderr."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
    env.pop("JAX_PLATFORMS", None)
    job = ["--coordinator", f"127.0.0.1:{free_port()}", "--num-processes", "2", "--out", str(out)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "experiments", "D1", "--epochs", "1000000", *job, "--process-id", i],
            cwd=Path(__file__).parents[1],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in ("0", "1")
    ]
    for line in procs[0].stdout:  # training is under way shortly after the header
        if line.startswith("=== D1"):
            break
    time.sleep(2)
    return procs


def one_line(err: str) -> str:
    """The one line a refused command printed (no traceback, nothing else)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_dataset(folder, n_train=60000, n_test=10000, corrupt=None, label=0):
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_images": np.zeros((n_train, 28, 28)),
        "train_labels": np.full(n_train, label),
        "test_images": np.zeros((n_test, 28, 28)),
        "test_labels": np.ones(n_test),
    }
    for key, name in data.IDX_FILES.items():
        raw = gzip.compress(idx_bytes(arrays[key]))
        (folder / name).write_bytes(raw[: len(raw) // 2] if key == corrupt else raw)


def two_runs_one_stopped():
    """A ``FitResult`` of 2 runs, the second stopped by a divergence in epoch 1 (3 steps an
    epoch), with a stand-in state whose only use is ``run(k)``."""

    class Stacked:
        runs = 2

        def run(self, k):
            return f"state {k}"

    rows = [[{"epoch": 1, "a": 1.0}, {"epoch": 2, "a": 2.0}], [{"epoch": 1, "a": 3.0}]]
    steps = {"loss": np.arange(12.0).reshape(2, 6)}
    return FitResult(Stacked(), columns(rows), rows, steps, (None, Divergence(1, 3, "loss")))


def untimed(rows):
    """History rows without their wall time: what two equal runs share."""
    return [{k: v for k, v in row.items() if k != "time_s"} for row in rows]


def patch_run(monkeypatch, name: str, run) -> None:
    """Make experiment ``name`` run ``run`` instead of its own (its module's ``run`` replaced)."""
    import sys

    import experiments

    experiment = experiments.load(name)
    monkeypatch.setattr(sys.modules[experiment.module], "run", run)


def swallow_a_signal(signum: int) -> None:
    """Raise ``signum``'s handler's exception and catch it without a word, as jax 0.10 does
    with a Ctrl-C that lands while it traces (``experiments.harness.stopping``)."""
    try:
        signal.raise_signal(signum)
    except BaseException:
        pass
