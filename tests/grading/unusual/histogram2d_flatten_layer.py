"""Correct but unusual: np.histogram2d counts cast to int, a model with an explicit Flatten layer
and a separate Activation("softmax") layer, optimizer and loss given as objects."""

import keras
import numpy as np
import tensorflow as tf

IMAGE_SIDE = 28
NUM_PIXELS = IMAGE_SIDE * IMAGE_SIDE
NUM_CLASSES = 10
MAX_PIXEL_VALUE = 255


def normalize(images):
    return np.true_divide(images, 255)


def flatten(images):
    images = np.asarray(images)
    if images.shape[1:] == (28, 28, 1):
        images = np.squeeze(images, axis=3)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"flatten: got images of shape {images.shape}")
    return np.stack([image.ravel() for image in images]) if len(images) else images.reshape(0, 784)


def build_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10),
            keras.layers.Activation("softmax"),
        ]
    )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=False),
        metrics=["accuracy"],
    )
    return model


def predict_digit(model, image):
    image = np.array(image, dtype=np.float64)
    if image.shape not in [(28, 28), (28, 28, 1)]:
        raise ValueError("predict_digit: expected (28, 28) or (28, 28, 1)")
    scores = model(flatten(normalize(image.reshape(1, 28, 28))), training=False)
    return int(np.asarray(scores).argmax())


def confusion(y_true, y_pred, num_classes=10):
    y_true, y_pred = list(y_true), list(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError("y_true and y_pred must have the same length")
    if any(not 0 <= label < num_classes for label in y_true + y_pred):
        raise ValueError("a label is out of range")
    counts, _, _ = np.histogram2d(
        y_true, y_pred, bins=num_classes, range=[[0, num_classes], [0, num_classes]]
    )
    return counts.astype(np.int64)
