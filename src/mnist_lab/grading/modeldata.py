"""What a Keras model does, as plain data: run where the model lives, judged elsewhere.

These functions run next to the student's code (in the harness' worker, or in the test process
under ``otter run``): each asks the model for something (its outputs, its weights, the loss and
metric values it reports, its weights after training) and returns NumPy arrays and floats. They
decide nothing: ``modelcheck.py`` does, in the grader. An exception raised here comes from the
student's model (not compiled, wrong shapes...), and is reported as such.

Keras is imported lazily and nothing from mnist_lab is imported, so the worker and the students'
public checks can use this source on its own.
"""

from __future__ import annotations

from typing import Any


def is_model(value: Any) -> bool:
    """A Keras model (any subclass: Sequential, functional, subclassed)."""
    import sys

    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.Model)


def _array(value: Any):
    import numpy as np

    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


def predict(model: Any, x: Any):
    """``model.predict(x)`` as an array (this also builds a model declared without an Input)."""
    return _array(model.predict(_array(x), verbose=0))


def get_weights(model: Any) -> list:
    return [_array(weight) for weight in model.get_weights()]


def observe(model: Any, x: Any) -> dict:
    """The model's outputs on ``x``, then its weights (in that order: predicting builds it)."""
    outputs = predict(model, x)
    return {"outputs": outputs, "weights": get_weights(model)}


def set_weights(model: Any, weights: list) -> None:
    model.set_weights([_array(weight) for weight in weights])


def _floats(result: Any) -> list:
    import numpy as np

    if isinstance(result, dict):
        result = list(result.values())
    return [float(value) for value in np.ravel(np.asarray(result, dtype=np.float64))]


def evaluate(model: Any, x: Any, y: Any) -> list:
    """What ``model.evaluate`` reports on one batch: the loss, then each metric's value."""
    return _floats(model.evaluate(_array(x), _array(y), batch_size=len(x), verbose=0))


def train_on_batch(model: Any, x: Any, y: Any) -> list:
    """One training step; the loss and metric values Keras reports for it."""
    return _floats(model.train_on_batch(_array(x), _array(y)))


def fit(model: Any, x: Any, y: Any, *, epochs: int, batch_size: int, seed: int | None) -> dict:
    """Train with ``model.fit`` (seeded); the history and the trained weights."""
    import keras

    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    history = model.fit(
        _array(x), _array(y), epochs=int(epochs), batch_size=int(batch_size), verbose=0
    )
    losses = dict(getattr(history, "history", {}) or {})
    return {
        "history": {str(key): _floats(values) for key, values in losses.items()},
        "weights": get_weights(model),
    }


def build_from_spec(spec: Any):
    """A real ``keras.Sequential`` from a ``ModelSpec``: ``Input(input_dim)`` then Dense layers.

    ``spec.layers`` holds dicts ``{"units", "activation", "weights", "bias"}``; weights have shape
    (inputs, units). It is not compiled: predicting (``predict``, ``predict_on_batch``, calling
    it) needs no compile, and the public checks, which embed this code, must not show students
    the compile call that ``build_model`` asks for.
    """
    import keras
    import numpy as np

    layers = [keras.Input(shape=(int(spec.input_dim),))]
    layers += [
        keras.layers.Dense(int(layer["units"]), activation=str(layer["activation"]))
        for layer in spec.layers
    ]
    model = keras.Sequential(layers)
    for dense, layer in zip(model.layers, spec.layers, strict=True):
        dense.set_weights(
            [np.asarray(layer["weights"], dtype="float32"), np.asarray(layer["bias"], "float32")]
        )
    return model
