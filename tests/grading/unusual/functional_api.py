"""Correct but unusual: functional API with separate ReLU/Softmax layers and loss/metric objects,
TensorFlow ops in normalize (float32), model(x) in predict_digit returning a NumPy integer."""

import keras
import numpy as np
import tensorflow as tf

IMAGE_SIDE = 28
NUM_PIXELS = IMAGE_SIDE * IMAGE_SIDE
NUM_CLASSES = 10
MAX_PIXEL_VALUE = 255


def normalize(images):
    return (tf.cast(tf.convert_to_tensor(images), tf.float32) / 255.0).numpy()


def flatten(images):
    images = np.asarray(images)
    if images.shape[1:] not in ((28, 28), (28, 28, 1)):
        raise ValueError(f"bad image shape {images.shape}")
    return np.reshape(images, (images.shape[0], -1))


def build_model():
    inputs = keras.Input(shape=(NUM_PIXELS,))
    hidden = keras.layers.Dense(128)(inputs)
    hidden = keras.layers.ReLU()(hidden)
    logits = keras.layers.Dense(NUM_CLASSES)(hidden)
    outputs = keras.layers.Softmax()(logits)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    return model


def predict_digit(model, image):
    image = np.asarray(image)
    if image.shape not in ((28, 28), (28, 28, 1)):
        raise ValueError(f"expected one (28, 28) image, got {image.shape}")
    batch = flatten(normalize(image[np.newaxis, :, :]))
    return np.argmax(model(batch).numpy(), axis=-1)[0]


def confusion(y_true, y_pred, num_classes=10):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError("lengths differ")
    if np.any((y_true < 0) | (y_true >= num_classes) | (y_pred < 0) | (y_pred >= num_classes)):
        raise ValueError("label out of range")
    matrix = np.zeros((num_classes, num_classes), dtype=int)
    for t, p in zip(y_true, y_pred, strict=True):
        matrix[t, p] += 1
    return matrix
