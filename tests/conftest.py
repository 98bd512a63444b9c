import os
from pathlib import Path

# One persistent compilation cache for the whole test session, in-process and in every
# subprocess the tests start (CLI runs, the notebook's kernel, the 8-device and resume runs):
# they compile the same programs again and again. Set before JAX is imported.
_CACHE = Path(__file__).parents[1] / ".pytest_cache" / "jaxnets-xla"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_CACHE))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAXNETS_CACHE_DIR", os.environ["JAX_COMPILATION_CACHE_DIR"])  # the CLI's default
# The precision policy (experiments.harness.runner.PRECISION): float32 matrix products on every backend,
# since the tests' bars (1e-6 between seed k of N and the single run, resume bit for bit, 1 vs 8
# devices) are tighter than a TPU's bfloat16 passes or a GPU's TF32. The CPU computes float32 anyway.
os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "float32")

import pytest  # noqa: E402

from jaxnets import data  # noqa: E402


def _available(name: str) -> bool:
    try:
        return data._find_folder(name, None) is not None
    except data.DataError:
        return False


needs_mnist = pytest.mark.skipif(
    not _available("mnist"),
    reason=f"MNIST files not found: set {data.ENV_VAR} to a folder holding mnist/ (its four IDX .gz files)",
)
needs_fashion = pytest.mark.skipif(
    not (_available("mnist") and _available("fashion_mnist")),
    reason=f"MNIST or Fashion-MNIST files not found: set {data.ENV_VAR} to a folder holding mnist/ and "
    "fashion-mnist/ (their IDX .gz files)",
)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path


def pytest_report_header(config):
    return f"{data.ENV_VAR}={os.environ.get(data.ENV_VAR, '(unset)')}"
