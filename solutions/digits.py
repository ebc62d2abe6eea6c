"""Handwritten-digit recognition: the five functions of the MNIST exercise.

Complete each function below, in this order: normalize, flatten, build_model, predict_digit,
confusion. Each docstring is the function's contract: what it receives, what it must return
(shape, dtype, value range) and which errors it must raise; the autograder checks exactly that.

Check your work with the check cells in the notebook, or in a terminal in this folder:

    otter check digits.py -t tests              (every public check)
    otter check digits.py -t tests -q flatten   (the checks of one function)

An MNIST image is a 28 x 28 grid of grey levels, integers from 0 to 255: 0 = background,
255 = full ink. Drawn with a grey colour map, the background looks black and the digit white.

Documentation: NumPy https://numpy.org/doc/stable/reference/, Keras https://keras.io/api/
(``tf.keras`` below is Keras, as installed with TensorFlow).
"""

import numpy as np
import tensorflow as tf

IMAGE_SIDE = 28  # an MNIST image is IMAGE_SIDE x IMAGE_SIDE pixels
NUM_PIXELS = IMAGE_SIDE * IMAGE_SIDE  # 784 input values per image
NUM_CLASSES = 10  # the digits 0 to 9
MAX_PIXEL_VALUE = 255  # full ink


def normalize(images):
    """Scale pixel values from 0..255 to 0..1.

    Parameters
    ----------
    images : numpy array of any shape
        Grey levels from 0 (background) to 255 (full ink), as integers (for example uint8)
        or floats.

    Returns
    -------
    numpy array
        A NEW floating-point array with the same shape, equal to ``images / 255.0``:
        0 stays 0.0, 255 becomes 1.0. The input array must not be changed. (Dividing a uint8
        array in place fails, and uint8 arithmetic wraps around above 255.) Any float dtype
        is fine: float32, what Keras computes in, takes half the memory of float64.

    See ``np.asarray`` and its ``dtype`` argument.
    """
    # BEGIN SOLUTION | hint: return a new float array, images / 255.0; leave images unchanged
    return np.asarray(images, dtype=np.float64) / float(MAX_PIXEL_VALUE)
    # END SOLUTION


def flatten(images):
    """Turn each 28 x 28 image into one row of 784 pixel values.

    Parameters
    ----------
    images : numpy array of shape (n, 28, 28) or (n, 28, 28, 1)
        n images (the last axis of size 1, if present, is the single grey channel).

    Returns
    -------
    numpy array of shape (n, 784)
        Row ``i`` holds image ``i`` read row by row: the 28 pixels of its top row first, then the
        second row, and so on (NumPy's default "C" order), so pixel ``images[i, r, c]`` becomes
        ``result[i, 28 * r + c]``. Values and dtype are unchanged.

    Raises
    ------
    ValueError
        If ``images`` has any other shape; the message names the shape it got.

    See the ``shape`` attribute and ``reshape`` of NumPy arrays.
    """
    # BEGIN SOLUTION | hint: check the shape, then reshape to (n, 784) in row-major order
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
    # END SOLUTION


def build_model():
    """Create and compile the digit classifier.

    Returns
    -------
    keras.Model
        A compiled model that takes batches of flattened images, shape (n, 784), and returns
        shape (n, 10). It has
        - the input ``keras.Input(shape=(784,))`` (mind the comma: ``(784)`` is just 784),
        - a hidden ``Dense`` layer of 128 units with ``relu`` activation,
        - an output ``Dense`` layer of 10 units with ``softmax`` activation
          (one probability per digit, adding up to 1),
        and is compiled with the ``adam`` optimizer, the ``sparse_categorical_crossentropy`` loss
        (labels are plain digits 0..9, not one-hot vectors) and the ``accuracy`` metric.

    See ``tf.keras.Sequential``, ``tf.keras.layers.Dense`` and ``Model.compile``:
    https://keras.io/guides/sequential_model/ and https://keras.io/api/models/model_training_apis/
    """
    # BEGIN SOLUTION | hint: Input(shape=(784,)) -> Dense(128, relu) -> Dense(10, softmax); compile
    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(NUM_PIXELS,)),
            tf.keras.layers.Dense(128, activation="relu"),
            tf.keras.layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
    # END SOLUTION


def predict_digit(model, image):
    """Predict which digit one raw image shows.

    Parameters
    ----------
    model : keras.Model
        A model built by ``build_model`` (and trained).
    image : numpy array of shape (28, 28) or (28, 28, 1)
        ONE raw image with grey levels 0..255, not yet normalized.

    Returns
    -------
    int
        The predicted digit, 0 to 9: the image is normalized and flattened exactly as in
        training, into a batch of one image of shape (1, 784); the model returns shape (1, 10),
        the ten probabilities of that one image; and ``np.argmax`` of its row 0 (or with
        ``axis=1``) picks the digit with the highest probability. (A NumPy integer is fine.)

    Raises
    ------
    ValueError
        If ``image`` has any other shape (for example a colour image of shape (28, 28, 3));
        the message says which shape was expected.

    See ``Model.predict`` (pass ``verbose=0`` to hide its progress bar) and ``np.argmax``.
    """
    # BEGIN SOLUTION | hint: check the shape, normalize, flatten a batch of one, np.argmax
    image = np.asarray(image)
    if image.shape not in ((IMAGE_SIDE, IMAGE_SIDE), (IMAGE_SIDE, IMAGE_SIDE, 1)):
        raise ValueError(
            f"predict_digit expects one image of shape (28, 28) or (28, 28, 1), got {image.shape}"
        )
    batch = flatten(normalize(image.reshape(1, IMAGE_SIDE, IMAGE_SIDE)))
    probabilities = model.predict(batch, verbose=0)
    return int(np.argmax(probabilities[0]))
    # END SOLUTION


def confusion(y_true, y_pred, num_classes=10):
    """Count how often each true digit was predicted as each digit.

    Parameters
    ----------
    y_true : sequence or numpy array of n integer labels
        The correct digits, each from 0 to num_classes - 1.
    y_pred : sequence or numpy array of n integer labels
        The predicted digits, each from 0 to num_classes - 1.
    num_classes : int, default 10
        The number of classes.

    Returns
    -------
    numpy array of shape (num_classes, num_classes), integer dtype
        Entry ``[t, p]`` counts the samples whose TRUE label is ``t`` and whose PREDICTED label is
        ``p``: rows are true labels, columns are predictions (as in scikit-learn and
        ``tf.math.confusion_matrix``). The diagonal holds the correct predictions. A class that
        never occurs gets a row and a column of zeros.

    Raises
    ------
    ValueError
        If ``y_true`` and ``y_pred`` have different lengths, or a label is outside
        0..num_classes - 1.

    Example: ``confusion([0, 1, 1], [0, 1, 0], num_classes=2)`` counts one true 1 predicted
    as 0, so it gives ``[[1, 0], [1, 1]]``.

    See ``np.zeros`` with an integer ``dtype``.
    """
    # BEGIN SOLUTION | hint: check lengths and labels, then count each (true, predicted) pair
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true has {y_true.size} labels but y_pred has {y_pred.size}; they must match"
        )
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(
                f"{name} has labels outside 0..{num_classes - 1}: "
                f"min {labels.min()}, max {labels.max()}"
            )
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true.astype(np.int64), y_pred.astype(np.int64)), 1)
    return matrix
    # END SOLUTION
