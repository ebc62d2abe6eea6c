"""The harness's reference normalize/flatten (shipped in the autograder instead of solutions/)
behave exactly like solutions/digits.py: a drift check between the two copies."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_lab.grading import reference
from mnist_lab.solutions import digits as solution

RNG = np.random.default_rng(5)
INPUTS = [
    RNG.integers(0, 256, size=(3, 28, 28), dtype=np.uint8),
    RNG.integers(0, 256, size=(2, 28, 28, 1)).astype(np.int64),
    RNG.random((4, 28, 28)).astype(np.float32) * 255,
    np.zeros((0, 28, 28)),
]
BAD_SHAPES = [(28, 28), (3, 784), (3, 28, 28, 3), (2, 3, 4), (1, 1, 28, 28)]


@pytest.mark.parametrize("images", INPUTS, ids=lambda a: f"{a.dtype}{a.shape}")
@pytest.mark.parametrize("function", ["normalize", "flatten"])
def test_same_result_dtype_and_shape(function, images):
    ours = getattr(reference, function)(images.copy())
    theirs = getattr(solution, function)(images.copy())
    assert ours.dtype == theirs.dtype
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("shape", BAD_SHAPES)
def test_same_errors(shape):
    with pytest.raises(ValueError, match="flatten expects") as ours:
        reference.flatten(np.zeros(shape))
    with pytest.raises(ValueError, match="flatten expects") as theirs:
        solution.flatten(np.zeros(shape))
    assert str(ours.value) == str(theirs.value)


def test_the_helpers_are_the_two_functions():
    assert dict(normalize=reference.normalize, flatten=reference.flatten) == reference.HELPERS
