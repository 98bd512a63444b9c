import os
from pathlib import Path

import pytest

from jaxnets import data


def _available(name: str) -> bool:
    try:
        return data._find_folder(name, None) is not None
    except data.DataError:
        return False


needs_mnist = pytest.mark.skipif(
    not _available("mnist"),
    reason=f"MNIST files not found: set {data.ENV_VAR} to a folder holding mnist/ (e.g. ../shared/data)",
)
needs_fashion = pytest.mark.skipif(
    not (_available("mnist") and _available("fashion_mnist")),
    reason=f"MNIST or Fashion-MNIST files not found: set {data.ENV_VAR} to a folder holding mnist/ and "
    "fashion-mnist/ (e.g. ../shared/data)",
)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path


def pytest_report_header(config):
    return f"{data.ENV_VAR}={os.environ.get(data.ENV_VAR, '(unset)')}"
