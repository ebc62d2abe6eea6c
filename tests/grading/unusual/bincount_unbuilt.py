"""Correct but unusual: float32 arithmetic, a Sequential model without an Input layer, extra
input validation, np.bincount counting, predict_digit returning np.int64 from model.predict."""

import keras
import numpy as np

IMAGE_SIDE = 28
NUM_PIXELS = IMAGE_SIDE * IMAGE_SIDE
NUM_CLASSES = 10
MAX_PIXEL_VALUE = 255


def normalize(images):
    images = np.asarray(images)
    if images.size and (images.min() < 0 or images.max() > 255):
        raise ValueError("pixel values must be 0..255")
    return images.astype(np.float32) / np.float32(MAX_PIXEL_VALUE)


def flatten(images):
    if not isinstance(images, np.ndarray):
        images = np.array(images)
    if images.ndim == 4:
        if images.shape[3] != 1:
            raise ValueError(f"one grey channel expected, got shape {images.shape}")
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1] != 28 or images.shape[2] != 28:
        raise ValueError(f"expected (n, 28, 28) images, got shape {images.shape}")
    return images.reshape(-1, 28 * 28)


def build_model():
    model = keras.Sequential()
    model.add(keras.layers.Dense(128, activation="relu"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def predict_digit(model, image):
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.shape != (28, 28):
        raise ValueError("expected shape (28, 28) or (28, 28, 1), got " + str(image.shape))
    probabilities = model.predict(flatten(normalize(image[None])), verbose=0)
    return np.argmax(probabilities, axis=1)[0]


def confusion(y_true, y_pred, num_classes=10):
    y_true, y_pred = np.ravel(y_true), np.ravel(y_pred)
    if y_true.size != y_pred.size:
        raise ValueError("different lengths")
    if not np.issubdtype(y_true.dtype, np.integer) or not np.issubdtype(y_pred.dtype, np.integer):
        raise TypeError("labels must be integers")
    if ((y_true < 0) | (y_true >= num_classes) | (y_pred < 0) | (y_pred >= num_classes)).any():
        raise ValueError("labels must be in 0..num_classes-1")
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)
