"""``python -m benchmarks.accelerator --quick``, the one command for an accelerator, on 8
simulated CPU devices: every check it makes passes (among them the matrix of the caller's
arrays surviving ``fit``, ``train_model``, ``evaluate``, ``predict``, ``train_step`` and the
streaming path), and it prints its speed table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
CHECKS = (
    "caller's arrays, fit twice from one state",
    "caller's arrays, fit twice from a state placed on the mesh",
    "caller's arrays, fit twice from stacked seeds",
    "caller's arrays, fit twice from streamed data",
    "caller's arrays, train_model twice from the caller's arrays",
    "caller's arrays, evaluate and predict after fit",
    "caller's arrays, train_step after fit",
    "1 vs N devices",
    "seeds",
    "resume",
    "precision",
)


def test_the_accelerator_checks_pass_on_eight_devices() -> None:
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    env.pop("JAX_PLATFORMS", None)
    cmd = [sys.executable, "-m", "benchmarks.accelerator", "--quick"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("8 cpu device(s)"), proc.stdout + proc.stderr[-3000:]
    verdicts = {line.split(": ", 1)[0][6:]: line[:4] for line in lines if line[:4] in ("PASS", "FAIL")}
    assert verdicts == dict.fromkeys(CHECKS, "PASS"), proc.stdout
    assert "| MLP 784-256-256-10 | 6000 | 100 |" in proc.stdout, "the speed table"
    assert proc.returncode == 0 and lines[-1] == f"{len(CHECKS)} passed, 0 failed"
