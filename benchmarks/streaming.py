"""The streaming path against the on-device path: B8's epoch time, and the memory a device holds
as the data set grows.

    python -m benchmarks.streaming              # prints both tables, writes JSON

- **time**: one B8 epoch (784-256-256-10, Adam, batch 100, 60,000 MNIST images) on the
  on-device path (the data set on the device, the epoch one compiled scan) and streamed (Grain
  reads each batch on the host, one jitted step per batch), interleaved for ``--rounds`` rounds
  after a warm-up; the ratio is the median (min–max) of the rounds' ratios.
- **memory**: the bytes of live JAX arrays on the first device while training on MNIST repeated
  N times (N × 60,000 images), on each path: on the device the data set is all there (sampled at
  the end of the epoch); streamed, the state (one or two copies: a step's input and output) and
  the batches in flight (the largest of 500 samples taken while Grain reads, for every N).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
import optax

from benchmarks.bench import _cpu
from jaxnets import data, losses, models, stream, train


@dataclass
class Repeated:
    """A source ``times`` times as large as ``source``, without as much host memory, that
    measures the device's bytes at its first ``samples`` reads (as many for every size)."""

    source: stream.Source
    times: int
    samples: int = 500
    peak: int = 0
    reads: int = 0

    def __len__(self) -> int:
        return len(self.source) * self.times

    def __getitem__(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.reads += 1
        if self.reads <= self.samples:
            self.peak = max(self.peak, device_bytes())
        return self.source[np.asarray(rows) % len(self.source)]


def device_bytes(device: jax.Device | None = None) -> int:
    """Bytes of the live JAX arrays' shards on ``device`` (default: the first)."""
    device = device or jax.devices()[0]
    total = 0
    for a in jax.live_arrays():
        try:
            total += sum(s.data.nbytes for s in a.addressable_shards if s.device == device)
        except RuntimeError:  # donated (deleted) by a step running meanwhile
            pass
    return total


def _state(x: np.ndarray) -> train.TrainState:
    model = models.MLP((256, 256, 10), weight_init="he_normal")
    return train.create_train_state(
        model,
        optax.adam(1e-3),
        x[:1],
        jax.random.key(0),
        loss_fn=losses.cross_entropy,
        metrics_fn=train.classification_metrics,
    )


def epoch_times(x: np.ndarray, y: np.ndarray, rounds: int) -> dict[str, list[float]]:
    """Seconds per B8 epoch on each path, interleaved (the first, warm-up, round dropped)."""
    times: dict[str, list[float]] = {"on device": [], "streamed": []}
    for r in range(rounds + 1):
        for path, streamed in (("on device", False), ("streamed", True)):
            start = time.perf_counter()
            train.fit(
                _state(x),
                (x, y),
                epochs=1,
                batch_size=100,
                key=jax.random.key(r),
                progress=False,
                stream=streamed,
            )
            if r:
                times[path].append(time.perf_counter() - start)
    return times


def memory(x: np.ndarray, y: np.ndarray, repeats: tuple[int, ...]) -> list[dict]:
    """Bytes on the first device held by training one epoch on MNIST repeated N times, per path
    (the live arrays' bytes while training less those before ``fit`` started)."""
    rows = []
    for n in repeats:
        gc.collect()
        before = device_bytes()
        source = Repeated(stream.ArraySource(x, y), n)
        streamed = train.fit(
            _state(x), source, epochs=1, batch_size=100, key=jax.random.key(0), progress=False
        ).data_path
        gc.collect()
        big = (np.concatenate([x] * n), np.concatenate([y] * n))
        before_on_device, held = device_bytes(), [0]

        def measure(epoch, state, row, held=held):
            held[0] = device_bytes()

        on_device = train.fit(
            _state(x), big, epochs=1, batch_size=100, key=jax.random.key(0), progress=False, on_epoch=measure
        ).data_path
        del big
        rows.append(
            {
                "repeats": n,
                "examples": n * len(x),
                "data_mb": n * (x.nbytes + y.nbytes) / 2**20,
                "on_device_mb": (held[0] - before_on_device) / 2**20,
                "streamed_mb": (source.peak - before) / 2**20,
                "paths": [on_device, streamed],
            }
        )
    return rows


def table(report: dict) -> str:
    t = report["times"]
    ratios = [s / d for s, d in zip(t["streamed"], t["on device"], strict=True)]
    lines = [
        f"B8 epoch on {report['cpu']} ({report['devices']} device(s)), {len(ratios)} interleaved rounds",
        "| path | seconds per epoch (median) | streamed ÷ on device |",
        "| --- | --- | --- |",
        f"| on device | {statistics.median(t['on device']):.3f} | 1 |",
        f"| streamed | {statistics.median(t['streamed']):.3f} | "
        f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) |",
        "",
        "| data set | size | device memory, on device | device memory, streamed |",
        "| --- | --- | --- | --- |",
    ]
    for r in report["memory"]:
        lines.append(
            f"| MNIST × {r['repeats']} ({r['examples']:,} images) | {r['data_mb']:,.0f} MB | "
            f"{r['on_device_mb']:,.1f} MB | {r['streamed_mb']:,.1f} MB |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.streaming", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="interleaved timed rounds (after one warm-up)")
    p.add_argument("--repeats", type=int, nargs="*", default=[1, 2, 4, 8], help="data set sizes, × MNIST")
    p.add_argument("--data-dir", help=f"folder with mnist/ (default: ${data.ENV_VAR})")
    p.add_argument("--out", type=Path, default=Path("results/benchmark_streaming.json"))
    args = p.parse_args(argv)
    (x, y), _ = data.load("mnist", args.data_dir)
    x, y = (x.reshape(len(x), -1) / np.float32(255)).astype(np.float32), y.astype(np.int32)
    report = {
        "cpu": _cpu(),
        "devices": jax.device_count(),
        "times": epoch_times(x, y, args.rounds),
        "memory": memory(x, y, tuple(args.repeats)),
    }
    print(table(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
