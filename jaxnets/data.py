"""The image data sets of the labs as arrays, and splits.

MNIST and Fashion-MNIST come from the standard
IDX ``.gz`` files, found in this order: the ``data_dir`` argument (``--data-dir``), the
``JAXNETS_DATA_DIR`` environment variable (a root with one sub-folder per data set: ``mnist/``,
``fashion-mnist/``), Debian's ``/usr/share/datasets``, and finally tensorflow-datasets' catalog,
whose download manager fetches the files from their registered URLs and verifies their registered
checksums. No TensorFlow is needed on any path.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
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
    """Shuffle ``data`` and cut it into parts of the given fractions (each from 0 to 1, summing to 1)."""
    outside = [f for f in fractions if not 0 <= f <= 1]  # (nan too)
    if outside:
        raise InputError(
            f"split fractions must each be from 0 to 1 (a part's share of the data), got {outside[0]!r} "
            f"in {tuple(fractions)}"
        )
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
# Folder names a data set may have under a data root, its tensorflow-datasets name, its sizes,
# and the MD5 of each standard file's decompressed contents (the official MNIST files, which
# tensorflow-datasets registers too, and the standard Fashion-MNIST ones; see
# ../shared/data/README.md): the decompressed bytes, since a recompressed copy is still the data.
DATASETS = {
    "mnist": {
        "folders": ("mnist",),
        "tfds": "mnist",
        "counts": (60000, 10000),
        "md5": {
            "train_images": "6bbc9ace898e44ae57da46a324031adb",
            "train_labels": "a25bea736e30d166cdddb491f175f624",
            "test_images": "2646ac647ad5339dbf082846283269ea",
            "test_labels": "27ae3e4e09519cfbb04c329615203637",
        },
    },
    "fashion_mnist": {
        "folders": ("fashion-mnist", "fashion_mnist"),
        "tfds": "fashion_mnist",
        "counts": (60000, 10000),
        "md5": {
            "train_images": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            "train_labels": "9018921c3c673c538a1fc5bad174d6f9",
            "test_images": "8181f5470baa50b63fa0f6fddb340f0a",
            "test_labels": "15d484375f8d13e6eb1aabb0c3f46965",
        },
    },
}
DEBIAN_DATASETS = Path("/usr/share/datasets")
ENV_VAR = "JAXNETS_DATA_DIR"
# Set to 1 to train on files whose contents are not the standard data set's (your own data in
# the IDX format, a subset): the command line's --accept-data.
ACCEPT_ENV_VAR = "JAXNETS_ACCEPT_DATA"


class DataError(RuntimeError):
    """A data set's files are not valid or not what they claim to be; the message says how to fix it."""


class MissingData(DataError):
    """A data set's files are not where they were looked for (``all`` skips such experiments)."""


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


def read_idx_gz(path: Path, md5: str | None = None) -> np.ndarray:
    """Read one gzip-compressed IDX file, with an error that names the file when it is bad; with
    ``md5``, also when its decompressed contents are not those (another data set's file)."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise MissingData(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: not a valid gzip file ({e}); download it again") from None
    arrays = parse_idx(raw, str(path))
    if md5 is not None and (found := hashlib.md5(raw).hexdigest()) != md5:
        raise DataError(
            f"{path}: these are not the standard file's contents (MD5 {found} of the decompressed "
            f"data, expected {md5}): another data set's file, or a changed one. Put the right file "
            f"there, or pass --accept-data (or set {ACCEPT_ENV_VAR}=1) to train on it anyway"
        )
    return arrays


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
    """The folder holding ``name``'s four files: in ``data_dir`` if given, else in
    ``$JAXNETS_DATA_DIR`` if set (an explicit choice that fails is an error, never a fall back to
    another folder), else in Debian's folder; None when nothing was given and Debian has none."""
    origin, given = ("--data-dir", data_dir) if data_dir else (ENV_VAR, os.environ.get(ENV_VAR))
    if given and not Path(given).is_dir():
        raise MissingData(
            f"the data folder {given} ({origin}) does not exist: point it at the folder that "
            f"holds {DATASETS[name]['folders'][0]}/ (its four IDX .gz files inside)"
        )
    root = Path(given) if given else DEBIAN_DATASETS
    # The root may be the data set's own folder as well as the parent of one.
    for folder in (root, *(root / sub for sub in DATASETS[name]["folders"])):
        if all((folder / f).is_file() for f in IDX_FILES.values()):
            return folder
    if given:
        raise MissingData(
            f"no {name} files in {given} ({origin}): expected the four files "
            f"{', '.join(IDX_FILES.values())} there or in a sub-folder named "
            f"{' or '.join(DATASETS[name]['folders'])}"
        )
    return None


def download(
    name: str, download_dir: str | os.PathLike | None = None, base_url: str | None = None
) -> dict[str, Path]:
    """Fetch a data set's four IDX files with tensorflow-datasets' download manager, which checks
    each against the size and SHA-256 that tensorflow-datasets registers for it (its builder's
    public ``URL`` and ``url_infos``); no TensorFlow is needed. ``base_url`` fetches the same
    files from another place (a mirror) under the same checksums. Files already downloaded to
    ``download_dir`` (default ``$TFDS_DATA_DIR/downloads``) are not fetched again."""
    import tensorflow_datasets as tfds

    builder = tfds.builder_cls(DATASETS[name]["tfds"])
    base = base_url or builder.URL
    registered = {url.rsplit("/", 1)[-1]: info for url, info in (builder.url_infos or {}).items()}
    urls = {k: base + f for k, f in IDX_FILES.items()}
    default_dir = Path(os.environ.get("TFDS_DATA_DIR", Path.home() / "tensorflow_datasets")) / "downloads"
    folder = Path(download_dir) if download_dir is not None else default_dir
    fix = (
        f"Fix: put the four files {', '.join(IDX_FILES.values())} in a folder and pass it with "
        f"--data-dir or set {ENV_VAR} to the folder above it"
    )
    if not any(folder.glob("*")) and not _reachable(base):
        raise MissingData(f"{name} is not on this machine and {base} cannot be reached.\n{fix}")
    manager = tfds.download.DownloadManager(
        download_dir=folder,
        url_infos={urls[k]: registered[f] for k, f in IDX_FILES.items()},
        dataset_name=builder.name,
    )
    try:
        paths = manager.download(urls)
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
def _read_idx_dataset(name: str, folder: Path | None, accept: bool) -> dict[str, np.ndarray]:
    """The data set's arrays from ``folder``, or from tensorflow-datasets when it is None, their
    contents checked against the standard files' unless ``accept``; cached on the folder actually
    used, so a changed ``JAXNETS_DATA_DIR`` is never served stale."""
    if folder is not None:
        paths = {k: folder / f for k, f in IDX_FILES.items()}
    else:
        paths = download(name)
    md5 = {} if accept else DATASETS[name]["md5"]
    arrays = {k: read_idx_gz(p, md5.get(k)) for k, p in paths.items()}
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


def load(
    name: str, data_dir: str | os.PathLike | None = None, accept: bool | None = None
) -> tuple[Arrays, Arrays]:
    """``((train_images, train_labels), (test_images, test_labels))`` of an image data set.

    ``name`` is "mnist", "fashion_mnist" or "mnist_sample" (3s and 7s; labels 1 for 3, 0 for 7).
    Images are uint8 N×28×28, labels int32. Files whose contents are not the standard data set's
    are an error unless ``accept`` (default: ``$JAXNETS_ACCEPT_DATA`` is 1). Cached: a second
    call returns the same arrays.
    """
    if name not in LOADABLE:
        raise unknown("data set", name, LOADABLE)
    base = "mnist" if name == "mnist_sample" else name
    accept = os.environ.get(ACCEPT_ENV_VAR) == "1" if accept is None else accept
    arrays = _read_idx_dataset(base, _find_folder(base, data_dir), accept)
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
