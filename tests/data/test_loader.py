"""load_mnist: every source in order, the offline fallback, and every kind of bad file."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from mnist_lab import data
from mnist_lab.data import (
    SAMPLE_TEST_SIZE,
    SAMPLE_TRAIN_SIZE,
    MnistDataError,
    MnistDataWarning,
    keras_cache_path,
    load_mnist,
    load_sample,
    read_mnist_npz,
)


def tiny_arrays(n_train: int = 6, n_test: int = 4, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, size=n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }


def write_npz(path: Path, **arrays) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        np.savez_compressed(handle, **arrays)
    return path


@pytest.fixture
def tiny_file(tmp_path) -> Path:
    return write_npz(tmp_path / "tiny.npz", **tiny_arrays())


@pytest.fixture
def forbid_download(monkeypatch):
    """Fail the test if anything tries keras' downloader."""
    from keras.datasets import mnist

    def refuse():
        raise AssertionError("load_mnist tried to download")

    monkeypatch.setattr(mnist, "load_data", refuse)


# sources, in order ---------------------------------------------------------------------------


def test_explicit_path_comes_first(tiny_file, tmp_path, monkeypatch, forbid_download):
    monkeypatch.setenv("MNIST_NPZ", str(write_npz(tmp_path / "env.npz", **tiny_arrays(seed=1))))
    result = load_mnist(tiny_file)
    (x_train, y_train), (x_test, y_test) = result
    np.testing.assert_array_equal(x_train, tiny_arrays()["x_train"])
    assert (x_train.dtype, y_train.dtype, x_test.dtype, y_test.dtype) == (np.uint8,) * 4
    assert result.source.kind == "path"
    assert str(tiny_file) in result.source.describe()


def test_environment_variable_comes_before_the_cache(tmp_path, monkeypatch, forbid_download):
    env_file = write_npz(tmp_path / "env.npz", **tiny_arrays(seed=1))
    write_npz(keras_cache_path(), **tiny_arrays(seed=2))
    monkeypatch.setenv("MNIST_NPZ", str(env_file))
    result = load_mnist()
    assert result.source.kind == "environment"
    np.testing.assert_array_equal(result[0][0], tiny_arrays(seed=1)["x_train"])


def test_keras_cache_is_used_when_present(forbid_download):
    write_npz(keras_cache_path(), **tiny_arrays(seed=2))
    result = load_mnist()
    assert result.source.kind == "keras-cache"
    assert "Keras cache" in result.source.describe()
    np.testing.assert_array_equal(result[1][1], tiny_arrays(seed=2)["y_test"])


def test_download_is_tried_when_nothing_is_local(monkeypatch):
    from keras.datasets import mnist

    arrays = tiny_arrays(seed=3)
    calls = []

    def fake_load_data():
        calls.append(1)
        return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])

    monkeypatch.setattr(mnist, "load_data", fake_load_data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = load_mnist(download=True)
    assert calls == [1]
    assert result.source.kind == "download"
    np.testing.assert_array_equal(result[0][1], arrays["y_train"])


def test_a_failed_download_falls_back_to_the_sample_with_one_warning(monkeypatch):
    from keras.datasets import mnist

    def offline():
        raise OSError("Name or service not known")

    monkeypatch.setattr(mnist, "load_data", offline)
    with pytest.warns(MnistDataWarning, match="Name or service not known") as caught:
        result = load_mnist(download=True)
    assert len(caught) == 1
    assert result.source.kind == "sample"


def test_a_hanging_download_never_hangs_the_loader(monkeypatch):
    from keras.datasets import mnist

    monkeypatch.setattr(mnist, "load_data", lambda: time.sleep(60))
    started = time.perf_counter()
    with pytest.warns(MnistDataWarning, match=r"no answer within 1 s"):
        result = load_mnist(download=True, download_timeout=1.0)
    assert time.perf_counter() - started < 10
    assert result.source.kind == "sample"


def test_offline_setting_skips_the_download(forbid_download):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = load_mnist()  # MNIST_LAB_OFFLINE=1 is set for every test
    assert result.source.kind == "sample"


def test_the_embedded_sample_has_the_documented_size_and_layout():
    (x_train, y_train), (x_test, y_test) = load_sample()
    assert x_train.shape == (SAMPLE_TRAIN_SIZE, 28, 28) == (10_000, 28, 28)
    assert x_test.shape == (SAMPLE_TEST_SIZE, 28, 28) == (2_000, 28, 28)
    assert y_train.shape == (10_000,)
    assert y_test.shape == (2_000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert x_train.max() == 255
    assert set(np.unique(y_train)) == set(range(10))
    # The published first labels of MNIST.
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_the_sample_ships_with_its_licence_notice():
    from importlib import resources

    package = resources.files("mnist_lab.data")
    notice = package.joinpath("NOTICE.md").read_text("utf-8")
    assert "CC BY-SA 3.0" in notice
    assert "LeCun" in notice
    assert "Cortes" in notice
    assert "Burges" in notice
    size = len(package.joinpath(data.SAMPLE_RESOURCE).read_bytes())
    assert 1_000_000 < size < 3_000_000


@pytest.mark.full_data
def test_the_sample_is_exactly_the_first_images_of_the_full_file(full_mnist, tmp_path):
    from mnist_lab.data.make_sample import make_sample

    (x_train, y_train), (x_test, y_test) = read_mnist_npz(full_mnist)
    (sx_train, sy_train), (sx_test, sy_test) = load_sample()
    np.testing.assert_array_equal(sx_train, x_train[:SAMPLE_TRAIN_SIZE])
    np.testing.assert_array_equal(sy_train, y_train[:SAMPLE_TRAIN_SIZE])
    np.testing.assert_array_equal(sx_test, x_test[:SAMPLE_TEST_SIZE])
    np.testing.assert_array_equal(sy_test, y_test[:SAMPLE_TEST_SIZE])
    remade = make_sample(source=full_mnist, destination=tmp_path / "sample.npz")
    np.testing.assert_array_equal(read_mnist_npz(remade)[0][0], sx_train)


@pytest.mark.full_data
def test_the_full_file_has_the_published_figures(full_mnist):
    result = load_mnist(full_mnist)
    (x_train, _), (x_test, y_test) = result
    assert x_train.shape == (60_000, 28, 28)
    assert x_test.shape == (10_000, 28, 28)
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert abs((x_train / 255).mean() - 0.1307) < 1e-3


# bad files ----------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.npz"
    with pytest.raises(MnistDataError, match=rf"^{missing}: no such file$"):
        load_mnist(missing)


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(MnistDataError, match="is a folder"):
        load_mnist(tmp_path)


def test_not_an_npz_file(tmp_path):
    text = tmp_path / "mnist.npz"
    text.write_text("<html>404 Not Found</html>")
    with pytest.raises(MnistDataError, match=rf"^{text}: not an .npz archive"):
        load_mnist(text)


def test_truncated_file(tiny_file, tmp_path):
    truncated = tmp_path / "truncated.npz"
    blob = tiny_file.read_bytes()
    truncated.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(MnistDataError, match=rf"^{truncated}: (not an .npz|corrupt or truncated)"):
        load_mnist(truncated)


def test_corrupt_member_bytes(tiny_file, tmp_path):
    corrupt = tmp_path / "corrupt.npz"
    blob = bytearray(tiny_file.read_bytes())
    middle = len(blob) // 3
    blob[middle : middle + 64] = bytes(64)  # zero out part of a compressed member
    corrupt.write_bytes(bytes(blob))
    with pytest.raises(MnistDataError, match=rf"^{corrupt}: "):
        load_mnist(corrupt)


def test_missing_array(tmp_path):
    arrays = tiny_arrays()
    del arrays["y_test"]
    path = write_npz(tmp_path / "m.npz", **arrays)
    with pytest.raises(MnistDataError, match=r"missing array\(s\) y_test; it has x_train"):
        load_mnist(path)


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"x_train": np.zeros((6, 784), np.uint8)}, r"x_train has shape \(6, 784\), expected"),
        ({"x_test": np.zeros((4, 28, 28, 3), np.uint8)}, r"x_test has shape \(4, 28, 28, 3\)"),
        ({"y_train": np.zeros(5, np.uint8)}, r"y_train has shape \(5,\), expected \(6,\)"),
        ({"y_test": np.full(4, 12, np.uint8)}, r"y_test holds values outside .*0\.\.9"),
        ({"x_train": np.full((6, 28, 28), 300, np.int64)}, r"x_train holds values outside .*255"),
        ({"x_train": np.full((6, 28, 28), 0.5)}, r"x_train holds values outside the whole"),
        ({"y_train": np.array(["a"] * 6)}, r"y_train has dtype <U1, expected uint8"),
    ],
)
def test_wrongly_shaped_or_valued_arrays(tmp_path, change, pattern):
    path = write_npz(tmp_path / "bad.npz", **{**tiny_arrays(), **change})
    with pytest.raises(MnistDataError, match=pattern) as raised:
        load_mnist(path)
    assert str(raised.value).startswith(f"{path}: ")


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    arrays = {**tiny_arrays(), "y_test": np.array([object()] * 4, dtype=object)}
    path = tmp_path / "pickled.npz"
    np.savez(path, **arrays)
    with pytest.raises(MnistDataError, match=rf"^{path}: corrupt .*allow_pickle"):
        load_mnist(path)


def test_a_bad_environment_file_says_it_came_from_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_NPZ", str(tmp_path / "gone.npz"))
    with pytest.raises(MnistDataError, match=r"no such file \(named by \$MNIST_NPZ\)"):
        load_mnist()


def test_a_corrupt_keras_cache_is_an_error_not_a_silent_fallback():
    cache = keras_cache_path()
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(MnistDataError, match=r"Keras' cached copy: delete it to download again"):
        load_mnist()
