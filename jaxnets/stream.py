"""Data that does not fit on a device: batches read on the host by a Grain loader and put on the
devices one at a time, instead of the whole data set living on every device.

``fit`` takes this path by itself for a data set too large for its devices' memory, or for any
``Source`` (an indexable data set on the host: arrays, memory-mapped files, your own reader); the
on-device path (``steps.train_epoch``, one compiled scan per epoch) stays the default where the
data fits. Both draw an epoch's batches from the same permutation (``steps.epoch_batches`` of
``fold_in(key, epoch)``) and take the same steps, so they give the same numbers.

In a multi-process job (``jax.distributed``) each process reads only its own rows of every
batch, and the global batch is assembled from the processes' parts on the devices.
"""

from __future__ import annotations

import hashlib
import os
import resource
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import grain
import jax
import jax.numpy as jnp
import numpy as np

from jaxnets import losses
from jaxnets.batch import class_count
from jaxnets.errors import InputError
from jaxnets.evaluation import gives_one_per_example, mean_over
from jaxnets.metrics import Metrics
from jaxnets.parallel import Mesh, mesh_of, replicate, shard_batch
from jaxnets.state import Batch, TrainState
from jaxnets.steps import epoch_batches, train_step

MEMORY_SHARE = 0.25  # the most of a device's memory the data set may take on the on-device path
IN_FLIGHT = 2  # batches on the devices ahead of the step that trains on them


@runtime_checkable
class Source(Protocol):
    """A data set on the host, read by rows: ``source[rows]`` (an integer array) returns the
    ``(inputs, targets)`` arrays of those rows."""

    def __len__(self) -> int: ...

    def __getitem__(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class ArraySource:
    """``(inputs, targets)`` arrays as a ``Source``: NumPy arrays, or ``np.memmap`` files larger
    than memory."""

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise InputError(
                f"inputs and targets must have the same length, got {len(self.x)} inputs and "
                f"{len(self.y)} targets: give one target per input"
            )

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.x[rows], self.y[rows]


def is_arrays(data: Any) -> bool:
    """Whether ``data`` is an ``(inputs, targets)`` pair of arrays (a tuple or a list)."""
    return isinstance(data, tuple | list) and len(data) == 2 and all(hasattr(a, "shape") for a in data)


def as_source(data: Batch | Source) -> Source:
    """``data`` as a ``Source`` (arrays are wrapped; device arrays copied to the host)."""
    if is_arrays(data):
        x, y = data
        return ArraySource(np.asarray(x), np.asarray(y))
    if not isinstance(data, Source) or isinstance(data, tuple | list | dict | str | np.ndarray | jax.Array):
        raise InputError(
            f"training data must be an (inputs, targets) pair of arrays or a Source (len(source) and "
            f"source[rows] -> (inputs, targets)), got {type(data).__name__}"
        )
    return data


def choose(data: Batch | Source, stream: bool | None, mesh: Mesh) -> tuple[bool, str]:
    """Whether ``fit`` streams ``data`` (``stream=None``: only where it does not fit), and why."""
    if not isinstance(data, tuple):
        if stream is False:
            raise InputError(
                "stream=False puts the data set on the devices: pass it as (inputs, targets) arrays"
            )
        return True, f"streamed: {type(data).__name__} of {len(data)} examples, read from the host"
    if stream is not None:
        return stream, ("streamed" if stream else "on device") + " (as asked)"
    size = sum(np.dtype(a.dtype).itemsize * int(np.prod(a.shape)) for a in data)
    memory, where = device_memory(mesh)
    share = size / memory
    if share <= MEMORY_SHARE:
        return False, f"on device: the data set ({_mb(size)}) takes {share:.1%} of {where} ({_mb(memory)})"
    return True, (
        f"streamed: the data set ({_mb(size)}) would take {share:.0%} of {where} ({_mb(memory)}), "
        f"over the {MEMORY_SHARE:.0%} the on-device path allows"
    )


def device_memory(mesh: Mesh) -> tuple[int, str]:
    """The memory one device of ``mesh`` has for a replicated data set, and what it is: the
    device's own (GPU, TPU), or for CPU devices, which share the host's, the host's RAM divided
    among this process's devices."""
    device = mesh.local_devices[0]
    stats = device.memory_stats() or {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"]), f"the memory of {device.device_kind}"
    host = host_memory()
    devices = len(mesh.local_devices)
    return host // devices, "the host's memory" + (f" per device (÷ {devices})" if devices > 1 else "")


def host_memory() -> int:
    """The memory this process may use: the host's RAM, or less where a cap says so (the
    cgroup's ``memory.max`` of a container or job, ``ulimit -v``)."""
    limits = [os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")]
    try:
        text = open("/sys/fs/cgroup/memory.max").read().strip()
        if text.isdigit():
            limits.append(int(text))
    except OSError:
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append(soft)
    return min(limits)


def _mb(size: int) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size} bytes"


def fingerprint(source: Source) -> list[Any]:
    """The size and a hash of a few rows of ``source`` (first, middle, last): what a checkpoint of
    a run on it records, so that a resume on other data is refused without reading it all."""
    n = len(source)
    rows = np.unique(np.array([0, 1, n // 2, n - 2, n - 1]).clip(0, n - 1))
    x, y = source[rows]
    return [
        n,
        hashlib.sha1(np.ascontiguousarray(x).tobytes() + np.ascontiguousarray(y).tobytes()).hexdigest(),
    ]


def read_rows(source: Source, rows: np.ndarray, classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``source[rows]``, checked as arrays are before training: one input and one target per row
    asked for, and (``classes`` given) every label a class id; ``InputError`` otherwise, so a
    faulty source stops the epoch with one line instead of training on what it returned."""
    try:
        x, y = source[rows]
    except IndexError as e:  # e.g. labels shorter than the inputs its len() counts
        raise InputError(
            f"the data source could not read rows up to {int(np.max(rows, initial=0))} of the "
            f"{len(source)} its len() promises ({e}): make its inputs and targets as long as len(source)"
        ) from None
    if len(x) != len(rows) or len(y) != len(rows):
        raise InputError(
            f"the data source returned {len(x)} inputs and {len(y)} targets for {len(rows)} rows: a Source "
            f"returns one input and one target for each row it is asked for"
        )
    if classes is not None:
        losses.check_labels(y, classes, "the labels the data source returned")
    return x, y


def epoch_reader(
    source: Source, order: np.ndarray, threads: int = 2, prefetch: int = 4, classes: int | None = None
) -> grain.IterDataset:
    """The epoch's batches as Grain reads them, ahead of training on background threads:
    ``order`` holds each batch's rows (``steps.epoch_batches``), of which this process reads its
    own share (all of them in a single process), each checked (``read_rows``)."""
    share = order.shape[1] // jax.process_count()
    mine = order[:, jax.process_index() * share : (jax.process_index() + 1) * share]
    reader = grain.MapDataset.range(len(mine)).map(lambda b: read_rows(source, mine[b], classes))
    return reader.to_iter_dataset(grain.ReadOptions(num_threads=threads, prefetch_buffer_size=prefetch))


def train_epoch(
    state: TrainState,
    source: Source,
    key: jax.Array,
    batch_size: int,
    shuffle: bool,
    mesh: Mesh,
) -> tuple[TrainState, Metrics, dict[str, Any]]:
    """One epoch on batches read from ``source``: ``steps.train_epoch``'s batches and steps, one
    ``train_step`` call each. Returns the state, the per-step metrics (on the devices) and where
    the reader stopped (Grain's iterator state: the position saved in a checkpoint)."""
    devices = mesh.size
    if batch_size % devices or batch_size % jax.process_count():
        raise InputError(
            f"streaming splits each batch over the {devices} devices: use a batch size that is a multiple of "
            f"{devices}, or the on-device path (stream=False)"
        )
    order = np.array(epoch_batches(len(source), key, batch_size, shuffle))  # a copy: frees the device's
    reader = iter(epoch_reader(source, order, classes=_classes(state, source)))
    metrics = []
    for i, batch in enumerate(reader):
        state, step_metrics = train_step(state, shard_batch(batch, mesh))
        metrics.append(step_metrics)
        if i >= IN_FLIGHT:  # the host may run ahead of the devices, by this many batches only
            jax.block_until_ready(metrics[i - IN_FLIGHT])
    return state, jax.tree.map(lambda *m: jnp.stack(m), *metrics), reader.get_state()


def _classes(state: TrainState, source: Source) -> int | None:
    """The class count the source's labels are checked against (``batch.class_count``)."""
    return class_count(state, jnp.asarray(read_rows(source, np.arange(min(len(source), 1)))[0]))


def evaluate(state: TrainState, source: Source, batch_size: int = 1000) -> dict[str, Any]:
    """``evaluation.evaluate`` of ``source``, read a batch at a time by Grain (each batch put on
    the state's devices and split over them); where the loss and metrics give one value per
    example, the last batch is padded on the host to the others' size and its padding masked."""
    n, mesh = len(source), mesh_of(state.params)
    starts = range(0, n, batch_size)
    classes = _classes(state, source)
    masked = gives_one_per_example(state, *read_rows(source, np.arange(min(n, 1))))

    def batch(i: int) -> tuple[Batch, int]:
        rows = np.arange(starts[i], min(starts[i] + batch_size, n))
        count = len(rows)
        if masked:  # the last rows repeated: padding, masked out by count
            rows = np.concatenate([rows, np.full(batch_size - count, rows[-1])])
        return read_rows(source, rows, classes), count

    reader = grain.MapDataset.range(len(starts)).map(batch)
    batches = reader.to_iter_dataset(grain.ReadOptions(num_threads=2, prefetch_buffer_size=4))
    placed = ((b if mesh is None else replicate(b, mesh), count) for b, count in batches)
    return mean_over(state, placed, mesh, masked=masked)
