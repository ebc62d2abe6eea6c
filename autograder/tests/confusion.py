"""Autograder checks for confusion(y_true, y_pred, num_classes=10): counts, rows = true labels."""

import numpy as np
from otter.test_files import test_case

from mnist_lab.grading import checks

OK_FORMAT = False
name = "confusion"
points = 20


def _matrix(confusion, *args, **kwargs) -> tuple[np.ndarray, str]:
    text = checks.call_text("confusion", *args, **kwargs)
    size = kwargs.get("num_classes", 10)
    result = checks.as_array(checks.call(confusion, *args, **kwargs), text)
    if result.shape != (size, size):
        checks.fail(f"{text} returned an array of shape {result.shape}; expected ({size}, {size}).")
    return result, text


def _counts_hint(result: np.ndarray, y_true, y_pred, size: int) -> str:
    counts = np.zeros((size, size), dtype=np.int64)
    np.add.at(counts, (np.asarray(y_true), np.asarray(y_pred)), 1)
    if np.array_equal(result, counts.T):
        return (
            " Hint: rows and columns are swapped: entry [t, p] counts TRUE label t predicted "
            "as p (rows are true labels)."
        )
    if np.array_equal(np.minimum(result, 1), np.minimum(counts, 1)):
        return " Hint: every pair must be counted, not just marked (use += 1 for each sample)."
    return ""


def _check_counts(confusion, y_true, y_pred, **kwargs) -> None:
    size = kwargs.get("num_classes", 10)
    result, text = _matrix(confusion, y_true, y_pred, **kwargs)
    counts = np.zeros((size, size), dtype=np.int64)
    np.add.at(counts, (np.asarray(y_true), np.asarray(y_pred)), 1)
    if not np.array_equal(result, counts):
        checks.fail(
            f"{text} returned wrong counts (your matrix adds up to {result.sum():g} for "
            f"{len(y_true)} samples)." + _counts_hint(result, y_true, y_pred, size)
        )


@test_case(points=3, hidden=False)
def test_returns_10_by_10_integer_array(confusion):
    """returns a (10, 10) array of whole-number counts"""
    result, text = _matrix(confusion, np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1]))
    if not np.issubdtype(result.dtype, np.integer):
        checks.fail(
            f"{text} returned {result.dtype} counts; counts are whole numbers: use an integer "
            "array (for example np.zeros((n, n), dtype=int)) or .astype(int)."
        )


@test_case(points=2, hidden=False)
def test_length_mismatch_raises_value_error(confusion):
    """different lengths raise ValueError"""
    checks.call(confusion, np.array([1, 2]), np.array([1, 2]))  # valid: no error
    checks.expect_raises(
        ValueError,
        confusion,
        np.array([1, 2, 3]),
        np.array([1, 2]),
        why="y_true and y_pred must have the same length",
    )


@test_case(points=4, hidden=True)
def test_counts_each_pair(confusion):
    """counts each (true, predicted) pair"""
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 10, size=200)
    y_pred = np.where(rng.uniform(size=200) < 0.7, y_true, rng.integers(0, 10, size=200))
    _check_counts(confusion, y_true, y_pred)


@test_case(points=1, hidden=False)
def test_small_example_rows_are_true_labels(confusion):
    """counts a small example with true labels as rows"""
    _check_rows_are_true_labels(confusion, np.array([3, 3, 5]), np.array([5, 5, 5]), 3, 5)


@test_case(points=2, hidden=True)
def test_rows_are_true_labels(confusion):
    """rows are true labels, columns are predictions"""
    _check_rows_are_true_labels(confusion, np.array([7, 7, 7, 2]), np.array([1, 1, 7, 2]), 7, 1)


def _check_rows_are_true_labels(confusion, y_true, y_pred, true: int, predicted: int) -> None:
    """Two samples of digit ``true`` predicted as ``predicted``: counted at [true, predicted]."""
    result, text = _matrix(confusion, y_true, y_pred)
    if result[predicted, true] == 2 and result[true, predicted] == 0:
        checks.fail(
            f"{text}: the two samples of true digit {true} predicted as {predicted} were counted "
            f"at row {predicted}, column {true}. Hint: rows are TRUE labels and columns are "
            "predictions: matrix[t, p]."
        )
    _check_counts(confusion, y_true, y_pred)


@test_case(points=2, hidden=True)
def test_absent_class_gets_zeros(confusion):
    """a digit that never occurs gets a row and a column of zeros"""
    y_true, y_pred = np.array([0, 1, 1, 3, 9]), np.array([0, 1, 3, 3, 9])
    result, text = _matrix(confusion, y_true, y_pred)
    if result[[2, 4, 5, 6, 7, 8]].any() or result[:, [2, 4, 5, 6, 7, 8]].any():
        checks.fail(f"{text} has counts for digits that never occur in the labels.")
    _check_counts(confusion, y_true, y_pred)


@test_case(points=2, hidden=True)
def test_uses_num_classes(confusion):
    """uses num_classes for the size"""
    _check_counts(confusion, np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1]), num_classes=3)
    _check_counts(confusion, np.array([11, 0, 5]), np.array([11, 10, 5]), num_classes=12)


@test_case(points=3, hidden=True)
def test_rejects_labels_out_of_range(confusion):
    """labels outside 0..num_classes-1 (even negative) raise ValueError"""
    checks.call(confusion, np.array([0, 2]), np.array([2, 0]), num_classes=3)  # valid: no error
    cases = (
        ((np.array([0, 10]), np.array([0, 1])), {}),
        ((np.array([0, 1]), np.array([0, -1])), {}),
        ((np.array([-1, 2]), np.array([0, 1])), {}),
        ((np.array([0, 3]), np.array([0, 1])), {"num_classes": 3}),
    )
    for args, kwargs in cases:
        checks.expect_raises(
            ValueError,
            confusion,
            *args,
            **kwargs,
            why="every label must be from 0 to num_classes - 1",
        )


@test_case(points=1, hidden=True)
def test_accepts_lists(confusion):
    """accepts plain lists as well as arrays"""
    _check_counts(confusion, [3, 3, 4], [3, 4, 4])
