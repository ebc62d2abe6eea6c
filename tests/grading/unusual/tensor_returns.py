"""Correct but unusual: normalize returns a tf.Tensor, TensorFlow reshape, predict_on_batch with
tf.argmax returning a 0-d tensor, tf.math.confusion_matrix, Dense layers with activation
functions."""

import keras
import numpy as np
import tensorflow as tf

IMAGE_SIDE = 28
NUM_PIXELS = IMAGE_SIDE * IMAGE_SIDE
NUM_CLASSES = 10
MAX_PIXEL_VALUE = 255


def normalize(images):
    return tf.convert_to_tensor(images, dtype=tf.float64) / 255.0


def flatten(images):
    images = tf.convert_to_tensor(images)
    if (
        images.shape.rank not in (3, 4)
        or tuple(images.shape[1:3]) != (28, 28)
        or (images.shape.rank == 4 and images.shape[3] != 1)
    ):
        raise ValueError(f"flatten: wrong shape {tuple(images.shape)}")
    return tf.reshape(images, (-1, NUM_PIXELS)).numpy()


def build_model():
    model = keras.Sequential(
        [
            keras.layers.Input(shape=(784,)),
            keras.layers.Dense(128, activation=keras.activations.relu),
            keras.layers.Dense(10, activation=keras.activations.softmax),
        ]
    )
    model.compile(
        optimizer="Adam", loss=keras.losses.sparse_categorical_crossentropy, metrics=["acc"]
    )
    return model


def predict_digit(model, image):
    if np.shape(image) not in ((28, 28), (28, 28, 1)):
        raise ValueError("predict_digit expects a (28, 28) or (28, 28, 1) image")
    batch = np.asarray(normalize(np.reshape(image, (1, 28, 28)))).reshape(1, 784)
    return tf.argmax(model.predict_on_batch(batch), axis=1)[0]  # a 0-d integer tensor


def confusion(y_true, y_pred, num_classes=10):
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError("y_true and y_pred differ in length")
    for labels in (y_true, y_pred):
        if labels.size and (labels.min() < 0 or labels.max() > num_classes - 1):
            raise ValueError("labels out of range")
    return tf.math.confusion_matrix(y_true, y_pred, num_classes=num_classes).numpy()
