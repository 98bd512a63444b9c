"""How ``fit`` feeds a data set to the devices, decided once per run: ``OnDevice`` (the arrays
live on the devices, each epoch one compiled scan, ``steps.train_epoch``) or ``Streamed`` (read
from the host a batch at a time by a Grain loader, ``jaxnets.stream``). Both draw an epoch's
batches from the same permutation and take the same steps, so they give the same numbers; the
loop asks either for an epoch, an evaluation or a fingerprint and never which one it has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from jaxnets import stream
from jaxnets.errors import InputError
from jaxnets.metrics import Metrics
from jaxnets.parallel import Mesh, replicate, to_host
from jaxnets.state import Batch, TrainState
from jaxnets.steps import evaluate, train_epoch


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
    """Arrays on the devices of ``mesh``: an epoch is one compiled scan. ``mesh`` is None for
    stacked runs, which are split over the devices run by run instead of batch by batch."""

    data: Batch
    mesh: Mesh | None
    drop_last: bool = True
    path: str = "on device"

    def __len__(self) -> int:
        return len(self.data[0])

    def train_epoch(
        self, state: TrainState, key: jax.Array, batch_size: int, shuffle: bool
    ) -> tuple[TrainState, Metrics, None]:
        state, metrics = train_epoch(
            state,
            self.data,
            key,
            batch_size=batch_size,
            shuffle=shuffle,
            mesh=self.mesh,
            drop_last=self.drop_last,
        )
        return state, metrics, None

    def evaluate(self, state: TrainState) -> dict[str, Any]:
        return evaluate(state, self.data, checked=False)  # fit checked it before training

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
    train: Batch | stream.Source,
    valid: Batch | stream.Source | None,
    state: TrainState,
    mesh: Mesh,
    streamed: bool | None = None,
    drop_last: bool = True,
) -> tuple[Feed, Feed | None]:
    """The training and validation feeds: arrays that fit go on the devices of ``mesh`` (with
    the training data's path), anything else is streamed (``streamed``: True/False to choose);
    validation arrays go on the devices unless the training data is streamed."""
    stacked = state.runs is not None
    train = tuple(train) if stream.is_arrays(train) else stream.as_source(train)
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

    def feed(data: Batch | stream.Source, path: str) -> Feed:
        if stream.is_arrays(data) and not on_host:
            return OnDevice(replicate(tuple(data), mesh), None if stacked else mesh, drop_last, path)
        return Streamed(stream.as_source(data), mesh, path)

    return feed(train, path), None if valid is None else feed(valid, "validation")


def size(data: Batch | stream.Source) -> int:
    """How many examples ``data`` holds."""
    return len(data[0]) if stream.is_arrays(data) else len(stream.as_source(data))


def sample(data: Batch | stream.Source) -> Batch:
    """``data`` itself (arrays), or a few rows of a source: what is checked against the model."""
    if stream.is_arrays(data):
        return tuple(data)
    source = stream.as_source(data)
    return stream.read_rows(source, np.arange(min(len(source), 2)))


@jax.jit
def _data_fingerprint(x: jax.Array, y: jax.Array) -> jax.Array:
    """Sums of the inputs and targets, plain and weighted by a fixed pattern: other contents of
    the same size give other numbers."""

    def sums(a: jax.Array) -> jax.Array:
        flat = a.reshape(-1).astype(jnp.float32)
        return jnp.stack([flat.sum(), (flat * jnp.sin(jnp.arange(flat.size, dtype=jnp.float32))).sum()])

    return jnp.concatenate([sums(x), sums(y)])
