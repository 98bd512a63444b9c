"""One command for the day an accelerator is at hand: are jaxnets' numbers right on this backend,
with all of its devices, and how fast is it?

    python -m benchmarks.accelerator            # the checks, then the speed table
    python -m benchmarks.accelerator --quick    # smaller (what the tests run on 8 simulated CPU devices)

Each check prints one verdict line (PASS or FAIL, what was compared, the number measured); the
exit code is 1 if any check fails. The checks run at the experiments' matmul precision
(``experiments.harness.runner.PRECISION``):

- **caller's arrays**: ``fit``, ``train_model``, ``evaluate``, ``predict`` and the streaming path
  leave every array they were given alive and unchanged, on every device (fit twice from one
  state, a state the caller placed on the mesh, stacked seeds, streamed data; then ``evaluate``,
  ``predict`` and ``train_step`` of the caller's state).
- **1 vs N devices**: the same run on one device and on all of them (batch norm and dropout).
- **seeds**: run k of an N-seed program equals the single run of seed k.
- **resume**: a run stopped in epoch 2 and resumed from epoch 1's checkpoint ends as one that
  never stopped, bit for bit.
- **precision**: the compiled epoch multiplies at the policy's precision.

The speed table times one epoch of an MLP (B8's shapes) and, without ``--quick``, 20 steps of
ResNet-18 (C6's), data on the devices: compile time and steady epoch time.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import jax
import numpy as np
import optax

from experiments.harness.runner import PRECISION
from jaxnets import checkpoint, losses, models, parallel, train


@dataclass(frozen=True)
class Verdict:
    name: str
    passed: bool
    detail: str

    def __str__(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name}: {self.detail}"


def _data(n: int, d: int = 20, classes: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d), np.float32)
    y = (x @ rng.standard_normal((d, classes), np.float32)).argmax(-1).astype(np.int32)
    return x, y


def _net() -> tuple[models.MLP, optax.GradientTransformation]:
    # SGD with momentum, not Adam, for a BN net compared across device counts (see tests/test_parallel).
    return models.MLP((32, 32, 4), batch_norm=True, dropout=0.3), optax.sgd(0.1, momentum=0.9)


def _state(seed: int = 1, seeds: int = 1):
    model, tx = _net()
    x, _ = _data(8)
    return train.seeded_state(
        model,
        tx,
        x[:1],
        seed=seed,
        seeds=seeds,
        loss_fn=losses.cross_entropy,
        metrics_fn=train.classification_metrics,
    )


def _host(tree) -> list[np.ndarray]:
    """Every array of ``tree`` on the host (keys as their raw data)."""
    keys_as_data = jax.tree.map(lambda a: jax.random.key_data(a) if parallel.is_key(a) else a, tree)
    return [np.asarray(a) for a in jax.tree.leaves(parallel.to_host(keys_as_data))]


def _max_diff(a, b) -> float:
    return max((float(np.max(np.abs(p - q))) for p, q in zip(_host(a), _host(b), strict=True)), default=0.0)


def _alive_and_unchanged(tree, before: list[np.ndarray]) -> bool:
    leaves = [a for a in jax.tree.leaves(tree) if isinstance(a, jax.Array)]
    if any(a.is_deleted() for a in leaves):
        return False
    return all(np.array_equal(p, q) for p, q in zip(_host(tree), before, strict=True))


def caller_arrays(n: int, epochs: int) -> list[Verdict]:
    """The caller's arrays survive every public entry point, and a second fit equals the first.
    Each case starts from arrays of its own, so that one failure does not cascade."""
    valid = _data(n // 2, seed=1)
    found: list[Verdict] = []

    def case(name: str, run: Callable[..., tuple[object, object]], seeds: int = 1, **placement) -> None:
        def make():
            state, key = _state(seeds=seeds)
            x, y = _data(n)
            if placement.get("placed"):  # a state the caller put on every device already
                state = parallel.replicate(state, parallel.data_mesh())
            if placement.get("on_device"):
                x, y = jax.numpy.asarray(x), jax.numpy.asarray(y)
            return state, key, x, y

        # What the inputs hold, from a second copy: reading the inputs themselves to the host
        # first would cache a host copy in them, which JAX may then place instead of the buffer.
        before = _host(make())
        state, key, x, y = inputs = make()
        try:
            first, second = run(state, key, x, y)
            same = _max_diff(first, second)
            ok = _alive_and_unchanged(inputs, before) and same == 0.0
            detail = f"inputs alive and unchanged, the two runs {same:g} apart"
        except (RuntimeError, ValueError) as e:  # "Array has been deleted", "Buffer has been donated"
            ok, detail = False, str(e).splitlines()[0]
        found.append(Verdict(f"caller's arrays, {name}", ok, detail))

    def fit_twice(state, key, x, y, **kw):
        runs = [
            train.fit(state, (x, y), epochs=epochs, batch_size=32, key=key, valid=valid, progress=False, **kw)
            for _ in range(2)
        ]
        return runs[0].state.params, runs[1].state.params

    def train_model_twice(state, key, x, y):
        model, tx = _net()
        runs = [
            train.train_model(model, tx, (x, y), epochs=epochs, batch_size=32, seed=1, progress=False)
            for _ in range(2)
        ]
        return runs[0].state.params, runs[1].state.params

    def evaluate_after_fit(state, key, x, y):
        train.fit(state, (x, y), epochs=epochs, batch_size=32, key=key, progress=False)
        return [(train.evaluate(state, valid), train.predict(state, valid[0])) for _ in range(2)]

    def step_after_fit(state, key, x, y):  # train_step donates the state it is given, as documented
        expected, _ = train.train_step(jax.tree.map(jax.numpy.copy, state), (x[:32], y[:32]))
        train.fit(state, (x, y), epochs=epochs, batch_size=32, key=key, progress=False)
        stepped, _ = train.train_step(jax.tree.map(jax.numpy.copy, state), (x[:32], y[:32]))
        return expected.params, stepped.params

    case("fit twice from one state", fit_twice)
    case("fit twice from a state placed on the mesh", fit_twice, placed=True)
    case("fit twice from stacked seeds", fit_twice, seeds=max(2, min(jax.device_count(), 8)))
    case("fit twice from streamed data", functools.partial(fit_twice, stream=True))
    case("train_model twice from the caller's arrays", train_model_twice, on_device=True)
    case("evaluate and predict after fit", evaluate_after_fit)
    case("train_step after fit", step_after_fit)
    return found


def one_vs_all_devices(n: int, epochs: int) -> Verdict:
    devices = jax.devices()
    x, y = _data(n)
    runs = []
    for mesh in (parallel.data_mesh(devices[:1]), parallel.data_mesh(devices)):
        state, key = _state()
        runs.append(
            train.fit(
                state, (x, y), epochs=epochs, batch_size=100, key=key, valid=(x, y), mesh=mesh, progress=False
            )
        )
    loss = float(np.max(np.abs(runs[0].steps["loss"] - runs[1].steps["loss"])))
    params = _max_diff(runs[0].state.params, runs[1].state.params)
    stats = _max_diff(runs[0].state.batch_stats, runs[1].state.batch_stats)
    ok = loss <= 1e-5 and params <= 1e-5 and stats <= 1e-5
    detail = (
        f"1 vs {len(devices)}: losses {loss:.1e}, params {params:.1e}, BN statistics {stats:.1e} "
        "apart (bar 1e-5)"
    )
    return Verdict("1 vs N devices", ok, detail)


def seeds_equal_single_runs(n: int, epochs: int) -> Verdict:
    x, y = _data(n)
    seeds = max(2, min(jax.device_count(), 4))
    one_device = parallel.data_mesh(jax.devices()[:1])
    stacked, keys = _state(seed=1, seeds=seeds)
    together = train.fit(stacked, (x, y), epochs=epochs, batch_size=32, key=keys, progress=False)
    worst = 0.0
    for k in range(seeds):
        state, key = _state(seed=1 + k)
        alone = train.fit(
            state, (x, y), epochs=epochs, batch_size=32, key=key, progress=False, mesh=one_device
        )
        worst = max(worst, float(np.max(np.abs(together.steps["loss"][k] - alone.steps["loss"]))))
        worst = max(worst, _max_diff(together.state.run(k).params, alone.state.params))
    return Verdict(
        "seeds", worst <= 1e-6, f"run k of {seeds} seeds vs seed k alone: {worst:.1e} apart (bar 1e-6)"
    )


def resume_bit_for_bit(n: int) -> Verdict:
    x, y = _data(n)

    def stop_in_epoch_2(epoch, state, row):
        if epoch == 2:
            raise KeyboardInterrupt

    key = _state()[1]  # each fit from a state of its own (a check of resuming, not of aliasing)
    straight = train.fit(_state()[0], (x, y), epochs=3, batch_size=32, key=key, progress=False)
    with tempfile.TemporaryDirectory() as folder:
        with contextlib.suppress(KeyboardInterrupt):
            train.fit(
                _state()[0],
                (x, y),
                epochs=3,
                batch_size=32,
                key=key,
                progress=False,
                checkpoint_dir=folder,
                on_epoch=stop_in_epoch_2,
            )
        resumed_from = checkpoint.latest_epoch(folder)
        resumed = train.fit(
            _state()[0], (x, y), epochs=3, batch_size=32, key=key, progress=False, checkpoint_dir=folder
        )
    diff = _max_diff(
        (resumed.state.params, resumed.state.opt_state, resumed.state.batch_stats),
        (straight.state.params, straight.state.opt_state, straight.state.batch_stats),
    )
    ok = diff == 0.0 and resumed_from == 1
    return Verdict(
        "resume", ok, f"stopped in epoch 2, resumed from epoch {resumed_from}: {diff:g} from a straight run"
    )


def precision_in_force() -> Verdict:
    state, key = _state()
    x, y = _data(64)
    hlo = train.train_epoch.lower(state, (x, y), key, batch_size=32).as_text()
    dots = [line for line in hlo.splitlines() if "dot_general" in line]
    ok = bool(dots) and all("HIGHEST" in line for line in dots)
    return Verdict("precision", ok, f"{len(dots)} matrix products in the compiled epoch, all float32: {ok}")


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start


def speed(quick: bool) -> list[tuple[str, int, int, float, float]]:
    """(model, examples per epoch, batch size, first epoch s (compiling), steady epoch s)."""
    rng = np.random.default_rng(0)
    cases = [("MLP 784-256-256-10", models.MLP((256, 256, 10)), (28, 28), 6000 if quick else 60000, 100)]
    if not quick:
        cases.append(("ResNet-18, 20 steps", models.ResNet18(2), (28, 28, 3), 20 * 64, 64))
    rows = []
    for name, model, shape, n, batch_size in cases:
        x = rng.standard_normal((n, *shape), np.float32)
        y = rng.integers(0, 10 if "MLP" in name else 2, n).astype(np.int32)
        state = train.create_train_state(model, optax.adam(1e-3), x[:1], jax.random.key(0))
        state = parallel.replicate(state, parallel.data_mesh())
        data = parallel.replicate((x, y), parallel.data_mesh())
        mesh = parallel.data_mesh()
        holder = {"state": state}

        def epoch(i: int, holder=holder, data=data, batch_size=batch_size, mesh=mesh):
            holder["state"], metrics = train.train_epoch(
                holder["state"], data, jax.random.key(i), batch_size=batch_size, shuffle=True, mesh=mesh
            )
            return metrics

        first = _timed(lambda epoch=epoch: epoch(0))
        steady = min(_timed(lambda i=i, epoch=epoch: epoch(i)) for i in range(1, 2 if quick else 4))
        rows.append((name, n, batch_size, first, steady))
    return rows


@contextlib.contextmanager
def _policy() -> Iterator[None]:
    with jax.default_matmul_precision(PRECISION):
        yield


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.accelerator", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller data and fewer epochs (the tests' run)")
    args = p.parse_args(argv)
    n, epochs = (256, 2) if args.quick else (1600, 3)
    device = jax.devices()[0]
    print(
        f"{jax.device_count()} {jax.default_backend()} device(s) ({device.device_kind}), "
        f"{jax.process_count()} process(es); jax {jax.__version__}; "
        f"host {platform.processor() or platform.machine()}; "
        f"matmul precision {PRECISION}",
        flush=True,
    )
    with _policy():
        verdicts = [*caller_arrays(n, 1 if args.quick else epochs)]
        verdicts.append(one_vs_all_devices(n, epochs))
        verdicts.append(seeds_equal_single_runs(n, epochs))
        verdicts.append(resume_bit_for_bit(n))
        verdicts.append(precision_in_force())
        for v in verdicts:
            print(v, flush=True)
        print("\n| model | examples | batch | first epoch (compiling) s | epoch s | examples/s |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, examples, batch_size, first, steady in speed(args.quick):
            print(
                f"| {name} | {examples} | {batch_size} | {first:.3f} | {steady:.4f} "
                f"| {examples / steady:,.0f} |"
            )
    failed = [v.name for v in verdicts if not v.passed]
    print(
        f"\n{len(verdicts) - len(failed)} passed, {len(failed)} failed"
        + (f": {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
