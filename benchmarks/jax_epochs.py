"""The JAX side of the benchmark, each one epoch as a function that runs it and returns its
wall time: jaxnets' epoch as ``fit`` runs it (the strategy it chooses for the backend and the
model); a bare JAX epoch written without the engine, several ways (one scan, a host loop of the
jitted step, a fully unrolled scan: what the engine's checks, metrics and sharding cost, against
the fastest way of running the same model); the model's matmuls alone (what this CPU can reach
at these shapes); and several seeds of one model, as one program or one after another."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn

from jaxnets import feed, losses, parallel, train, xla_cpu

Epoch = Callable[[], float]


def _timed(run: Callable[[], object]) -> Epoch:
    """``run`` as a function returning its wall time, the result waited for."""

    def epoch() -> float:
        start = time.perf_counter()
        jax.block_until_ready(run())
        return time.perf_counter() - start

    return epoch


class SmallCNN(nn.Module):
    """A user's own small CNN: (3×3 convolution → BatchNorm → ReLU → 2×2 max pool) twice, 16 and
    32 channels, then one dense layer. ``as_matmul``: written with the workaround jaxnets offers
    for XLA:CPU, its convolutions ``xla_cpu.conv_as_matmul`` and its pools
    ``xla_cpu.max_pool_tiled`` (the same numbers to float rounding)."""

    n_classes: int = 10
    as_matmul: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        x = x[..., None] if x.ndim == 3 else x
        conv = xla_cpu.conv_as_matmul if self.as_matmul else None
        for features in (16, 32):
            x = nn.Conv(features, (3, 3), padding=1, conv_general_dilated=conv)(x)
            x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(x))
            x = xla_cpu.max_pool_tiled(x, (2, 2)) if self.as_matmul else nn.max_pool(x, (2, 2), (2, 2))
        return nn.Dense(self.n_classes)(x.reshape(len(x), -1))


def jaxnets_epoch(model: nn.Module, lr: float, x: jax.Array, y: jax.Array, batch_size: int) -> Epoch:
    """An epoch as ``fit`` runs it: the data on the device, on a mesh of every local device, the
    strategy ``fit`` chooses for this backend and model (``feed.epoch_strategy``, kept as the
    returned function's ``how``), the state donated, the metrics brought to the host."""
    state = train.create_train_state(
        model,
        optax.adam(lr),
        x[:1],
        jax.random.key(0),
        loss_fn=losses.cross_entropy,
        metrics_fn=train.classification_metrics,
    )
    mesh = parallel.data_mesh()
    box = {"state": parallel.replicate(state, mesh), "epoch": 0}
    data = parallel.replicate((x, y), mesh)
    how, why = feed.epoch_strategy(box["state"], data, mesh)
    on_device = feed.OnDevice(data, mesh, path=why, epoch_as=how)

    def run():
        box["epoch"] += 1
        key = jax.random.fold_in(jax.random.key(1), box["epoch"])
        box["state"], metrics, _ = on_device.train_epoch(box["state"], key, batch_size, True)
        return parallel.to_host(metrics)

    epoch = _timed(run)
    epoch.how = how  # type: ignore[attr-defined]
    return epoch


BARE = ("scan", "loop", "unrolled")  # the ways a bare epoch runs


def bare_epoch(
    model: nn.Module, lr: float, x: jax.Array, y: jax.Array, batch_size: int, how: str = "scan"
) -> Epoch:
    """The same epoch written as a short JAX program, with no engine: a permutation gather, plain
    ``value_and_grad``, an Optax update, the state donated; run as one ``lax.scan`` (``how="scan"``),
    a Python loop calling the jitted step (``"loop"``), or a scan unrolled whole (``"unrolled"``)."""
    if how not in BARE:
        raise ValueError(f"how must be one of {BARE}, got {how!r}")
    tx = optax.adam(lr)
    variables = model.init(jax.random.key(0), x[:1], train=False)
    carry = (variables["params"], variables.get("batch_stats", {}), tx.init(variables["params"]))
    steps = len(x) // batch_size
    apply = _apply(model)

    def step(carry, i, idx, key):
        params, stats, opt_state = carry

        def loss_fn(params):
            variables = {"params": params, "batch_stats": stats} if stats else {"params": params}
            logits, updates = apply(variables, x[idx], {"dropout": jax.random.fold_in(key, i)})
            return optax.softmax_cross_entropy_with_integer_labels(logits, y[idx]).mean(), updates

        (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        changes, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, changes), updates.get("batch_stats", stats), opt_state), loss

    @jax.jit
    def order(key):
        return jax.random.permutation(key, len(x))[: steps * batch_size].reshape(steps, batch_size)

    @partial(jax.jit, donate_argnums=0)
    def scanned(carry, key):
        body = lambda carry, batch: step(carry, *batch, key)  # noqa: E731
        return jax.lax.scan(
            body, carry, (jnp.arange(steps), order(key)), unroll=steps if how == "unrolled" else 1
        )

    @partial(jax.jit, donate_argnums=0)
    def one_step(carry, batches, i, key):
        return step(carry, i, batches[i], key)

    def looped(carry, key):
        batches, losses_ = order(key), []
        for i in range(steps):
            carry, loss = one_step(carry, batches, i, key)
            losses_.append(loss)
        return carry, jnp.stack(losses_)

    box = {"carry": carry, "epoch": 0}

    def run():
        box["epoch"] += 1
        key = jax.random.fold_in(jax.random.key(1), box["epoch"])
        box["carry"], losses_ = (looped if how == "loop" else scanned)(box["carry"], key)
        return losses_

    return _timed(run)


def _apply(model: nn.Module) -> Callable:
    """The model in training, as a function of its variables, inputs and dropout keys."""

    def apply(variables: dict, x: jax.Array, rngs: dict) -> tuple:
        return model.apply(variables, x, train=True, rngs=rngs, mutable=["batch_stats"])

    return apply


def matmul_limit_epoch(widths: tuple[int, ...], steps: int, batch_size: int) -> Epoch:
    """The dense model's own matmuls alone, an epoch's worth: per step and layer the forward
    x·W, the weight gradient xᵀ·δ and (but for the first layer) the input gradient δ·Wᵀ, at the
    model's shapes; nothing else. What this CPU can reach for these shapes, in one scan."""
    sizes = (784, *widths)
    keys = jax.random.split(jax.random.key(0), 2 * len(widths))
    weights = [jax.random.normal(k, (a, b)) * 0.01 for k, a, b in zip(keys, sizes, sizes[1:], strict=False)]
    inputs = [jax.random.normal(k, (batch_size, a)) for k, a in zip(keys[len(widths) :], sizes, strict=False)]

    @jax.jit
    def epoch(weights, inputs):
        def step(total, _):
            for i, (w, a) in enumerate(zip(weights, inputs, strict=True)):
                a = a + total * 1e-30  # depends on the step, so XLA cannot hoist it out of the loop
                out = a @ w  # forward
                total = total + (a.T @ out).sum()  # the weight gradient (δ stands in for out)
                if i:
                    total = total + (out @ w.T).sum()  # the input gradient
            return total, None

        return jax.lax.scan(step, jnp.float32(0), length=steps)[0]

    return _timed(lambda: epoch(weights, inputs))


def seeds_epoch(
    model: nn.Module, lr: float, x: jax.Array, y: jax.Array, batch_size: int, seeds: int, stacked: bool
) -> Epoch:
    """``seeds`` seeds of one model for an epoch: as one program (a stacked state, vmapped), or
    as ``seeds`` single runs one after another."""
    kw = dict(loss_fn=losses.cross_entropy, metrics_fn=train.classification_metrics)
    keys = train.seed_keys(range(seeds))
    if stacked:
        box = {"state": train.create_train_states(model, optax.adam(lr), x[:1], keys, **kw)}

        def run():
            box["state"], metrics = train.train_epoch(box["state"], (x, y), keys, batch_size=batch_size)
            return metrics
    else:
        box = {k: train.create_train_state(model, optax.adam(lr), x[:1], keys[k], **kw) for k in range(seeds)}

        def run():
            for k in range(seeds):
                box[k], metrics = train.train_epoch(box[k], (x, y), keys[k], batch_size=batch_size)
                jax.block_until_ready(metrics)
            return metrics

    return _timed(run)
