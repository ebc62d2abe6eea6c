"""Autograder checks for normalize(images): a new float array equal to images / 255."""

import numpy as np
from otter.test_files import test_case

from mnist_lab.grading import checks

OK_FORMAT = False
name = "normalize"
points = 10


def _hint(result: np.ndarray, images: np.ndarray) -> str:
    """Name the common mistake that explains ``result``, if one does (no expected values)."""
    raw = np.asarray(images, dtype=np.float64)
    if result.shape != raw.shape:
        return ""
    got = result.astype(np.float64)
    close = {
        "integer division (//) keeps only whole numbers: use / and a float result": raw // 255,
        "the pixels were not scaled at all: divide by 255": raw,
        "dividing by 256: the brightest grey level is 255": raw / 256,
        "scaled twice": raw / 255 / 255,
    }
    for hint, candidate in close.items():
        if np.allclose(got, candidate, rtol=1e-6, atol=1e-9):
            return f" Hint: {hint}."
    return ""


def _check_same_shape(result: np.ndarray, shape: tuple, text: str) -> None:
    if result.shape != shape:
        checks.fail(f"{text} returned an array of shape {result.shape}; it must keep the shape.")


def _check_values(normalize, images: np.ndarray) -> None:
    text = checks.call_text("normalize", images)
    result = checks.as_array(checks.call(normalize, images), text)
    _check_same_shape(result, images.shape, text)
    if not np.issubdtype(result.dtype, np.floating):
        checks.fail(
            f"{text} returned a {result.dtype} array; expected floating-point values."
            + _hint(result, images)
        )
    expected = np.asarray(images, dtype=np.float64) / 255.0
    if not np.allclose(result.astype(np.float64), expected, rtol=1e-6, atol=1e-7):
        checks.fail(
            f"{text} returned values that are not the pixels divided by 255 "
            f"(your values range from {result.min():.6g} to {result.max():.6g})."
            + _hint(result, images)
        )


@test_case(points=2, hidden=False)
def test_returns_float_array_of_same_shape(normalize):
    """returns a float array of the same shape"""
    images = np.random.default_rng(1).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    text = checks.call_text("normalize", images)
    result = checks.as_array(checks.call(normalize, images), text)
    if result.shape != images.shape:
        checks.fail(
            f"{text} returned an array of shape {result.shape}; expected shape (3, 28, 28)."
        )
    if not np.issubdtype(result.dtype, np.floating):
        checks.fail(
            f"{text} returned a {result.dtype} array; expected a floating-point array "
            "(float32 or float64). Hint: integer division (//) or .astype(int) gives integers."
        )


@test_case(points=1, hidden=False)
def test_scales_a_small_example(normalize):
    """scales the grey levels of a small example to 0..1"""
    images = np.array([[[0, 51, 102], [153, 204, 255]]], dtype=np.uint8)
    _check_values(normalize, images)


@test_case(points=3, hidden=True)
def test_values_are_x_over_255(normalize):
    """values are x / 255"""
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    images[0, 0, :3] = (0, 255, 128)  # both ends of the range and the middle
    _check_values(normalize, images)


@test_case(points=2, hidden=True)
def test_works_for_float_input_of_any_shape(normalize):
    """works for float input of any shape"""
    rng = np.random.default_rng(3)
    for shape in ((5,), (2, 28, 28, 1), (3, 7)):
        images = rng.uniform(0.0, 255.0, size=shape)
        _check_values(normalize, images)


@test_case(points=2, hidden=True)
def test_leaves_input_unchanged(normalize):
    """leaves its input unchanged"""
    rng = np.random.default_rng(4)
    for images in (
        rng.uniform(0.0, 255.0, size=(2, 28, 28)),
        rng.integers(0, 256, size=(2, 28, 28)).astype(np.float32),
        rng.integers(0, 256, size=(2, 28, 28), dtype=np.uint8),
    ):
        original = images.copy()
        text = checks.call_text("normalize", images)
        result, after = checks.call_returning_arguments(normalize, images)
        result = checks.as_array(result, text)
        _check_same_shape(result, original.shape, text)
        changed = np.asarray(after[0])
        if changed.shape != original.shape or not np.array_equal(changed, original):
            checks.fail(
                f"{text} changed the array it was given. Hint: in-place operations such as "
                "images /= 255 modify the caller's data; compute a new array (images / 255.0)."
            )
