"""Training speed of jaxnets on this machine, as ratios measured in one interleaved run.

    python -m benchmarks.bench                  # every model; prints the tables, writes JSON
    python -m benchmarks.bench --models mlp     # some of them

A shared host drifts (up to ~1.7× from minute to minute), so no time is compared with one taken
at another moment: for each model, one epoch of each contender runs in turn (jaxnets, bare JAX,
the matmul limit, PyTorch's two loops), for ``--rounds`` rounds after one warm-up epoch each,
and each ratio is the median (min–max) of the rounds' ratios. Absolute times are context only.

- **jaxnets**: an epoch as ``fit`` runs it, with the strategy it chooses for this backend and
  model: one compiled scan, or on CPU, for a model whose convolutions are XLA's (the "XLA
  convolutions" rows), a host loop of the compiled step. The "conv_as_matmul" rows are the same
  models written with the workaround jaxnets offers for XLA:CPU (``xla_cpu.conv_as_matmul``,
  ``xla_cpu.max_pool_tiled``), which scan.
- **bare JAX**: the same epoch as a short JAX program without the engine
  (``jax_epochs.bare_epoch``), run as one scan, as a Python loop of the jitted step, and (for the
  convolutional nets, whose epochs are short) as a scan unrolled whole: jaxnets ÷ the fastest of
  them is what the engine, and its choice of strategy, cost.
- **matmul limit**: the dense model's own matmuls alone at its shapes, forward and backward
  (``jax_epochs.matmul_limit_epoch``): what a batch-100 MLP can reach on this CPU.
- **PyTorch**: the labs' DataLoader loop and a faster loop over tensors (``torch_loops``),
  PyTorch eager from the ``bench`` extra (``pip install -c constraints.txt -e ".[bench]"``).
- **seeds**: B8's MLP, N seeds as one program (a stacked state) against N single runs.

ResNet-18 "epochs" are ``--resnet-steps`` steps, not the 193 of a whole epoch, to keep the run
short on a CPU.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
from flax import linen as nn

from benchmarks import jax_epochs, torch_loops
from experiments.harness import results
from jaxnets import data, models


@dataclass(frozen=True)
class Case:
    """One model of the catalog, as the labs train it."""

    name: str
    jax_model: Callable[[], nn.Module]
    torch_model: Callable[[], Callable]
    data: str
    batch_size: int
    lr: float
    widths: tuple[int, ...] | None = None  # a dense model's layer widths (for its matmul limit)
    steps: int | None = None  # per timed "epoch"; None: the whole training set
    conv: bool = False  # a convolutional net (short epochs: its bare scan is also timed unrolled)


def catalog(resnet_steps: int) -> list[Case]:
    def mlp(name, widths, **kw):
        return Case(
            name,
            lambda: models.MLP(widths, **kw),
            lambda: torch_loops.mlp(widths, **kw),
            "mnist",
            100,
            1e-2 if kw.get("batch_norm") else 1e-3,
            widths,
        )

    return [
        mlp("softmax (B1)", (10,)),
        mlp("MLP 784-256-256-10 (B8)", (256, 256, 10)),
        mlp("dropout 784-512x4-10 (B10)", (512,) * 4 + (10,), dropout=0.3),
        mlp("batch norm 784-100-100-10 (B11)", (100, 100, 10), batch_norm=True),
        *(
            Case(
                f"small CNN on Fashion-MNIST, {how}",
                partial(jax_epochs.SmallCNN, as_matmul=as_matmul),
                torch_loops.small_cnn,
                "fashion_mnist",
                128,
                1e-3,
                steps=46,
                conv=True,
            )
            for how, as_matmul in (("conv_as_matmul", True), ("XLA convolutions", False))
        ),
        *(
            Case(
                f"ResNet-18 on 3/7 (C6), {how}",
                partial(models.ResNet18, 2, conv_as_matmul=as_matmul),
                lambda: torch_loops.resnet18(2),
                "mnist_sample",
                64,
                1e-3,
                steps=resnet_steps,
                conv=True,
            )
            for how, as_matmul in (
                ("conv_as_matmul", True),  # the lab's model on CPU: its own im2col
                ("XLA convolutions", False),  # as a user writes it: XLA:CPU's own convolutions
            )
        ),
    ]


def interleaved(contenders: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Each contender's epoch times, one epoch of each in turn per round, after a warm-up each."""
    for epoch in contenders.values():
        epoch()  # compiles (JAX) or warms the allocator and the DataLoader (PyTorch)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, epoch in contenders.items():
            times[name].append(epoch())
    return times


def ratio(times: dict[str, list[float]], a: str, b: str) -> dict[str, float]:
    """a's time over b's, round by round: the median and the range."""
    per_round = [x / y for x, y in zip(times[a], times[b], strict=True)]
    return {"median": statistics.median(per_round), "min": min(per_round), "max": max(per_round)}


def run_case(case: Case, rounds: int, data_dir: str | None, torch: bool) -> dict:
    (images, labels), _ = data.load(case.data, data_dir)
    n = (case.steps or len(images) // case.batch_size) * case.batch_size
    images, labels = images[:n], labels[:n]
    x, y = jnp.asarray(data.to_float(images)), jnp.asarray(labels)
    jaxnets = jax_epochs.jaxnets_epoch(case.jax_model(), case.lr, x, y, case.batch_size)
    contenders = {"jaxnets": jaxnets}
    # Dense nets: a scan and a loop; convolutional ones also unrolled.
    ways = ["scan", "loop", *(["unrolled"] if case.conv else [])]
    for how in ways:
        contenders[f"bare JAX {how}"] = jax_epochs.bare_epoch(
            case.jax_model(), case.lr, x, y, case.batch_size, how
        )
    if case.widths:
        contenders["matmul limit"] = jax_epochs.matmul_limit_epoch(
            case.widths, n // case.batch_size, case.batch_size
        )
    if torch:
        for loop in ("seeds", "tensors"):
            contenders[f"PyTorch {loop}"] = torch_loops.epoch_runner(
                case.torch_model(), images, labels, case.batch_size, case.lr, loop
            )
    times = interleaved(contenders, rounds)
    median = {k: statistics.median(v) for k, v in times.items()}
    fastest = min((k for k in times if k.startswith("bare JAX")), key=median.get)
    return {
        "model": case.name,
        "steps": n // case.batch_size,
        "jaxnets_epoch_as": jaxnets.how,
        "fastest_jax": fastest,
        "times": times,
        "median_s": median,
        "ratios": {k: ratio(times, "jaxnets", k) for k in times if k != "jaxnets"},
    }


def run_seeds(counts: tuple[int, ...], rounds: int, data_dir: str | None) -> list[dict]:
    """B8's MLP: N seeds as one program against N single runs, interleaved."""
    (images, labels), _ = data.load("mnist", data_dir)
    x, y = jnp.asarray(data.to_float(images)), jnp.asarray(labels)
    model = models.MLP((256, 256, 10), weight_init="xavier_uniform")
    rows = []
    for n in counts:
        contenders = {
            "one program": jax_epochs.seeds_epoch(model, 1e-3, x, y, 100, n, stacked=True),
            "one after another": jax_epochs.seeds_epoch(model, 1e-3, x, y, 100, n, stacked=False),
        }
        times = interleaved(contenders, rounds)
        median = {k: statistics.median(v) for k, v in times.items()}
        rows.append(
            {
                "seeds": n,
                "median_s": median,
                "ratio": ratio(times, "one program", "one after another"),
                "seeds_per_s": {k: n / v for k, v in median.items()},
            }
        )
    return rows


def _cpu() -> str:
    try:
        names = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
        return f"{names[0]} × {len(names)}" if names else platform.processor()
    except OSError:
        return platform.processor() or platform.machine()


def _torch_version() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    return torch.__version__


def run(
    names: list[str] | None,
    rounds: int,
    resnet_steps: int,
    seed_counts: tuple[int, ...],
    data_dir: str | None,
) -> dict:
    cases = [c for c in catalog(resnet_steps) if not names or any(n.lower() in c.name.lower() for n in names)]
    if not cases and not seed_counts:
        raise SystemExit(f"no model matches {names}; models: {', '.join(c.name for c in catalog(0))}")
    torch_version = _torch_version()
    rows = []
    for case in cases:
        rows.append(run_case(case, rounds, data_dir, torch=torch_version is not None))
        print(f"  {case.name}: done", flush=True)
    seeds = run_seeds(seed_counts, rounds, data_dir) if seed_counts else []
    return {
        "env": {**results.env_info(), "torch": torch_version, "cpu": _cpu()},
        "rounds": rounds,
        "rows": rows,
        "seeds": seeds,
    }


def _span(r: dict) -> str:
    return f"{r['median']:.2f} ({r['min']:.2f}–{r['max']:.2f})"


def table(report: dict) -> str:
    """The benchmark as Markdown tables."""
    head = [
        "model",
        "steps/epoch",
        "jaxnets epoch (as)",
        "÷ fastest bare JAX (which)",
        "÷ bare JAX scan",
        "matmul limit share",
        "÷ PyTorch seeds' loop",
        "÷ PyTorch tensors",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in report["rows"]:
        ratios = r["ratios"]
        limit = ratios.get("matmul limit")
        cells = [
            r["model"],
            str(r["steps"]),
            f"{r['median_s']['jaxnets']:.3f} s ({r['jaxnets_epoch_as']})",
            f"{_span(ratios[r['fastest_jax']])} ({r['fastest_jax'].removeprefix('bare JAX ')})",
            _span(ratios["bare JAX scan"]),
            f"{1 / limit['median']:.0%} ({1 / limit['max']:.0%}–{1 / limit['min']:.0%})" if limit else "–",
            *(_span(ratios[k]) if k in ratios else "–" for k in ("PyTorch seeds", "PyTorch tensors")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if report["seeds"]:
        lines += [
            "",
            "| B8 MLP, N seeds | one program | one after another | ÷ | seeds·epochs/s (one program) |",
            "| --- | --- | --- | --- | --- |",
        ]
        for s in report["seeds"]:
            m = s["median_s"]
            cells = [str(s["seeds"]), f"{m['one program']:.2f} s", f"{m['one after another']:.2f} s"]
            cells += [_span(s["ratio"]), f"{s['seeds_per_s']['one program']:.2f}"]
            lines.append("| " + " | ".join(cells) + " |")
    env = report["env"]
    lines += [
        "",
        f"{env['cpu']}; {env['backend']} ({len(env['devices'])} device(s)); jax {env['jax']}, "
        f"flax {env['flax']}, optax {env['optax']}, torch {env['torch'] or 'not installed'}, "
        f"Python {env['python']}; ratios: median (min–max) of {report['rounds']} interleaved rounds; "
        "times: medians.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="*", help="substrings of model names (default: all)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved timed rounds (after one warm-up)")
    p.add_argument("--resnet-steps", type=int, default=20, help="steps in a ResNet-18 'epoch'")
    p.add_argument("--seeds", type=int, nargs="*", default=[1, 4, 8], help="seed counts for the seeds table")
    p.add_argument("--data-dir", help=f"folder with mnist/ (default: ${data.ENV_VAR})")
    p.add_argument("--out", type=Path, default=Path("results/benchmark.json"))
    args = p.parse_args(argv)
    if args.rounds < 1 or args.resnet_steps < 1:
        raise SystemExit("--rounds and --resnet-steps must be >= 1")
    print(f"devices: {jax.devices()}", flush=True)
    report = run(args.models, args.rounds, args.resnet_steps, tuple(args.seeds), args.data_dir)
    results.write_json(args.out, report)
    print(table(report))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
