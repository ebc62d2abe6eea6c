"""The common mistakes, as exact text replacements in the reference solution.

Each submission with a mistake is made from ``solutions/digits.py`` (the one source of the
solution) by replacing a few snippets: nothing is kept as a hand-made copy that could drift. If
the reference changes so that a snippet no longer occurs exactly once, ``mistake_source`` fails
loudly, naming the mistake and the snippet. ``tests/grading/test_mistakes.py`` says which cases
each mistake must fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

REFERENCE = Path(__file__).resolve().parents[2] / "solutions" / "digits.py"


class Mistake(NamedTuple):
    description: str
    replacements: tuple[tuple[str, str], ...]  # (old snippet, new snippet), applied in order


_NORMALIZE = "    return np.asarray(images, dtype=np.float64) / float(MAX_PIXEL_VALUE)\n"
_PREDICT_BATCH = "    batch = flatten(normalize(image.reshape(1, IMAGE_SIDE, IMAGE_SIDE)))\n"
_PREDICT_RETURN = "    return int(np.argmax(probabilities[0]))\n"

PATCHES: dict[str, Mistake] = {
    "normalize_int_division": Mistake(
        "normalize uses integer division (//)",
        ((_NORMALIZE, "    return np.asarray(images) // MAX_PIXEL_VALUE\n"),),
    ),
    "normalize_no_scaling": Mistake(
        "normalize converts to float but does not divide",
        ((_NORMALIZE, "    return np.asarray(images, dtype=np.float64)\n"),),
    ),
    "normalize_divides_by_256": Mistake(
        "normalize divides by 256",
        ((_NORMALIZE, "    return np.asarray(images, dtype=np.float64) / 256.0\n"),),
    ),
    "normalize_in_place": Mistake(
        "normalize divides float input in place (changes the caller's array)",
        (
            (
                _NORMALIZE,
                "    images = np.asarray(images)\n"
                "    if not np.issubdtype(images.dtype, np.floating):\n"
                "        images = images.astype(np.float64)\n"
                "    images /= MAX_PIXEL_VALUE\n"
                "    return images\n",
            ),
        ),
    ),
    "flatten_column_major": Mistake(
        "flatten reads each image column by column (order='F')",
        (
            (
                "    return images.reshape(images.shape[0], NUM_PIXELS)\n",
                '    return images.reshape(images.shape[0], NUM_PIXELS, order="F")\n',
            ),
        ),
    ),
    "flatten_no_shape_check": Mistake(
        "flatten reshapes anything without checking the shape",
        (
            (
                "    grid = (IMAGE_SIDE, IMAGE_SIDE)\n"
                "    if not (\n"
                "        (images.ndim == 3 and images.shape[1:] == grid)\n"
                "        or (images.ndim == 4 and images.shape[1:] == (*grid, 1))\n"
                "    ):\n"
                "        raise ValueError(\n"
                '            f"flatten expects images of shape (n, 28, 28) or (n, 28, 28, 1), '
                'got {images.shape}"\n'
                "        )\n"
                "    return images.reshape(images.shape[0], NUM_PIXELS)\n",
                "    return images.reshape(len(images), -1)\n",
            ),
        ),
    ),
    "build_model_sigmoid_output": Mistake(
        "build_model's output layer uses sigmoid instead of softmax",
        (
            (
                'tf.keras.layers.Dense(NUM_CLASSES, activation="softmax")',
                'tf.keras.layers.Dense(NUM_CLASSES, activation="sigmoid")',
            ),
        ),
    ),
    "build_model_not_compiled": Mistake(
        "build_model returns the model without compiling it",
        (
            (
                "    model.compile(\n"
                '        optimizer="adam",\n'
                '        loss="sparse_categorical_crossentropy",\n'
                '        metrics=["accuracy"],\n'
                "    )\n",
                "",
            ),
        ),
    ),
    "build_model_categorical_crossentropy": Mistake(
        "build_model uses categorical_crossentropy (one-hot labels)",
        (('loss="sparse_categorical_crossentropy"', 'loss="categorical_crossentropy"'),),
    ),
    "build_model_hidden_64": Mistake(
        "build_model's hidden layer has 64 units instead of 128",
        (
            (
                'tf.keras.layers.Dense(128, activation="relu")',
                'tf.keras.layers.Dense(64, activation="relu")',
            ),
        ),
    ),
    "predict_digit_argmax_axis0": Mistake(
        "predict_digit takes np.argmax over axis 0 of the (1, 10) batch",
        ((_PREDICT_RETURN, "    return np.argmax(probabilities, axis=0)\n"),),
    ),
    "predict_digit_returns_probabilities": Mistake(
        "predict_digit returns the 10 probabilities, not the digit",
        ((_PREDICT_RETURN, "    return probabilities[0]\n"),),
    ),
    "predict_digit_no_normalize": Mistake(
        "predict_digit gives the model unscaled pixels",
        ((_PREDICT_BATCH, "    batch = flatten(image.reshape(1, IMAGE_SIDE, IMAGE_SIDE))\n"),),
    ),
    "predict_digit_column_major": Mistake(
        "predict_digit flattens the image column by column",
        ((_PREDICT_BATCH, '    batch = normalize(image.reshape(1, NUM_PIXELS, order="F"))\n'),),
    ),
    "predict_digit_no_shape_check": Mistake(
        "predict_digit reshapes any image of 784 pixels without checking its shape",
        (
            (
                "    if image.shape not in "
                "((IMAGE_SIDE, IMAGE_SIDE), (IMAGE_SIDE, IMAGE_SIDE, 1)):\n"
                "        raise ValueError(\n"
                '            f"predict_digit expects one image of shape (28, 28) or (28, 28, 1), '
                'got {image.shape}"\n'
                "        )\n",
                "",
            ),
        ),
    ),
    "confusion_transposed": Mistake(
        "confusion puts predictions in rows and true labels in columns",
        (
            (
                "np.add.at(matrix, (y_true.astype(np.int64), y_pred.astype(np.int64)), 1)",
                "np.add.at(matrix, (y_pred.astype(np.int64), y_true.astype(np.int64)), 1)",
            ),
        ),
    ),
    "confusion_float_counts": Mistake(
        "confusion counts in a float array",
        (
            (
                "matrix = np.zeros((num_classes, num_classes), dtype=np.int64)",
                "matrix = np.zeros((num_classes, num_classes))",
            ),
        ),
    ),
    "confusion_no_range_check": Mistake(
        "confusion does not check that labels are in 0..num_classes - 1",
        (
            (
                '    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):\n'
                "        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):\n"
                "            raise ValueError(\n"
                '                f"{name} has labels outside 0..{num_classes - 1}: "\n'
                '                f"min {labels.min()}, max {labels.max()}"\n'
                "            )\n",
                "",
            ),
        ),
    ),
}


def mistake_source(name: str, reference: str | None = None) -> str:
    """The reference solution (``reference``, or ``solutions/digits.py``) with mistake ``name``.

    Raises AssertionError, naming the mistake and the snippet, if an old snippet does not occur
    exactly once in the reference (the reference changed: the patch must be updated).
    """
    mistake = PATCHES[name]
    source = REFERENCE.read_text(encoding="utf-8") if reference is None else reference
    for old, new in mistake.replacements:
        count = source.count(old)
        assert count == 1, (
            f"mistake {name!r}: this snippet occurs {count} times in the reference solution "
            f"(expected exactly once), so the patch no longer applies:\n{old}"
        )
        source = source.replace(old, new)
    return f'"""A common mistake ({name}): {mistake.description}."""\n\n{source}'
