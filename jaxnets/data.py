"""The image data sets of the labs as arrays, and splits.

MNIST and Fashion-MNIST come from the standard
IDX ``.gz`` files, found in this order: the ``data_dir`` argument (``--data-dir``), the
``JAXNETS_DATA_DIR`` environment variable (a root with one sub-folder per data set, e.g.
``../shared/data``), Debian's ``/usr/share/datasets``, and finally tensorflow-datasets' catalog,
whose download manager fetches the files from their registered URLs and verifies their registered
checksums. No TensorFlow is needed on any path.
"""

from __future__ import annotations

import functools
import gzip
import os
import socket
import urllib.parse
import zlib
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxnets.errors import InputError, unknown

Arrays = tuple[np.ndarray, np.ndarray]

# --- splitting --------------------------------------------------------------------


def split(data: Arrays, fractions: tuple[float, ...], seed: int) -> list[Arrays]:
    """Shuffle ``data`` and cut it into parts of the given fractions (they must sum to 1)."""
    if not np.isclose(sum(fractions), 1.0):
        raise InputError(f"split fractions must sum to 1, got {fractions}")
    x, y = data
    order = np.random.default_rng(seed).permutation(len(x))
    cuts = np.round(np.cumsum(fractions)[:-1] * len(x)).astype(int)
    return [(x[idx], y[idx]) for idx in np.split(order, cuts)]


# --- MNIST-style IDX files ---------------------------------------------------------------------

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
# Folder names a data set may have under a data root, and its tensorflow-datasets name.
DATASETS = {
    "mnist": {"folders": ("mnist",), "tfds": "mnist", "counts": (60000, 10000)},
    "fashion_mnist": {
        "folders": ("fashion-mnist", "fashion_mnist"),
        "tfds": "fashion_mnist",
        "counts": (60000, 10000),
    },
}
DEBIAN_DATASETS = Path("/usr/share/datasets")
ENV_VAR = "JAXNETS_DATA_DIR"


class DataError(RuntimeError):
    """A data set cannot be found or its files are not valid; the message says how to fix it."""


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode an IDX file (unsigned-byte data): magic 0x0000 08 NDIM, NDIM big-endian sizes, data."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or not 1 <= raw[3] <= 4:
        raise DataError(f"{name}: not an IDX file of unsigned bytes (bad magic number {raw[:4]!r})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(
            f"{name}: IDX header says shape {shape} ({expected} bytes) but the file has "
            f"{len(raw)} bytes; the file is truncated or corrupt, download it again"
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def read_idx_gz(path: Path) -> np.ndarray:
    """Read one gzip-compressed IDX file, with an error that names the file when it is bad."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: not a valid gzip file ({e}); download it again") from None
    return parse_idx(raw, str(path))


def _validate(name: str, arrays: dict[str, np.ndarray], where: Path) -> None:
    n_train, n_test = DATASETS[name]["counts"]
    for split_name, n in (("train", n_train), ("test", n_test)):
        images, labels = arrays[f"{split_name}_images"], arrays[f"{split_name}_labels"]
        if images.shape != (n, 28, 28) or labels.shape != (n,):
            raise DataError(
                f"{where}: {name} {split_name} should hold {n} images of 28x28 and {n} labels, "
                f"found images {images.shape} and labels {labels.shape}"
            )
        if labels.max() > 9:
            raise DataError(f"{where}: {name} {split_name} labels must be 0..9")


def _find_folder(name: str, data_dir: str | os.PathLike | None) -> Path | None:
    given = {"--data-dir": data_dir, ENV_VAR: os.environ.get(ENV_VAR)}
    roots = [Path(folder) for folder in given.values() if folder]
    for origin, folder in given.items():
        if folder and not Path(folder).is_dir():
            raise DataError(
                f"the data folder {folder} ({origin}) does not exist: point it at the folder that "
                f"holds {DATASETS[name]['folders'][0]}/ (e.g. ../shared/data)"
            )
    roots.append(DEBIAN_DATASETS)
    for root in roots:
        # The root may be the data set's own folder as well as the parent of one.
        for folder in (root, *(root / sub for sub in DATASETS[name]["folders"])):
            if all((folder / f).is_file() for f in IDX_FILES.values()):
                return folder
    if data_dir:
        raise DataError(
            f"no {name} files in {data_dir}: expected the four files {', '.join(IDX_FILES.values())}"
            f" in {data_dir} or in a sub-folder named {' or '.join(DATASETS[name]['folders'])}"
        )
    return None


def _download_with_tfds(name: str) -> dict[str, Path]:
    """Fetch the IDX files with tensorflow-datasets' download manager and registered checksums."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.download import checksums

    tfds_name = DATASETS[name]["tfds"]
    builder = tfds.builder_cls(tfds_name)
    infos = {
        url: info
        for path in checksums._checksum_paths().values()
        if path.name == f"{tfds_name}.txt"
        for url, info in checksums.load_url_infos(path).items()
    }
    download_dir = Path(os.environ.get("TFDS_DATA_DIR", Path.home() / "tensorflow_datasets"))
    fix = (
        f"Fix: put the four files {', '.join(IDX_FILES.values())} in a folder and pass it with "
        f"--data-dir or set {ENV_VAR} (e.g. {ENV_VAR}=../shared/data)"
    )
    cached = download_dir / "downloads"
    if not any(cached.glob("*")) and not _reachable(builder.URL):
        raise DataError(f"{name} is not on this machine and {builder.URL} cannot be reached.\n{fix}")
    manager = tfds.download.DownloadManager(
        download_dir=download_dir / "downloads", url_infos=infos, dataset_name=tfds_name
    )
    try:
        paths = manager.download({k: builder.URL + f for k, f in IDX_FILES.items()})
    except Exception as e:  # network errors, checksum mismatches: one message with the fix
        raise DataError(
            f"could not get {name} through tensorflow-datasets ({type(e).__name__}: {e}).\n{fix}"
        ) from None
    return {k: Path(p) for k, p in paths.items()}


def _reachable(url: str, timeout: float = 5.0) -> bool:
    """Whether the host of ``url`` accepts a connection (so an offline machine fails fast)."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
        return True
    except OSError:
        return False


@functools.cache
def _read_idx_dataset(name: str, folder: Path | None) -> dict[str, np.ndarray]:
    """The data set's arrays from ``folder``, or from tensorflow-datasets when it is None; cached
    on the folder actually used, so a changed ``JAXNETS_DATA_DIR`` is never served stale."""
    if folder is not None:
        paths = {k: folder / f for k, f in IDX_FILES.items()}
    else:
        paths = _download_with_tfds(name)
    arrays = {k: read_idx_gz(p) for k, p in paths.items()}
    _validate(name, arrays, folder or next(iter(paths.values())).parent)
    for a in arrays.values():
        a.setflags(write=False)
    return arrays


def mnist_sample(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """fastai's MNIST_SAMPLE: the 3s and 7s of MNIST, labels 3 → 1 and 7 → 0 as in the book."""
    out = {}
    for split_name in ("train", "test"):
        images, labels = arrays[f"{split_name}_images"], arrays[f"{split_name}_labels"]
        keep = (labels == 3) | (labels == 7)
        out[f"{split_name}_images"] = images[keep]
        out[f"{split_name}_labels"] = (labels[keep] == 3).astype(np.int32)
    return out


LOADABLE = (*DATASETS, "mnist_sample")


def load(name: str, data_dir: str | os.PathLike | None = None) -> tuple[Arrays, Arrays]:
    """``((train_images, train_labels), (test_images, test_labels))`` of an image data set.

    ``name`` is "mnist", "fashion_mnist" or "mnist_sample" (3s and 7s; labels 1 for 3, 0 for 7).
    Images are uint8 N×28×28, labels int32. Cached: a second call returns the same arrays.
    """
    if name not in LOADABLE:
        raise unknown("data set", name, LOADABLE)
    base = "mnist" if name == "mnist_sample" else name
    arrays = _read_idx_dataset(base, _find_folder(base, data_dir))
    if name == "mnist_sample":
        arrays = mnist_sample(arrays)
    return (
        (arrays["train_images"], arrays["train_labels"].astype(np.int32)),
        (arrays["test_images"], arrays["test_labels"].astype(np.int32)),
    )


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 images → float32 in [0, 1] (the labs' ``ToTensor``)."""
    return images.astype(np.float32) / 255.0


CLASS_NAMES = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion_mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    "mnist_sample": ("7", "3"),
}


def load_float(
    name: str, data_dir: str | os.PathLike | None = None, train_subset: int | None = None, seed: int = 0
) -> tuple[tuple[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]:
    """``load(name)`` as device arrays: float32 images in [0, 1] (N×28×28) and int32 labels.

    ``train_subset`` keeps that many training examples, drawn at random with ``seed`` (for
    quick runs); the test set is always whole.
    """
    (x, y), (x_test, y_test) = load(name, data_dir)
    if train_subset is not None:
        if not 0 < train_subset <= len(x):
            raise InputError(f"train_subset must be in 1..{len(x)} (the training set), got {train_subset}")
        pick = np.sort(np.random.default_rng(seed).permutation(len(x))[:train_subset])
        x, y = x[pick], y[pick]
    train = (jnp.asarray(to_float(x)), jnp.asarray(y))
    test = (jnp.asarray(to_float(x_test)), jnp.asarray(y_test))
    chex.assert_type([train[0], test[0]], jnp.float32)
    chex.assert_type([train[1], test[1]], jnp.int32)
    chex.assert_equal_shape_prefix(train, 1)
    return train, test
