"""How much of a run is compilation, with a cold and a warm compilation cache.

    python -m benchmarks.compile_time                 # every experiment, --quick
    python -m benchmarks.compile_time B11 C6 --full   # some, at the notes' settings

Runs the experiments one after another in a fresh process (as ``python -m experiments all``
does), twice: first with an empty persistent compilation cache (cold), then in another fresh
process with the cache the first one filled (warm). JAX's monitoring events give, per
experiment, the time spent tracing, lowering and compiling (or loading a compiled program from
the cache), and which programs were compiled more than once (same name, other shapes).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EVENTS = {
    "/jax/core/compile/jaxpr_trace_duration": "trace",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
    "/jax/core/compile/backend_compile_duration": "compile",
}


MIN_S = 0.2  # a program compiled again for at least this long in all is listed as repeated


def child(names: list[str], out: Path, cache: Path, quick: bool, keep: Path | None = None) -> None:
    """Run ``names`` in this process, recording each one's compilation events, as JSON in ``out``
    (the experiments' results in ``keep``, if given)."""
    import jax

    from experiments.harness import cli

    seen: list[tuple[str, float, str]] = []
    hits: list[str] = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, duration, **kw: seen.append((event, duration, kw.get("fun_name", "")))
    )
    jax.monitoring.register_event_listener(
        lambda event, **kw: hits.append(event) if event == "/jax/compilation_cache/cache_hits" else None
    )
    rows = []
    with tempfile.TemporaryDirectory() as results:
        results = str(keep or results)
        for name in names:
            seen.clear()
            hits.clear()
            start = time.perf_counter()
            args = [name, "--out", results, "--cache-dir", str(cache), *(["--quick"] if quick else [])]
            code = cli.main([*args, "--no-checkpoint"])
            wall = time.perf_counter() - start
            times = collections.Counter()
            names_ = collections.Counter()
            spent = collections.Counter()
            for event, duration, fun in seen:
                if event in EVENTS:
                    times[EVENTS[event]] += duration
                if EVENTS.get(event) == "compile":
                    names_[fun] += 1
                    spent[fun] += duration
            rows.append(
                {
                    "experiment": name,
                    "exit": code,
                    "wall_s": wall,
                    **{k: times[k] for k in EVENTS.values()},
                    "programs": sum(names_.values()),
                    "cache_hits": len(hits),
                    # programs compiled more than once, where it cost time (not eager ops' tiny ones)
                    "repeated": {k: [v, spent[k]] for k, v in names_.items() if v > 1 and spent[k] >= MIN_S},
                }
            )
    out.write_text(json.dumps(rows))


def measure(names: list[str], quick: bool, keep: Path | None = None) -> dict[str, list[dict]]:
    """Cold and warm: each a fresh process, the second with the first one's cache (the cold run's
    results kept in ``keep``, if given: to compare numbers between two versions)."""
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        for kind in ("cold", "warm"):
            out = Path(tmp) / f"{kind}.json"
            command = [sys.executable, "-m", "benchmarks.compile_time", "--child", str(out), str(cache)]
            command += [*names, *([] if quick else ["--full"])]
            command += ["--keep", str(keep.resolve())] if keep and kind == "cold" else []
            env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
            subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
            runs[kind] = json.loads(out.read_text())
            print(f"  {kind}: done", flush=True)
    return runs


def table(runs: dict[str, list[dict]]) -> str:
    """Per experiment: wall time and compilation (trace + lower + compile or load), cold and warm."""
    head = ["experiment", "cold: wall", "compiling", "share", "programs", "warm: wall", "compiling", "share"]
    lines = ["| " + " | ".join([*head, "repeated (cold)"]) + " |", "|" + " --- |" * 9]
    total = collections.Counter()
    for cold, warm in zip(runs["cold"], runs["warm"], strict=True):
        cells = [cold["experiment"]]
        for r in (cold, warm):
            spent = r["trace"] + r["lower"] + r["compile"]
            cells += [f"{r['wall_s']:.1f} s", f"{spent:.1f} s", f"{spent / r['wall_s']:.0%}"]
            if r is cold:
                cells.append(str(r["programs"]))
            total[f"{r is cold}wall"] += r["wall_s"]
            total[f"{r is cold}spent"] += spent
        repeated = sorted(cold["repeated"].items(), key=lambda kv: -kv[1][1])
        cells.append(", ".join(f"{k} ×{n} ({t:.1f} s)" for k, (n, t) in repeated) or "–")
        lines.append("| " + " | ".join(cells) + " |")
    cells = ["**all**"]
    for is_cold in (True, False):
        wall, spent = total[f"{is_cold}wall"], total[f"{is_cold}spent"]
        cells += [f"{wall:.0f} s", f"{spent:.0f} s", f"{spent / wall:.0%}"] + (["–"] if is_cold else [])
    lines.append("| " + " | ".join([*cells, ""]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        out, cache, *rest = argv[1:]
        keep = Path(rest.pop(rest.index("--keep") + 1)) if "--keep" in rest else None
        names = [n for n in rest if n not in ("--full", "--keep")]
        child(names, Path(out), Path(cache), quick="--full" not in rest, keep=keep)
        return
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.compile_time", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("names", nargs="*", help="experiments (default: all)")
    p.add_argument("--full", action="store_true", help="the notes' settings instead of --quick")
    p.add_argument("--out", type=Path, default=Path("results/compile_time.json"))
    p.add_argument("--keep", type=Path, help="keep the cold run's results in this folder")
    args = p.parse_args(argv)
    from experiments import all_experiments

    names = args.names or [e.id for e in all_experiments()]
    runs = measure(names, quick=not args.full, keep=args.keep)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(runs, indent=1))
    print(table(runs))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
