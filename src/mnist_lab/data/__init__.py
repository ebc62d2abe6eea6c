"""Load MNIST in the Keras layout, from the best source available, never hanging offline.

Sources, in order:

1. an explicit ``path`` argument, or the ``MNIST_NPZ`` environment variable;
2. Keras' cache, ``$KERAS_HOME/datasets/mnist.npz`` (``~/.keras/datasets/mnist.npz``);
3. ``keras.datasets.mnist.load_data()``, which downloads into that cache when online;
4. the sample embedded in this package: the first 10,000 training and 2,000 test images.

A file that is named (1) or cached (2) but unusable is an error naming the file and what is
wrong, never a silent fallback: the user would otherwise train on data they did not choose.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import warnings
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from mnist_lab.constants import IMAGE_SIDE, MAX_PIXEL_VALUE, NUM_CLASSES
from mnist_lab.errors import UserError

log = logging.getLogger(__name__)

ENV_PATH = "MNIST_NPZ"
ENV_OFFLINE = "MNIST_LAB_OFFLINE"  # set to 1 to skip the download attempt
SAMPLE_RESOURCE = "mnist_sample.npz"
SAMPLE_TRAIN_SIZE = 10_000
SAMPLE_TEST_SIZE = 2_000
DOWNLOAD_TIMEOUT_SECONDS = 60.0
ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")


class MnistDataError(UserError, ValueError):
    """An MNIST file is missing, unreadable or not in the Keras layout."""


class MnistDataWarning(UserWarning):
    """The download failed and the embedded sample is used instead."""


@dataclass(frozen=True)
class DataSource:
    """Where a data set came from."""

    kind: str  # "path", "environment", "keras-cache", "download", "sample"
    location: str

    def describe(self) -> str:
        labels = {
            "path": "file given",
            "environment": f"file named by ${ENV_PATH}",
            "keras-cache": "Keras cache",
            "download": "downloaded by keras.datasets.mnist.load_data()",
            "sample": "embedded sample (first 10,000 train / 2,000 test images)",
        }
        return f"{labels[self.kind]}: {self.location}"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "location": self.location}


class MnistData(tuple):
    """``((x_train, y_train), (x_test, y_test))``, as Keras returns it, plus ``.source``."""

    source: DataSource

    def __new__(cls, train, test, source: DataSource):
        self = super().__new__(cls, (train, test))
        self.source = source
        return self


def keras_cache_path() -> Path:
    """Where ``keras.datasets.mnist.load_data()`` caches the file."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(keras_home) / "datasets" / "mnist.npz"


def read_mnist_npz(path: str | os.PathLike) -> tuple[tuple, tuple]:
    """Read and validate an MNIST ``.npz`` file in the Keras layout.

    Raises :class:`MnistDataError` naming the file and the problem when it is missing, not a
    zip archive, truncated, lacks an array, or holds arrays of the wrong shape, dtype or range.
    """
    path = Path(path)
    if not path.exists():
        raise MnistDataError(f"{path}: no such file")
    if path.is_dir():
        raise MnistDataError(f"{path}: is a folder, expected an .npz file")
    if not zipfile.is_zipfile(path):
        raise MnistDataError(
            f"{path}: not an .npz archive (not a zip file; truncated or not MNIST data?)"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [name for name in ARRAY_NAMES if name not in archive.files]
            if missing:
                raise MnistDataError(
                    f"{path}: missing array(s) {', '.join(missing)}; "
                    f"it has {', '.join(archive.files) or 'none'}"
                )
            arrays = {name: archive[name] for name in ARRAY_NAMES}
    except MnistDataError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as error:
        raise MnistDataError(f"{path}: corrupt or truncated archive ({error})") from None
    for split in ("train", "test"):
        arrays[f"x_{split}"], arrays[f"y_{split}"] = _validated(
            path, split, arrays[f"x_{split}"], arrays[f"y_{split}"]
        )
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _validated(path: Path, split: str, images: np.ndarray, labels: np.ndarray):
    x_name, y_name = f"x_{split}", f"y_{split}"
    grid = (IMAGE_SIDE, IMAGE_SIDE)
    if images.ndim != 3 or images.shape[1:] != grid:
        raise MnistDataError(
            f"{path}: {x_name} has shape {images.shape}, expected (n, {IMAGE_SIDE}, {IMAGE_SIDE})"
        )
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise MnistDataError(
            f"{path}: {y_name} has shape {labels.shape}, expected ({images.shape[0]},) "
            f"to match the {images.shape[0]} images of {x_name}"
        )
    for name, array, top in ((x_name, images, MAX_PIXEL_VALUE), (y_name, labels, NUM_CLASSES - 1)):
        if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
            raise MnistDataError(f"{path}: {name} has dtype {array.dtype}, expected uint8")
        fractional = np.issubdtype(array.dtype, np.floating) and np.any(array != np.round(array))
        if array.size and (array.min() < 0 or array.max() > top or fractional):
            raise MnistDataError(
                f"{path}: {name} holds values outside the whole numbers 0..{top} "
                f"(min {array.min()}, max {array.max()})"
            )
    return images.astype(np.uint8, copy=False), labels.astype(np.uint8, copy=False)


def load_sample() -> MnistData:
    """The sample embedded in the package (works offline, always)."""
    resource = resources.files("mnist_lab.data").joinpath(SAMPLE_RESOURCE)
    with resources.as_file(resource) as sample_path:
        train, test = read_mnist_npz(sample_path)
    return MnistData(train, test, DataSource("sample", f"mnist_lab/data/{SAMPLE_RESOURCE}"))


def _download(timeout: float):
    """Run ``keras.datasets.mnist.load_data()`` with a bound on the whole call.

    Keras downloads with urllib and no timeout; a socket default timeout bounds each blocking
    read, and running it in a daemon thread bounds the whole call (DNS included).
    """
    outcome: dict = {}

    def target() -> None:
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(min(timeout, 20.0))
        try:
            from keras.datasets import mnist

            outcome["data"] = mnist.load_data()
        except BaseException as error:
            outcome["error"] = error
        finally:
            socket.setdefaulttimeout(previous)

    worker = threading.Thread(target=target, name="mnist-download", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {timeout:.0f} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["data"]


def load_mnist(
    path: str | os.PathLike | None = None,
    *,
    download: bool | None = None,
    download_timeout: float = DOWNLOAD_TIMEOUT_SECONDS,
) -> MnistData:
    """Return MNIST as ``(x_train, y_train), (x_test, y_test)``: uint8 images and labels.

    The result also has ``.source`` (a :class:`DataSource`) saying which source was used.
    ``download=None`` tries the download unless ``$MNIST_LAB_OFFLINE`` is set; a failed or slow
    download falls back to the embedded sample with one warning.
    """
    if path is not None:
        source = DataSource("path", str(path))
    elif os.environ.get(ENV_PATH):
        source = DataSource("environment", os.environ[ENV_PATH])
    elif keras_cache_path().exists():
        source = DataSource("keras-cache", str(keras_cache_path()))
    else:
        source = None
    if source is not None:
        try:
            train, test = read_mnist_npz(source.location)
        except MnistDataError as error:
            if source.kind == "keras-cache":
                raise MnistDataError(
                    f"{error} (Keras' cached copy: delete it to download again)"
                ) from None
            if source.kind == "environment":
                raise MnistDataError(f"{error} (named by ${ENV_PATH})") from None
            raise
        result = MnistData(train, test, source)
    else:
        if download is None:
            download = os.environ.get(ENV_OFFLINE, "") in ("", "0")
        result = None
        if download:
            try:
                train, test = _download(download_timeout)
                result = MnistData(train, test, DataSource("download", str(keras_cache_path())))
            except Exception as error:
                reason = str(error).splitlines()[0] if str(error) else type(error).__name__
                warnings.warn(
                    f"MNIST download failed ({reason}); using the embedded sample "
                    f"({SAMPLE_TRAIN_SIZE:,} train / {SAMPLE_TEST_SIZE:,} test images)",
                    MnistDataWarning,
                    stacklevel=2,
                )
        if result is None:
            result = load_sample()
    log.info("MNIST from %s", result.source.describe())
    return result
