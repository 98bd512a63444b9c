"""How ``fit`` feeds a data set to the devices, decided and checked once per run: ``OnDevice``
(the arrays live on the devices, each epoch one compiled scan, ``steps.train_epoch``, or a loop
of the compiled step) or ``Streamed`` (read from the host a batch at a time by a Grain loader,
``jaxnets.stream``). Both draw an epoch's batches from the same permutation and take the same
steps, so they give the same numbers; the loop asks either for an epoch, an evaluation or a
fingerprint and never which one it has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from jaxnets import stream
from jaxnets.batch import as_pair, check_data
from jaxnets.errors import InputError
from jaxnets.evaluation import evaluate
from jaxnets.metrics import Metrics
from jaxnets.parallel import Mesh, replicate, to_host
from jaxnets.state import Batch, TrainState
from jaxnets.steps import loop_epoch, predict, train_epoch


class Feed(Protocol):
    """A data set as ``fit`` uses it."""

    path: str  # where the data lives and why ("on device: … takes 0.3 % of …")

    def __len__(self) -> int: ...

    def train_epoch(
        self, state: TrainState, key: jax.Array, batch_size: int, shuffle: bool
    ) -> tuple[TrainState, Metrics, Any]:
        """One epoch: the state, per-step metrics (on the devices) and where a reader stopped
        (None where nothing is read)."""
        ...

    def evaluate(self, state: TrainState) -> dict[str, Any]: ...

    def fingerprint(self) -> list[Any]:
        """The size and a hash of the contents: what a checkpoint records of its data."""
        ...


@dataclass(frozen=True)
class OnDevice:
    """Arrays on the devices of ``mesh``: an epoch is one compiled scan (unrolled ``epoch_as``
    steps at a time where that is an int) or, with ``epoch_as="loop"``, a host loop of one
    compiled step (``steps.loop_epoch``). ``mesh`` is None for stacked runs, which are split over
    the devices run by run instead of batch by batch."""

    data: Batch
    mesh: Mesh | None
    drop_last: bool = True
    path: str = "on device"
    epoch_as: str | int = "scan"

    def __len__(self) -> int:
        return len(self.data[0])

    def train_epoch(
        self, state: TrainState, key: jax.Array, batch_size: int, shuffle: bool
    ) -> tuple[TrainState, Metrics, None]:
        common = dict(batch_size=batch_size, shuffle=shuffle, mesh=self.mesh, drop_last=self.drop_last)
        if self.epoch_as == "loop":
            state, metrics = loop_epoch(state, self.data, key, **common)
        else:
            unroll = 1 if self.epoch_as == "scan" else self.epoch_as
            state, metrics = train_epoch(state, self.data, key, unroll=unroll, **common)
        return state, metrics, None

    def evaluate(self, state: TrainState) -> dict[str, Any]:
        return evaluate(state, self.data, checked=False)  # checked before training

    def fingerprint(self) -> list[Any]:
        return np.asarray(to_host(_data_fingerprint(*self.data))).tolist()


@dataclass(frozen=True)
class Streamed:
    """A ``stream.Source`` on the host, read a batch at a time and put on the devices of ``mesh``."""

    source: stream.Source
    mesh: Mesh
    path: str = "streamed"

    def __len__(self) -> int:
        return len(self.source)

    def train_epoch(
        self, state: TrainState, key: jax.Array, batch_size: int, shuffle: bool
    ) -> tuple[TrainState, Metrics, Any]:
        return stream.train_epoch(
            state, self.source, key, batch_size=batch_size, shuffle=shuffle, mesh=self.mesh
        )

    def evaluate(self, state: TrainState) -> dict[str, Any]:
        return stream.evaluate(state, self.source)

    def fingerprint(self) -> Any:
        return stream.fingerprint(self.source)


def feeds(
    state: TrainState,
    train: Batch | stream.Source,
    valid: Batch | stream.Source | None,
    mesh: Mesh,
    streamed: bool | None = None,
    drop_last: bool = True,
    epoch_as: str | int | None = None,
) -> tuple[Feed, Feed | None]:
    """The training and validation feeds of data sets ``checked`` already: arrays that fit go on
    the devices of ``mesh`` (with the training data's path), anything else is streamed
    (``streamed``: True/False to choose); validation arrays go on the devices unless the training
    data is streamed. Training arrays on the devices run each epoch as ``epoch_strategy`` says
    (``epoch_as`` None: chosen for the backend and the model)."""
    stacked = state.runs is not None
    on_host, path = stream.choose(train, streamed, mesh)
    if on_host and not drop_last:
        raise InputError(
            f"drop_last=False trains on data held on the devices, and this data set is streamed "
            f"({path}): pass arrays that fit, or drop the last partial batch"
        )
    if on_host and stacked:
        raise InputError(
            f"{state.runs} stacked runs train on data held on the devices, and this data set is streamed "
            f"({path}): train the seeds one at a time, or pass arrays that fit"
        )
    if on_host and epoch_as is not None:
        raise InputError(
            f"epoch_as={epoch_as!r} chooses how an epoch over data held on the devices runs, and this "
            f"data set is streamed ({path}), a batch at a time: drop epoch_as, or pass arrays that fit"
        )
    how = "scan"
    if not on_host:
        how, why = epoch_strategy(state, train, mesh, epoch_as)
        path = f"{path}; each epoch {why}"

    def feed(data: Batch | stream.Source, path: str) -> Feed:
        if isinstance(data, tuple) and not on_host:
            return OnDevice(replicate(data, mesh), None if stacked else mesh, drop_last, path, how)
        return Streamed(stream.as_source(data), mesh, path)

    return feed(train, path), None if valid is None else feed(valid, "validation")


def checked(state: TrainState, data: Any, what: str) -> Batch | stream.Source | None:
    """``data`` as an ``(inputs, targets)`` tuple of arrays or a ``Source`` (None stays None),
    checked against the model before anything is placed or compiled: shapes, and labels that are
    class ids (a few rows of a source)."""
    if data is None:
        return None
    data = as_pair(data)
    if stream.is_arrays(data):
        data = tuple(data)
        check_data(state, data, what)
        return data
    source = stream.as_source(data)
    check_data(state, stream.read_rows(source, np.arange(min(len(source), 2))), what)
    return source


EPOCH_AS = ("scan", "loop")  # or an int: a scan unrolled that many steps at a time


def epoch_strategy(
    state: TrainState, data: Batch, mesh: Mesh, epoch_as: str | int | None = None
) -> tuple[str | int, str]:
    """How an epoch over ``data`` on the devices runs, and why: ``epoch_as`` where given, else
    one compiled scan, except on CPU for a model whose program holds a convolution: a host loop
    of the compiled step then, since XLA:CPU runs convolutions many times slower inside a
    compiled loop (jax-ml/jax#12868; ``python -m benchmarks.bench``). A model that convolves
    with ``xla_cpu.conv_as_matmul`` holds none, and scans."""
    if epoch_as is not None:
        unroll = isinstance(epoch_as, int | np.integer) and not isinstance(epoch_as, bool) and epoch_as >= 1
        epoch_as = int(epoch_as) if unroll else epoch_as
        if epoch_as not in EPOCH_AS and not unroll:
            raise InputError(
                f"epoch_as must be 'scan', 'loop' or a number of steps to unroll (>= 1), got {epoch_as!r}"
            )
        return epoch_as, f"as {'a scan unrolled ' + str(epoch_as) if unroll else epoch_as} (as asked)"
    platform = mesh.devices.flat[0].platform
    if platform != "cpu":
        return "scan", f"one compiled scan ({platform})"
    if convolves(state, data[0][:1]):
        return "loop", (
            "a loop of the compiled step (convolutions on CPU: XLA:CPU runs them many times slower "
            "inside a compiled loop; xla_cpu.conv_as_matmul makes them matmuls, which scan fast)"
        )
    return "scan", "one compiled scan (no convolutions)"


def convolves(state: TrainState, x: jax.Array) -> bool:
    """Whether the model's program (traced, not run) holds a convolution."""
    return "conv_general_dilated" in str(jax.make_jaxpr(predict)(state, x))


@jax.jit
def _data_fingerprint(x: jax.Array, y: jax.Array) -> jax.Array:
    """Sums of the inputs and targets, plain and weighted by a fixed pattern: other contents of
    the same size give other numbers."""

    def sums(a: jax.Array) -> jax.Array:
        flat = a.reshape(-1).astype(jnp.float32)
        return jnp.stack([flat.sum(), (flat * jnp.sin(jnp.arange(flat.size, dtype=jnp.float32))).sum()])

    return jnp.concatenate([sums(x), sums(y)])
