"""Handwritten-digit recognition: the five functions of the MNIST exercise.

Complete each function below. Every function says in its docstring what it receives, what it
must return (shape, dtype, value range) and which errors it must raise. Run the public checks
(``mnist-lab check digits.py`` or the check cells in the notebook) to see how you are doing.

An MNIST image is a 28 x 28 grid of grey levels: 0 is black, 255 is white.
"""

import numpy as np
import tensorflow as tf

IMAGE_SIDE = 28  # an MNIST image is IMAGE_SIDE x IMAGE_SIDE pixels
NUM_PIXELS = IMAGE_SIDE * IMAGE_SIDE  # 784 input values per image
NUM_CLASSES = 10  # the digits 0 to 9
MAX_PIXEL_VALUE = 255  # the brightest grey level


def normalize(images):
    """Scale pixel values from 0..255 to 0..1.

    Parameters
    ----------
    images : numpy array of any shape
        Grey levels from 0 to 255, as integers (for example uint8) or floats.

    Returns
    -------
    numpy array
        A NEW floating-point array with the same shape, equal to ``images / 255.0``:
        0 stays 0.0, 255 becomes 1.0. The input array must not be changed.
    """
    # YOUR CODE HERE
    raise NotImplementedError("return a new float array, images / 255.0; leave images unchanged")


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
        second row, and so on (NumPy's default "C" order). Values and dtype are unchanged.

    Raises
    ------
    ValueError
        If ``images`` has any other shape; the message names the shape it got.
    """
    # YOUR CODE HERE
    raise NotImplementedError("check the shape, then reshape to (n, 784) in row-major order")


def build_model():
    """Create and compile the digit classifier.

    Returns
    -------
    keras.Model
        A compiled model that takes 784 input values per image and has
        - a hidden ``Dense`` layer of 128 units with ``relu`` activation,
        - an output ``Dense`` layer of 10 units with ``softmax`` activation
          (one probability per digit, adding up to 1),
        compiled with the ``adam`` optimizer, the ``sparse_categorical_crossentropy`` loss
        (labels are plain digits 0..9, not one-hot vectors) and the ``accuracy`` metric.
    """
    # YOUR CODE HERE
    raise NotImplementedError("Input(784) -> Dense(128, relu) -> Dense(10, softmax), then compile")


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
        training, given to the model as a batch of one image, and ``np.argmax`` picks the digit
        with the highest probability. (A NumPy integer is fine.)

    Raises
    ------
    ValueError
        If ``image`` has any other shape (for example a colour image of shape (28, 28, 3));
        the message says which shape was expected.
    """
    # YOUR CODE HERE
    raise NotImplementedError("check the shape, normalize, flatten a batch of one, np.argmax")


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
    """
    # YOUR CODE HERE
    raise NotImplementedError("check lengths and labels, then count each (true, predicted) pair")
