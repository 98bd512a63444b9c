"""The Colab TPU notebook, executed here on 8 simulated CPU devices (its code cells in order, as
one script in a fresh process), in its quick mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from jaxnets import data
from tests.conftest import needs_fashion

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "colab_tpu.ipynb"


def notebook_code(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


@needs_fashion
def test_colab_notebook_runs_the_mnist_experiments_on_8_devices(tmp_path):
    script = tmp_path / "notebook.py"
    script.write_text(notebook_code(NOTEBOOK))
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
        "JAXNETS_NOTEBOOK_QUICK": "1",
        "PYTHONPATH": str(NOTEBOOK.parents[1]),
    }
    if data.ENV_VAR in os.environ:  # the notebook runs in tmp_path: make a relative folder absolute
        env[data.ENV_VAR] = str(Path(os.environ[data.ENV_VAR]).resolve())
    env.pop("JAX_PLATFORMS", None)
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "8 cpu device(s); mesh {'data': 8}" in out
    assert "state on 8 device(s)" in out
    assert "exit status 0" in out
    report = (tmp_path / "results" / "quick" / "REPORT.md").read_text()
    for experiment in ("B1-B2", "B6", "B7-B9", "B10", "B11", "B12", "D2-D3"):
        assert f"| {experiment} " in report, experiment
