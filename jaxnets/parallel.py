"""Data parallelism with ``jax.jit`` and ``jax.sharding``: one 1-D mesh named "data" over the
local devices, batches split along it, state and data sets replicated. jit inserts the
collectives (the gradient all-reduce, batch-norm statistics over the global batch), so the same
training code runs on one CPU, one GPU or all eight cores of a TPU.

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
from typing import Any, TypeVar

import jax
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from jaxnets.errors import InputError

AXIS = "data"
T = TypeVar("T")


def data_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh named "data" over ``devices`` (default: every local device).

    Its axis is of the Auto type: jit decides the layout of everything the code does not pin,
    which is what plain data parallelism wants.
    """
    devices = list(jax.local_devices() if devices is None else devices)
    if not devices:
        raise ValueError("data_mesh needs at least one device")
    return jax.make_mesh((len(devices),), (AXIS,), axis_types=(AxisType.Auto,), devices=devices)


def runs_mesh(runs: int, devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A "data" mesh for ``runs`` stacked runs: over the largest number of ``devices`` (default:
    every local device) that divides ``runs``, so that each device trains the same number of them."""
    devices = list(jax.local_devices() if devices is None else devices)
    used = max(d for d in range(1, min(runs, len(devices)) + 1) if runs % d == 0)
    return data_mesh(devices[:used])


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds all of it (state, parameters, the data set)."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    """Split along the leading (batch) axis over the mesh's devices."""
    return NamedSharding(mesh, PartitionSpec(AXIS))


def replicate(tree: T, mesh: Mesh, copy: bool = False) -> T:
    """``tree`` on every device of ``mesh``; with ``copy``, new buffers even where it is there
    already (for a state that will be donated while the caller keeps the original)."""
    return jax.device_put(tree, replicated(mesh), may_alias=False if copy else None)


def shard_runs(tree: T, mesh: Mesh, copy: bool = False) -> T:
    """A stacked state (or per-run keys) on ``mesh``, split along the leading run axis: each device
    holds its own runs. With ``copy``, new buffers even where it is there already."""
    return jax.device_put(tree, batch_sharded(mesh), may_alias=False if copy else None)


def shard_batch(batch: T, mesh: Mesh) -> T:
    """Put a batch on ``mesh`` split along its leading axis, whose size must be a multiple of the
    number of devices."""
    n = mesh.size
    for leaf in jax.tree.leaves(batch):
        if leaf.shape[0] % n:
            raise InputError(
                f"a batch of {leaf.shape[0]} examples cannot be split evenly over {n} devices; "
                f"use a batch size that is a multiple of {n}"
            )
    return jax.device_put(batch, batch_sharded(mesh))


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
