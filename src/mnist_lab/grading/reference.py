"""The reference ``normalize`` and ``flatten``, used while ``predict_digit`` is graded.

No double penalty: a bug in the student's own ``normalize`` or ``flatten`` must not cost points in
``predict_digit``'s cases, so the worker puts these two in the student module's globals for the
duration of each ``predict_digit`` call. They follow the contract in ``solutions/digits.py``.
The worker receives this file's source over stdin only when a ``predict_digit`` case runs (after
the cases of the other functions), so student code cannot borrow it for its own ``normalize``.
"""

from __future__ import annotations

import numpy as np

from mnist_lab.constants import IMAGE_SIDE, MAX_PIXEL_VALUE, NUM_PIXELS


def normalize(images):
    """A new float64 array equal to ``images / 255.0``."""
    return np.asarray(images, dtype=np.float64) / float(MAX_PIXEL_VALUE)


def flatten(images):
    """``images`` of shape (n, 28, 28) or (n, 28, 28, 1) as (n, 784), row-major."""
    images = np.asarray(images)
    grid = (IMAGE_SIDE, IMAGE_SIDE)
    if not (
        (images.ndim == 3 and images.shape[1:] == grid)
        or (images.ndim == 4 and images.shape[1:] == (*grid, 1))
    ):
        raise ValueError(
            f"flatten expects images of shape (n, 28, 28) or (n, 28, 28, 1), got {images.shape}"
        )
    return images.reshape(images.shape[0], NUM_PIXELS)


HELPERS = {"normalize": normalize, "flatten": flatten}
