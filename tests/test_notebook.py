"""The notebook, executed as a notebook (nbclient, a real Jupyter kernel) on 1 and on 8
simulated CPU devices, in its quick mode: every cell runs, it says what it does with the
devices it finds, and the report and the plots are displayed inline. It runs one short
experiment (D1): running the experiments is the business of tests/experiments."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import jax
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


def _cells(*markers: str) -> str:
    """The source of the notebook's cells that contain ``markers``, in order (run as they are)."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return "\n".join(next(c.source for c in nb.cells if m in c.source) for m in markers)


@contextlib.contextmanager
def _read_only(folder: Path):
    """``folder`` mounted read-only over itself, as Kaggle's /kaggle/input is (where the machine
    lets root mount; otherwise read-only by its permissions, which root does not obey: then the
    test's check that nothing was written there is what remains)."""
    mounted = subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(folder)], capture_output=True)
    if mounted.returncode != 0:
        for p in [folder, *folder.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        yield
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", str(folder)], check=True)


def test_the_install_cell_keeps_the_runtimes_jax_and_installs_from_a_read_only_upload(tmp_path):
    """The settings and install cells, run as a hosted runtime runs them: a fresh environment that
    already holds a jax (this one's, seen through a .pth as a runtime's preinstalled packages),
    jaxnets uploaded as jaxnets.zip in a read-only folder, no package index. Then with no upload
    and an unreachable repository: one line saying what to upload where."""
    runtime = tmp_path / "runtime"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(runtime)], check=True)
    preinstalled = [p for p in sys.path if p.endswith("site-packages")]
    next(runtime.glob("lib/python*/site-packages")).joinpath("runtime.pth").write_text(
        "\n".join(preinstalled)
    )
    python = str(runtime / "bin" / "python")
    versions = "import importlib.metadata as m; print(m.version('jax'), m.version('jaxlib'))"
    before = subprocess.run([python, "-c", versions], capture_output=True, text=True, check=True).stdout
    assert before.split() == [jax.__version__, jax.__version__]

    uploads = tmp_path / "uploads"
    uploads.mkdir()
    repo = NOTEBOOK.parents[1]
    tracked = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True)
    with zipfile.ZipFile(uploads / "jaxnets.zip", "w") as z:
        for name in tracked.stdout.split():
            if (repo / name).is_file():
                z.write(repo / name, f"jaxnets-main/{name}")
    listing = sorted((p.name, p.stat().st_mtime_ns) for p in uploads.iterdir())
    env = {
        **os.environ,
        "JAXNETS_NOTEBOOK_HOSTED": "1",
        "JAXNETS_NOTEBOOK_UPLOADS": str(uploads),
        "PIP_NO_INDEX": "1",  # nothing may be downloaded: what the runtime has is kept
        "PIP_NO_BUILD_ISOLATION": "0",  # i.e. no build isolation: build with the runtime's setuptools
        "TMPDIR": str(tmp_path / "tmp"),
    }
    (tmp_path / "tmp").mkdir()
    code = _cells("REPO_URL =", "HOSTED =")
    with _read_only(uploads):
        cell = subprocess.run(
            [python, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
    assert cell.returncode == 0, cell.stdout + cell.stderr
    assert f"installed jaxnets 0.1.0 from {tmp_path / 'tmp' / 'jaxnets-src' / 'jaxnets-main'}" in cell.stdout
    assert f"kept the runtime's jax {jax.__version__}, jaxlib {jax.__version__}" in cell.stdout
    after = subprocess.run([python, "-c", versions], capture_output=True, text=True, check=True).stdout
    assert after == before, "the runtime's jax and jaxlib are kept"
    where = "import jaxnets; print(jaxnets.__file__)"
    installed = subprocess.run(
        [python, "-c", where], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert installed.stdout.startswith(str(runtime)), "jaxnets installed into the runtime's environment"
    assert sorted((p.name, p.stat().st_mtime_ns) for p in uploads.iterdir()) == listing, "uploads untouched"

    # No upload, and a repository that cannot be reached: one line, what to upload where.
    env |= {"JAXNETS_NOTEBOOK_UPLOADS": str(tmp_path / "empty")}
    code = code.replace('REPO_URL = "', f'REPO_URL = "{tmp_path / "no-such-repo"}#')
    missing = subprocess.run(
        [python, "-c", code], cwd=tmp_path / "tmp", env=env, capture_output=True, text=True
    )
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr.count(
        "\n"
    ) == 1 and "cannot be reached: upload a zip of the repository as jaxnets.zip" in (missing.stderr)


def test_the_install_cell_names_the_supported_jax_where_the_runtimes_is_outside_it(tmp_path):
    """A runtime whose jax jaxnets does not support (a stand-in jax 0.99.0, as a later Colab may
    ship): pip is not allowed to replace it, so the cell stops with one line naming the range of
    jax and Python that jaxnets supports, from the uploaded pyproject.toml."""
    runtime = tmp_path / "runtime"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(runtime)], check=True)
    site = next(runtime.glob("lib/python*/site-packages"))
    site.joinpath("runtime.pth").write_text("\n".join(p for p in sys.path if p.endswith("site-packages")))
    fake = site / "jax-0.99.0.dist-info"  # found before the real one: the runtime's jax
    fake.mkdir()
    fake.joinpath("METADATA").write_text("Metadata-Version: 2.1\nName: jax\nVersion: 0.99.0\n")
    fake.joinpath("RECORD").write_text("")
    repo = NOTEBOOK.parents[1]
    uploads = tmp_path / "uploads"
    (uploads / "jaxnets").mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        (uploads / "jaxnets" / name).write_text((repo / name).read_text())
    (uploads / "jaxnets" / "jaxnets").mkdir()
    env = {
        **os.environ,
        "JAXNETS_NOTEBOOK_HOSTED": "1",
        "JAXNETS_NOTEBOOK_UPLOADS": str(uploads),
        "PIP_NO_INDEX": "1",
        "TMPDIR": str(tmp_path),
    }
    cell = subprocess.run(
        [str(runtime / "bin" / "python"), "-c", _cells("REPO_URL =", "HOSTED =")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cell.returncode == 1 and cell.stdout == "", cell.stdout + cell.stderr
    assert cell.stderr.count("\n") == 1, cell.stderr
    assert "pip could not install jaxnets beside this runtime's jax 0.99.0" in cell.stderr
    assert "jaxnets supports jax>=0.7.2,<0.13 on Python >=3.11" in cell.stderr
