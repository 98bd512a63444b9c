import os
from pathlib import Path

import pytest

from jaxnets import data


def _mnist_available() -> bool:
    try:
        return data._find_folder("mnist", None) is not None
    except data.DataError:
        return False


needs_mnist = pytest.mark.skipif(
    not _mnist_available(),
    reason=f"MNIST files not found: set {data.ENV_VAR} to a folder holding mnist/ (e.g. ../shared/data)",
)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path


def pytest_report_header(config):
    return f"{data.ENV_VAR}={os.environ.get(data.ENV_VAR, '(unset)')}"
