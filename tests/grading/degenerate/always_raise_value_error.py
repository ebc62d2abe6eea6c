"""Degenerate: every function raises ValueError naming its input's shape (no real work).

Error-clause cases must not reward this: it scores 0.
"""

import numpy as np


def _refuse(*values):
    raise ValueError(f"refusing shapes {[np.shape(v) for v in values]}")


def normalize(images):
    _refuse(images)


def flatten(images):
    _refuse(images)


def build_model():
    _refuse()


def predict_digit(model, image):
    _refuse(image)


def confusion(y_true, y_pred, num_classes=10):
    _refuse(y_true, y_pred)
