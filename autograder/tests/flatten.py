"""Autograder checks for flatten(images): (n, 28, 28[, 1]) -> (n, 784), row by row."""

import numpy as np
from otter.test_files import test_case

from mnist_lab.grading import checks

OK_FORMAT = False
name = "flatten"
points = 10


def _shape_is_named(message: str, shape: tuple) -> bool:
    """The error message names the shape it got, written as a tuple or as numbers."""
    spaced = ", ".join(str(d) for d in shape)
    compact = ",".join(str(d) for d in shape)
    crossed = "x".join(str(d) for d in shape)
    text = message.replace(" x ", "x")
    return any(form in text for form in (spaced, compact, crossed))


def _accepts_valid_images(flatten) -> None:
    """Raising for every input is not checking the shape: a valid batch must be accepted."""
    checks.call(flatten, np.zeros((2, 28, 28), dtype=np.uint8))


def _expect_shape_error(flatten, images: np.ndarray) -> None:
    outcome = checks.expect_raises(
        ValueError, flatten, images, why="only (n, 28, 28) and (n, 28, 28, 1) are images"
    )
    if not _shape_is_named(outcome.message, images.shape):
        checks.fail(
            f"{checks.call_text('flatten', images)} raised ValueError, but its message "
            f"({outcome.message[:200]!r}) does not name the shape it got, {images.shape}."
        )


@test_case(points=2, hidden=False)
def test_returns_one_row_of_784_per_image(flatten):
    """returns one row of 784 values per image"""
    images = np.random.default_rng(1).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    text = checks.call_text("flatten", images)
    result = checks.as_array(checks.call(flatten, images), text)
    if result.shape != (3, 784):
        checks.fail(f"{text} returned an array of shape {result.shape}; expected (3, 784).")


@test_case(points=2, hidden=False)
def test_wrong_shape_raises_value_error_naming_it(flatten):
    """a wrong shape raises ValueError naming the shape"""
    _accepts_valid_images(flatten)
    _expect_shape_error(flatten, np.zeros((3, 28, 27), dtype=np.uint8))


@test_case(points=1, hidden=False)
def test_small_example_row_by_row(flatten):
    """reads the pixels of a small example row by row"""
    images = (np.arange(2 * 784) % 251).astype(np.uint8).reshape(2, 28, 28)
    _check_row_by_row(flatten, images)


@test_case(points=2, hidden=True)
def test_pixels_row_by_row(flatten):
    """pixels are read row by row"""
    images = np.random.default_rng(2).integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    _check_row_by_row(flatten, images)


def _check_row_by_row(flatten, images: np.ndarray) -> None:
    count = len(images)
    text = checks.call_text("flatten", images)
    result = checks.as_array(checks.call(flatten, images), text)
    if result.shape != (count, 784):
        checks.fail(f"{text} returned an array of shape {result.shape}; expected ({count}, 784).")
    if np.array_equal(result, images.reshape(count, 784)):
        return
    if np.array_equal(result, images.reshape(count, 784, order="F")) or np.array_equal(
        result, images.transpose(0, 2, 1).reshape(count, 784)
    ):
        checks.fail(
            f"{text} read each image column by column. Hint: order='F' or a transposed image; "
            "use NumPy's default row-major order (reshape(n, 784))."
        )
    if np.array_equal(result, images.reshape(784, count).T):
        checks.fail(
            f"{text} mixed pixels of different images in one row. Hint: reshape(n, 784) keeps "
            "each image together; a transpose of a (784, n) array does not."
        )
    checks.fail(f"{text} returned rows that are not the images' pixels read row by row.")


@test_case(points=1, hidden=True)
def test_accepts_channel_axis_and_keeps_values(flatten):
    """accepts (n, 28, 28, 1) and keeps dtype and values"""
    rng = np.random.default_rng(3)
    for images in (
        rng.integers(0, 256, size=(2, 28, 28, 1), dtype=np.uint8),
        rng.uniform(0.0, 1.0, size=(3, 28, 28)).astype(np.float32),
    ):
        n = images.shape[0]
        text = checks.call_text("flatten", images)
        result = checks.as_array(checks.call(flatten, images), text)
        if result.shape != (n, 784):
            checks.fail(f"{text} returned an array of shape {result.shape}; expected ({n}, 784).")
        if result.dtype != images.dtype:
            checks.fail(f"{text} returned {result.dtype} values; flatten must keep the dtype.")
        # Pixel order is graded by its own case: here each row holds the image's pixels.
        if not np.array_equal(np.sort(result, axis=1), np.sort(images.reshape(n, 784), axis=1)):
            checks.fail(f"{text} changed pixel values (each row must hold one image's pixels).")


@test_case(points=2, hidden=True)
def test_rejects_every_other_shape(flatten):
    """rejects every other shape with ValueError naming it"""
    _accepts_valid_images(flatten)
    for shape in ((28, 28), (2, 28, 28, 3), (2, 784), (2, 28, 28, 1, 1), (2, 27, 28)):
        _expect_shape_error(flatten, np.zeros(shape, dtype=np.uint8))
