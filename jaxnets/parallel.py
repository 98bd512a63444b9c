"""Data parallelism with ``jax.jit`` and ``jax.sharding``: one 1-D mesh named "data" over all
devices, batches split along it, state and data sets replicated. jit inserts the collectives
(the gradient all-reduce, batch-norm statistics over the global batch), so the same training code
runs on one CPU, one GPU, all eight cores of a TPU, or the devices of several processes (hosts)
started with ``jax.distributed.initialize``: the mesh spans ``jax.devices()``,
and arrays are placed on it from each process's host copy (``put``).

Several seeds of one model (a state with a leading run axis) are split the other way: each
device holds and trains its own runs (``shard_runs``), the data set is replicated, and nothing
is communicated.

Usage with the public steps on your own data::

    mesh = data_mesh()
    state = replicate(state, mesh)
    state, metrics = train_step(state, shard_batch((x, y), mesh))
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from jaxnets.errors import InputError

AXIS = "data"
T = TypeVar("T")


def data_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh named "data" over ``devices`` (default: every device of every process).

    Its axis is of the Auto type: jit decides the layout of everything the code does not pin,
    which is what plain data parallelism wants.
    """
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("data_mesh needs at least one device")
    return jax.make_mesh((len(devices),), (AXIS,), axis_types=(AxisType.Auto,), devices=devices)


def runs_mesh(runs: int, devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A "data" mesh for ``runs`` stacked runs: over the largest number of ``devices`` (default:
    every device) that divides ``runs``, so that each device trains the same number of them. In
    a multi-process job every process takes the same share of its devices (each must take part)."""
    devices = list(jax.devices() if devices is None else devices)
    by_process: dict[int, list[jax.Device]] = {}
    for d in devices:
        by_process.setdefault(d.process_index, []).append(d)
    processes, per_process = len(by_process), min(len(v) for v in by_process.values())
    shares = [k for k in range(1, per_process + 1) if runs % (k * processes) == 0]
    if not shares:
        raise InputError(
            f"{runs} runs cannot be split evenly over the {processes} processes of this job: use a "
            f"number of seeds that is a multiple of {processes}"
        )
    return data_mesh([d for group in by_process.values() for d in group[: max(shares)]])


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds all of it (state, parameters, the data set)."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    """Split along the leading (batch) axis over the mesh's devices."""
    return NamedSharding(mesh, PartitionSpec(AXIS))


def put(tree: T, sharding: NamedSharding, copy: bool = False) -> T:
    """``tree`` placed as ``sharding`` says; with ``copy``, in new buffers that share none with
    ``tree`` (for a state that will be donated while the caller keeps the original).

    Where the mesh spans several processes, each process passes the same whole ``tree`` (the
    same seed gives the same state; every host reads the same data set) and contributes the
    pieces its own devices hold. Arrays already placed as asked are kept (without ``copy``).
    """
    if sharding.is_fully_addressable:
        placed = jax.device_put(tree, sharding)
    else:
        placed = jax.tree.map(lambda a: _put_global(a, sharding), tree)
    # An explicit copy: ``device_put(..., may_alias=False)`` still hands back the caller's
    # buffer when one device's array becomes a replicated one (jax 0.10), and donating that
    # would delete the caller's array.
    return _copied(placed, sharding) if copy else placed


@partial(jax.jit, static_argnums=1)
def _copied(tree: T, sharding: NamedSharding) -> T:
    """``tree`` in new buffers (a jitted program's outputs never alias its undonated inputs)."""
    return jax.lax.with_sharding_constraint(jax.tree.map(jnp.copy, tree), sharding)


def is_key(a: Any) -> bool:
    """Whether ``a`` is an array of typed PRNG keys (moved about as its raw key data)."""
    return jax.dtypes.issubdtype(getattr(a, "dtype", None), jax.dtypes.prng_key)


def _via_key_data(fn, keys: jax.Array) -> jax.Array:
    """``fn`` applied to the raw data of ``keys``, wrapped back into keys of the same kind."""
    return jax.random.wrap_key_data(fn(jax.random.key_data(keys)), impl=jax.random.key_impl(keys))


def _put_global(a: Any, sharding: NamedSharding) -> Any:
    if isinstance(a, jax.Array) and a.sharding == sharding:
        return a
    if is_key(a):
        return _via_key_data(lambda data: _put_global(data, sharding), a)
    host = np.asarray(a, dtype=jax.dtypes.canonicalize_dtype(np.result_type(a)))  # no int64 without x64
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index], dtype=host.dtype)


def replicate(tree: T, mesh: Mesh, copy: bool = False) -> T:
    """``tree`` on every device of ``mesh`` (see ``put``)."""
    return put(tree, replicated(mesh), copy)


def shard_runs(tree: T, mesh: Mesh, copy: bool = False) -> T:
    """A stacked state (or per-run keys) on ``mesh``, split along the leading run axis: each device
    holds its own runs (see ``put``)."""
    return put(tree, batch_sharded(mesh), copy)


def to_host(tree: T) -> T:
    """``jax.device_get(tree)`` on every process, also for arrays split over the devices of
    several processes (per-run results of a stacked state), which are gathered first."""

    def get(a: Any) -> Any:
        if not isinstance(a, jax.Array) or a.is_fully_addressable or a.is_fully_replicated:
            return jax.device_get(a)
        if is_key(a):
            return _via_key_data(get, a)
        return np.asarray(multihost_utils.process_allgather(a, tiled=True))

    return jax.tree.map(get, tree)


def shard_batch(batch: T, mesh: Mesh) -> T:
    """Put a batch on ``mesh`` split along its leading axis, whose size must be a multiple of the
    number of devices. Where the mesh spans several processes, each passes its own part of the
    global batch (``jax.make_array_from_process_local_data``), e.g. from its own data shard."""
    sharding = batch_sharded(mesh)
    n = mesh.size if sharding.is_fully_addressable else len(mesh.local_devices)
    for leaf in jax.tree.leaves(batch):
        if leaf.shape[0] % n:
            raise InputError(
                f"a batch of {leaf.shape[0]} examples cannot be split evenly over {n} devices; "
                f"use a batch size that is a multiple of {n}"
            )
    if sharding.is_fully_addressable:
        return jax.device_put(batch, sharding)
    return jax.tree.map(lambda a: jax.make_array_from_process_local_data(sharding, np.asarray(a)), batch)


def constrain_batch(batch: T, mesh: Mesh | None) -> T:
    """Inside jit: ask for ``batch`` split over ``mesh`` (a no-op for no mesh or one device).

    A batch size that is not a multiple of the device count still works: XLA pads the last
    shard and masks the padding out of reductions.
    """
    if mesh is None or mesh.size == 1:
        return batch
    return jax.lax.with_sharding_constraint(batch, batch_sharded(mesh))


def mesh_of(tree: Any) -> Mesh | None:
    """The mesh ``tree``'s arrays are placed on (e.g. a state from ``replicate``), or None."""
    for leaf in jax.tree.leaves(tree):
        sharding = getattr(leaf, "sharding", None)
        if isinstance(sharding, NamedSharding) and isinstance(sharding.mesh, Mesh):
            return sharding.mesh
    return None


def place(state: Any, key: jax.Array, mesh: Mesh | None = None) -> tuple[Any, jax.Array, Mesh]:
    """A training state and its key(s) copied onto ``mesh`` (the caller's stay usable when the
    copies are donated), and the mesh: a single run replicated on a data-parallel mesh (each
    batch split over the devices), stacked runs split over the devices run by run (default
    meshes: ``data_mesh()``, ``runs_mesh(runs)``)."""
    if state.runs:
        mesh = runs_mesh(state.runs) if mesh is None else mesh
        state, key = shard_runs((state, key), mesh, copy=True)
        return state, key, mesh
    mesh = data_mesh() if mesh is None else mesh
    return replicate(state, mesh, copy=True), key, mesh
