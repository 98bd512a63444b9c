"""The notebook, executed as a notebook (nbclient, a real Jupyter kernel) on 1 and on 8
simulated CPU devices, in its quick mode: every cell runs, it says what it does with the
devices it finds, and the report and the plots are displayed inline. It runs one short
experiment (D1): running the experiments is the business of tests/experiments."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from jaxnets import data
from tests.conftest import needs_mnist

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "jaxnets_on_tpu.ipynb"


def _outputs(nb) -> tuple[str, list[dict]]:
    """All printed text, and every rich display (its data by MIME type)."""
    text, displays = [], []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                text.append(output["text"])
            elif output["output_type"] in ("display_data", "execute_result"):
                displays.append(output["data"])
    return "".join(text), displays


@needs_mnist
@pytest.mark.parametrize("devices", [1, 8])
def test_the_notebook_executes_on_one_and_on_eight_devices(tmp_path, monkeypatch, devices):
    monkeypatch.setenv("XLA_FLAGS", f"--xla_force_host_platform_device_count={devices}")
    monkeypatch.setenv("JAXNETS_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("JAXNETS_NOTEBOOK_EXPERIMENTS", "D1")
    monkeypatch.setenv("PYTHONPATH", str(NOTEBOOK.parents[1]))
    monkeypatch.setenv(
        data.ENV_VAR, str(Path(os.environ[data.ENV_VAR]).resolve())
    )  # the kernel runs in tmp_path
    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text, displays = _outputs(nb)
    assert f"{devices} cpu device(s); mesh {{'data': {devices}}}" in text
    plan = "there is no data parallelism to show" if devices == 1 else f"each batch split {devices} ways"
    assert plan in text
    assert f"state on {devices} device(s)" in text and "exit status 0" in text
    markdown = [d["text/markdown"] for d in displays if "text/markdown" in d]
    assert any("| D1 Linear regression by gradient descent" in m for m in markdown), "the report, inline"
    assert sum("image/png" in d for d in displays) >= 1, "the plots, inline"
