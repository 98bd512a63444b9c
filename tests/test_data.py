import contextlib
import functools
import http.server
import shutil
import threading

import chex
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets import data
from jaxnets.errors import InputError
from tests.conftest import needs_fashion, needs_mnist
from tests.helpers import idx_bytes, make_dataset


def test_split_partitions_the_data():
    x = np.arange(100)
    parts = data.split((x, x), (0.8, 0.1, 0.1), seed=0)
    assert [len(p[0]) for p in parts] == [80, 10, 10]
    assert sorted(np.concatenate([p[0] for p in parts]).tolist()) == list(range(100))
    with pytest.raises(ValueError, match="sum to 1"):
        data.split((x, x), (0.5, 0.2), seed=0)


@pytest.mark.parametrize("fractions", [(1.5, -0.5), (-0.2, 0.6, 0.6), (float("nan"), 1.0)])
def test_split_refuses_fractions_outside_0_to_1(fractions):
    x = np.arange(100)
    with pytest.raises(
        InputError, match=r"split fractions must each be from 0 to 1 .*, got (1.5|-0.2|nan) in"
    ):
        data.split((x, x), fractions, seed=0)


def test_parse_idx_roundtrip_and_errors():
    images = np.random.default_rng(0).integers(0, 256, (3, 4, 5))
    np.testing.assert_array_equal(data.parse_idx(idx_bytes(images)), images)
    with pytest.raises(data.DataError, match="magic"):
        data.parse_idx(b"\x00\x00\x09\x03" + bytes(20), "x.gz")
    with pytest.raises(data.DataError, match="truncated"):
        data.parse_idx(idx_bytes(images)[:-7], "x.gz")


@pytest.fixture
def accept_any_data(monkeypatch):
    """The synthetic files these tests write are not the standard data sets: accept them."""
    monkeypatch.setenv(data.ACCEPT_ENV_VAR, "1")


def test_load_from_a_data_dir_and_clear_errors(tmp_path, monkeypatch, accept_any_data):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    make_dataset(tmp_path / "fashion-mnist")
    (x, y), (xt, yt) = data.load("fashion_mnist", tmp_path)
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8 and yt.dtype == np.int32
    assert data.load("fashion_mnist", tmp_path)[0][0] is x  # cached

    make_dataset(tmp_path / "bad" / "mnist", corrupt="test_images")
    with pytest.raises(data.DataError, match="t10k-images.*download it again"):
        data.load("mnist", tmp_path / "bad")
    make_dataset(tmp_path / "short" / "mnist", n_test=5)
    with pytest.raises(data.DataError, match="10000 images"):
        data.load("mnist", tmp_path / "short")
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.DataError, match="expected the four files"):
        data.load("mnist", tmp_path / "empty")
    with pytest.raises(data.DataError, match=r"nowhere \(--data-dir\) does not exist"):
        data.load("mnist", tmp_path / "nowhere")
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "gone"))
    with pytest.raises(data.DataError, match=f"gone \\({data.ENV_VAR}\\) does not exist"):
        data.load("mnist")


@needs_mnist
def test_real_mnist_and_the_3_7_sample():
    (x, y), (xt, yt) = data.load("mnist")
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert np.bincount(y).tolist()[:3] == [5923, 6742, 5958]
    assert abs(data.to_float(x).mean() - 0.130660) < 1e-5
    (s, sy), (st_, sty) = data.load("mnist_sample")
    assert (len(s), len(st_)) == (6131 + 6265, 1010 + 1028) and int(sy.sum()) == 6131


def test_a_changed_data_dir_variable_is_not_served_from_the_cache(tmp_path, monkeypatch, accept_any_data):
    make_dataset(tmp_path / "one" / "fashion-mnist", label=1)
    make_dataset(tmp_path / "two" / "fashion-mnist", label=2)
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "one"))
    assert data.load("fashion_mnist")[0][1][0] == 1
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "two"))
    assert data.load("fashion_mnist")[0][1][0] == 2


def test_load_float_scales_subsets_and_checks_the_subset_size(tmp_path, accept_any_data):
    make_dataset(tmp_path / "fashion-mnist", label=3)
    (x, y), (xt, yt) = data.load_float("fashion_mnist", tmp_path, train_subset=500, seed=1)
    chex.assert_shape((x, xt), ((500, 28, 28), (10000, 28, 28)))
    chex.assert_type(x, jnp.float32)
    chex.assert_type(y, jnp.int32)
    assert float(x.max()) <= 1.0 and int(y[0]) == 3
    with pytest.raises(ValueError, match="train_subset"):
        data.load_float("fashion_mnist", tmp_path, train_subset=0)
    assert len(data.CLASS_NAMES["fashion_mnist"]) == 10


@needs_mnist
def test_load_float_subset_is_seeded():
    (a, ya), _ = data.load_float("mnist", train_subset=100, seed=0)
    (b, yb), _ = data.load_float("mnist", train_subset=100, seed=0)
    (c, _), _ = data.load_float("mnist", train_subset=100, seed=1)
    chex.assert_trees_all_equal((a, ya), (b, yb))
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    assert abs(float(a.mean()) - 0.1307) < 0.02


def test_an_explicit_data_folder_without_the_files_is_an_error_not_a_fall_back(tmp_path, monkeypatch):
    make_dataset(tmp_path / "good" / "fashion-mnist", label=4)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "good"))
    with pytest.raises(data.MissingData, match=r"no fashion_mnist files in .*empty \(--data-dir\)"):
        data.load("fashion_mnist", tmp_path / "empty", accept=True)
    assert data.load("fashion_mnist", accept=True)[0][1][0] == 4  # the variable's folder, when no flag
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "empty"))
    with pytest.raises(data.MissingData, match=f"empty \\({data.ENV_VAR}\\)"):
        data.load("fashion_mnist", accept=True)


def test_files_that_are_not_the_data_set_they_claim_to_be_are_refused_unless_accepted(tmp_path, monkeypatch):
    monkeypatch.delenv(data.ACCEPT_ENV_VAR, raising=False)
    make_dataset(tmp_path / "mnist", label=5)
    with pytest.raises(
        data.DataError, match=r"train-images.*not the standard file's contents .*--accept-data"
    ):
        data.load("mnist", tmp_path)
    assert data.load("mnist", tmp_path, accept=True)[0][1][0] == 5
    monkeypatch.setenv(data.ACCEPT_ENV_VAR, "1")
    assert data.load("mnist", tmp_path)[0][1][0] == 5


@needs_fashion
def test_fashion_mnist_files_under_mnist_are_not_taken_for_mnist(tmp_path):
    real = data._find_folder("fashion_mnist", None)
    (tmp_path / "mnist").mkdir()
    for name in data.IDX_FILES.values():
        shutil.copy(real / name, tmp_path / "mnist" / name)
    with pytest.raises(data.DataError, match="not the standard file's contents"):
        data.load("mnist", tmp_path, accept=False)
    assert data.load("fashion_mnist", tmp_path / "mnist", accept=False)[0][0].shape == (60000, 28, 28)


@contextlib.contextmanager
def _file_server(folder):
    """A web server on the loopback address serving ``folder``, stopped when the block ends."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@needs_mnist
def test_the_download_fallback_checks_tfds_registered_checksums(tmp_path):
    """tensorflow-datasets' download manager, with the URL infos its mnist builder registers,
    fetching from a local server: the real files pass, a changed file is refused."""
    real = data._find_folder("mnist", None)
    with _file_server(real) as url:
        paths = data.download("mnist", tmp_path / "downloads", base_url=url)
    assert set(paths) == set(data.IDX_FILES)
    assert data.read_idx_gz(paths["train_labels"], data.DATASETS["mnist"]["md5"]["train_labels"]).shape == (
        60000,
    )
    (tmp_path / "tampered").mkdir()
    for name in data.IDX_FILES.values():
        shutil.copy(real / name, tmp_path / "tampered" / name)
    raw = bytearray((tmp_path / "tampered" / "t10k-labels-idx1-ubyte.gz").read_bytes())
    raw[-20] ^= 0xFF
    (tmp_path / "tampered" / "t10k-labels-idx1-ubyte.gz").write_bytes(bytes(raw))
    with (
        _file_server(tmp_path / "tampered") as url,
        pytest.raises(data.DataError, match="could not get mnist"),
    ):
        data.download("mnist", tmp_path / "downloads2", base_url=url)
