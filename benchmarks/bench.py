"""Training speed of jaxnets against the labs' PyTorch eager loop, on this machine, in one run.

    python -m benchmarks.bench                  # every model; prints a table, writes JSON
    python -m benchmarks.bench --models mlp     # some of them

Per model of the catalog: jaxnets' epoch time (median of ``--epochs`` epochs after one warm-up
epoch, which also compiles), steps/s, the warm-up epoch's extra time (mostly compilation), and
the achieved share of this machine's float32 matmul FLOP rate (a 4096×4096 matmul, measured here);
then PyTorch eager, in the same process, two ways:

- "seeds' loop": the labs' code: a ``DataLoader`` (batch size, shuffle, drop_last) over a data
  set that turns each uint8 image into a float tensor / 255 as it is fetched (what torchvision's
  ``MNIST(transform=ToTensor())`` does, without the PIL round trip), and per step
  ``zero_grad`` / forward / ``backward`` / ``step`` and ``avg_cost += cost / total_batch``;
- "tensors": the same steps on float tensors already in memory, indexed by a random permutation
  (no DataLoader): the fastest plain PyTorch loop.

PyTorch is an optional extra (``pip install -e ".[bench]"``). ResNet-18 "epochs" are
``--resnet-steps`` steps, not the 193 of a whole epoch, to keep the run short on a CPU.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn

from jaxnets import data, losses, models, parallel, results, train


@dataclass(frozen=True)
class Case:
    """One model of the catalog, as the labs train it."""

    name: str
    jax_model: Callable[[], nn.Module]
    torch_model: Callable[[], object]
    data: str
    batch_size: int
    lr: float
    steps: int | None = None  # per timed "epoch"; None: the whole training set
    dense: bool = True  # FLOPs counted as 6 × parameters × examples (else XLA's own count)


def _torch_mlp(widths, batch_norm=False, dropout=0.0):
    import torch

    def build():
        layers, fan_in = [torch.nn.Flatten()], 784
        for width in widths[:-1]:
            layers.append(torch.nn.Linear(fan_in, width))
            if batch_norm:
                layers.append(torch.nn.BatchNorm1d(width))
            layers.append(torch.nn.ReLU())
            if dropout:
                layers.append(torch.nn.Dropout(dropout))
            fan_in = width
        layers.append(torch.nn.Linear(fan_in, widths[-1]))
        return torch.nn.Sequential(*layers)

    return build


def _torch_resnet18(n_classes: int = 2):
    """The same ResNet-18 as ``jaxnets.models.ResNet18`` (grey input, 7×7 stem, max pool)."""
    import torch
    from torch import nn as tnn

    class Block(tnn.Module):
        def __init__(self, c_in, c_out, stride):
            super().__init__()
            self.c1 = tnn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            self.b1 = tnn.BatchNorm2d(c_out)
            self.c2 = tnn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
            self.b2 = tnn.BatchNorm2d(c_out)
            self.short = (
                tnn.Sequential(tnn.Conv2d(c_in, c_out, 1, stride, bias=False), tnn.BatchNorm2d(c_out))
                if stride != 1 or c_in != c_out
                else tnn.Identity()
            )

        def forward(self, x):
            y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
            return torch.relu(self.short(x) + y)

    def build():
        layers = [
            tnn.Conv2d(1, 64, 7, 2, 3, bias=False),
            tnn.BatchNorm2d(64),
            tnn.ReLU(),
            tnn.MaxPool2d(3, 2, 1),
        ]
        c_in = 64
        for i, c in enumerate((64, 128, 256, 512)):
            for j in range(2):
                layers.append(Block(c_in, c, 2 if i > 0 and j == 0 else 1))
                c_in = c
        layers += [tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(512, n_classes)]
        return tnn.Sequential(*layers)

    return build


def catalog(resnet_steps: int) -> list[Case]:
    return [
        Case("softmax (B1)", lambda: models.softmax_classifier(10), _torch_mlp((10,)), "mnist", 100, 0.1),
        Case(
            "MLP 784-256-256-10 (B8)",
            lambda: models.MLP((256, 256, 10)),
            _torch_mlp((256, 256, 10)),
            "mnist",
            100,
            1e-3,
        ),
        Case(
            "dropout 784-512x4-10 (B10)",
            lambda: models.MLP((512,) * 4 + (10,), dropout=0.3),
            _torch_mlp((512,) * 4 + (10,), dropout=0.3),
            "mnist",
            100,
            1e-3,
        ),
        Case(
            "batch norm 784-100-100-10 (B11)",
            lambda: models.MLP((100, 100, 10), batch_norm=True),
            _torch_mlp((100, 100, 10), batch_norm=True),
            "mnist",
            100,
            1e-2,
        ),
        Case(
            "ResNet-18 on 3/7 (C6)",
            lambda: models.ResNet18(2),
            _torch_resnet18(2),
            "mnist_sample",
            64,
            1e-3,
            steps=resnet_steps,
            dense=False,
        ),
    ]


def matmul_rate(n: int = 4096, repeats: int = 5) -> float:
    """FLOP/s of one float32 n×n matmul under jit (the machine's practical peak)."""
    a = jnp.ones((n, n), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    matmul(a, a).block_until_ready()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, a).block_until_ready()
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times)


def _flops_per_example(case: Case, state: train.TrainState, x: jax.Array, y: jax.Array) -> float:
    if case.dense:
        return 6 * sum(p.size for p in jax.tree.leaves(state.params))
    step = train.train_step.lower(state, (x[: case.batch_size], y[: case.batch_size])).compile()
    cost = step.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost["flops"]) / case.batch_size


def time_jax(case: Case, x: jax.Array, y: jax.Array, epochs: int) -> dict:
    model = case.jax_model()
    state = train.create_train_state(
        model,
        optax.adam(case.lr),
        x[:1],
        jax.random.key(0),
        losses.cross_entropy,
        train.classification_metrics,
    )
    flops = _flops_per_example(case, state, x, y)
    mesh = parallel.data_mesh()
    state, data_ = parallel.replicate((state, (x, y)), mesh)
    times = []
    for epoch in range(epochs + 1):
        start = time.perf_counter()
        state, metrics = train.train_epoch(state, data_, jax.random.key(epoch), case.batch_size, True, mesh)
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - start)
    steps = len(x) // case.batch_size
    epoch_s = statistics.median(times[1:])
    return {
        "epoch_s": epoch_s,
        "steps_per_s": steps / epoch_s,
        "compile_s": times[0] - epoch_s,
        "flop_rate": flops * steps * case.batch_size / epoch_s,
        "flops_per_example": flops,
        "final_loss": float(np.mean(metrics["loss"])),
    }


def time_torch(case: Case, images: np.ndarray, labels: np.ndarray, epochs: int, loop: str) -> dict:
    import torch

    torch.manual_seed(0)
    model = case.torch_model()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=case.lr)
    criterion = torch.nn.CrossEntropyLoss()
    steps = len(images) // case.batch_size

    class SeedsDataset(torch.utils.data.Dataset):
        """uint8 images made float / 255 one at a time, as ``ToTensor`` does."""

        def __init__(self):
            self.images, self.labels = (
                torch.from_numpy(images.copy()),
                torch.from_numpy(labels.astype(np.int64)),
            )

        def __len__(self):
            return len(self.images)

        def __getitem__(self, i):
            return self.images[i].float().div(255).unsqueeze(0), self.labels[i]

    if loop == "seeds":
        loader = torch.utils.data.DataLoader(
            SeedsDataset(), batch_size=case.batch_size, shuffle=True, drop_last=True
        )
        batches = lambda: iter(loader)  # noqa: E731
    else:
        xs = torch.from_numpy(images.astype(np.float32) / 255).unsqueeze(1)
        ys = torch.from_numpy(labels.astype(np.int64))

        def batches():
            order = torch.randperm(len(xs))
            for i in range(steps):
                idx = order[i * case.batch_size : (i + 1) * case.batch_size]
                yield xs[idx], ys[idx]

    times = []
    for _ in range(epochs + 1):
        start = time.perf_counter()
        avg_cost = 0
        for X, Y in batches():
            opt.zero_grad()
            cost = criterion(model(X), Y)
            cost.backward()
            opt.step()
            avg_cost += cost / steps
        avg_cost = avg_cost.item()
        times.append(time.perf_counter() - start)
    epoch_s = statistics.median(times[1:])
    return {"epoch_s": epoch_s, "steps_per_s": steps / epoch_s, "final_loss": avg_cost}


def _torch_version() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    return torch.__version__


def run(names: list[str] | None, epochs: int, resnet_steps: int, data_dir: str | None) -> dict:
    cases = [c for c in catalog(resnet_steps) if not names or any(n.lower() in c.name.lower() for n in names)]
    if not cases:
        raise SystemExit(f"no model matches {names}; models: {', '.join(c.name for c in catalog(0))}")
    torch_version = _torch_version()
    peak = matmul_rate()
    rows = []
    for case in cases:
        (images, labels), _ = data.load(case.data, data_dir)
        n = (case.steps or len(images) // case.batch_size) * case.batch_size
        images, labels = images[:n], labels[:n]
        x, y = jnp.asarray(data.to_float(images)), jnp.asarray(labels)
        row = {"model": case.name, "batch_size": case.batch_size, "steps": n // case.batch_size}
        row["jax"] = time_jax(case, x, y, epochs)
        row["jax"]["flop_share"] = row["jax"]["flop_rate"] / peak
        if torch_version:
            for loop in ("seeds", "tensors"):
                row[f"torch_{loop}"] = time_torch(case, images, labels, epochs, loop)
                row[f"ratio_{loop}"] = row["jax"]["epoch_s"] / row[f"torch_{loop}"]["epoch_s"]
        rows.append(row)
        print(f"  {case.name}: done", flush=True)
    return {
        "env": {**results.env_info(), "torch": torch_version, "processor": platform.processor()},
        "matmul_flop_rate": peak,
        "epochs": epochs,
        "rows": rows,
    }


def table(report: dict) -> str:
    """The benchmark as a Markdown table."""
    head = [
        "model",
        "steps/epoch",
        "jaxnets epoch",
        "steps/s",
        "compile",
        "FLOP share",
        "PyTorch seeds' loop",
        "ratio",
        "PyTorch tensors",
        "ratio",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in report["rows"]:
        j = r["jax"]
        cells = [
            r["model"],
            str(r["steps"]),
            f"{j['epoch_s']:.3f} s",
            f"{j['steps_per_s']:.0f}",
            f"{j['compile_s']:.1f} s",
            f"{j['flop_share']:.0%}",
        ]
        for loop in ("seeds", "tensors"):
            t = r.get(f"torch_{loop}")
            cells += [f"{t['epoch_s']:.3f} s", f"{r[f'ratio_{loop}']:.2f}"] if t else ["-", "-"]
        lines.append("| " + " | ".join(cells) + " |")
    env = report["env"]
    lines.append("")
    lines.append(
        f"{env['backend']} ({len(env['devices'])} device(s), {env['cpu_count']} CPU cores), "
        f"float32 matmul {report['matmul_flop_rate'] / 1e9:.0f} GFLOP/s; "
        f"jax {env['jax']}, flax {env['flax']}, optax {env['optax']}, "
        f"torch {env['torch'] or 'not installed'}, Python {env['python']}; "
        f"median of {report['epochs']} epochs after a warm-up epoch."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="*", help="substrings of model names (default: all)")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs per model (after one warm-up)")
    p.add_argument("--resnet-steps", type=int, default=20, help="steps in a ResNet-18 'epoch'")
    p.add_argument("--data-dir", help=f"folder with mnist/ (default: ${data.ENV_VAR})")
    p.add_argument("--out", type=Path, default=Path("results/benchmark.json"))
    args = p.parse_args(argv)
    if args.epochs < 1 or args.resnet_steps < 1:
        raise SystemExit("--epochs and --resnet-steps must be >= 1")
    print(f"devices: {jax.devices()}", flush=True)
    report = run(args.models, args.epochs, args.resnet_steps, args.data_dir)
    results.write_json(args.out, report)
    print(table(report))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
