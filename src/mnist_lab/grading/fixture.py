"""The "model really learns" fixture of build_model's check: ``autograder/fixtures/learn.npz``."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

FIXTURE_NAME = "learn.npz"
FIXTURE_TRAIN_IMAGES = 2_000
FIXTURE_TEST_IMAGES = 500


def write_learning_fixture(*, out_path: Path, mnist_path: Path) -> Path:
    """Write the fixture from the full MNIST file (deterministic).

    Training images: the first 2,000 of the embedded sample (students have them; training on
    them reveals nothing). Held-out images: MNIST test images 9,500 to 9,999, which are in
    nothing students receive (the sample holds the first 2,000 test images) and never reach the
    student's process: the grader scores them from the trained weights. Made once by a
    developer with ``../shared/data/mnist.npz``; the product never needs that file.
    """
    from mnist_lab.data import load_sample, read_mnist_npz

    (x_train, y_train), _ = load_sample()
    _, (x_test, y_test) = read_mnist_npz(Path(mnist_path))
    held_out = slice(len(x_test) - FIXTURE_TEST_IMAGES, len(x_test))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        x_train=x_train[:FIXTURE_TRAIN_IMAGES],
        y_train=y_train[:FIXTURE_TRAIN_IMAGES],
        x_test=x_test[held_out],
        y_test=y_test[held_out],
    )
    out_path.write_bytes(buffer.getvalue())
    return out_path
