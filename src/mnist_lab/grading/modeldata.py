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

import contextlib
from contextlib import contextmanager
from typing import Any


def is_model(value: Any) -> bool:
    """A Keras model (any subclass: Sequential, functional, subclassed)."""
    import sys

    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.Model)


def _array(value: Any):
    import numpy as np

    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


PREDICT_BATCH_SIZE = 32  # Keras' default for predict


def _keeps_keras(model: Any, method: str) -> bool:
    """Whether ``model.<method>`` is Keras' own (neither the model's class nor the model itself
    replaces it), so that a quicker Keras route to the same result gives what it would return."""
    import keras

    return getattr(type(model), method, None) is getattr(keras.Model, method, None) and (
        method not in vars(model)
    )


def _called_in_batches(model: Any, x: Any, batch_size: int):
    """``model.predict(x)``'s outputs without its per-call cost: Keras' predict sets up a data
    pipeline for every call (60-80 ms, on a model already traced) and traces a function for
    every new model, where calling the model on each batch (as predict does) takes a few ms."""
    import keras
    import numpy as np

    rows = [
        keras.tree.map_structure(
            keras.ops.convert_to_numpy, model(x[start : start + batch_size], training=False)
        )
        for start in range(0, len(x), batch_size)
    ]
    return keras.tree.map_structure(lambda *parts: np.concatenate(parts, axis=0), *rows)


def predict(model: Any, x: Any):
    """``model.predict(x)`` as an array (this also builds a model declared without an Input).

    A model that keeps Keras' predict is called batch by batch instead, which is what that
    predict does (``training=False``, batches of 32); a model whose class defines its own
    predict is asked through it.
    """
    x = _array(x)
    quick = _keeps_keras(model, "predict") and _keeps_keras(model, "predict_step")
    if quick and _rows(model, x) is not None:
        return _array(_called_in_batches(model, x, PREDICT_BATCH_SIZE))
    return _array(model.predict(x, verbose=0))


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


@contextmanager
def _eagerly(model: Any):
    """Run the model's train and test steps eagerly: for one batch, tracing them as a graph
    costs 0.2-0.5 s a function, running them eagerly a few ms. The graph functions made
    meanwhile are dropped afterwards, so a later ``fit`` traces its own."""
    saved = model.run_eagerly
    model.run_eagerly = True
    try:
        yield
    finally:
        model.run_eagerly = saved
        model.train_function = model.test_function = None


def evaluate(model: Any, x: Any, y: Any) -> list:
    """What ``model.evaluate`` reports on one batch: the loss, then each metric's value.

    For one batch that is what ``test_on_batch`` reports from reset metrics, without evaluate's
    data pipeline (60 ms); a model whose class defines its own evaluate is asked through it.
    """
    x, y = _array(x), _array(y)
    with _eagerly(model):
        if _keeps_keras(model, "evaluate"):
            model.reset_metrics()
            return _floats(model.test_on_batch(x, y))
        return _floats(model.evaluate(x, y, batch_size=len(x), verbose=0))


def train_on_batch(model: Any, x: Any, y: Any) -> list:
    """One training step; the loss and metric values Keras reports for it."""
    with _eagerly(model):
        return _floats(model.train_on_batch(_array(x), _array(y)))


def _build_for_training(model: Any, x: Any, y: Any) -> None:
    """Create the variables of the optimizer, the loss and the metrics before training, as Keras
    itself does under a distribution strategy (``_symbolic_build``, from the shapes of one row):
    created while ``fit`` traces its step, they make TensorFlow trace it twice (0.2 s) and cost
    about 40 ms each. If this fails, ``fit`` meets the same problem and reports it."""
    build = getattr(model, "_symbolic_build", None)
    if callable(build) and len(x):
        with contextlib.suppress(Exception):
            build(data_batch=(x[:1], y[:1], None))


def fit(
    model: Any,
    x: Any,
    y: Any,
    *,
    epochs: int,
    batch_size: int,
    seed: int | None,
    divide_by: float = 1.0,
) -> dict:
    """Train with ``model.fit`` on ``x / divide_by`` (as float32: images can travel as their
    uint8 pixels, a quarter of the bytes), seeded; the history and the trained weights."""
    import keras
    import numpy as np

    x, y = _array(x), _array(y)
    if divide_by != 1.0:
        x = x.astype(np.float32) / np.float32(divide_by)
    _build_for_training(model, x, y)
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    history = model.fit(x, y, epochs=int(epochs), batch_size=int(batch_size), verbose=0)
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

    layers = [keras.Input(shape=(int(spec.input_dim),))]
    layers += [
        keras.layers.Dense(int(layer["units"]), activation=str(layer["activation"]))
        for layer in spec.layers
    ]
    model = keras.Sequential(layers)
    set_spec_weights(model, spec)
    _predict_quickly(model)
    return model


def set_spec_weights(model: Any, spec: Any) -> None:
    """Give a model built from ``spec`` the spec's weights (again)."""
    import numpy as np

    for dense, layer in zip(model.layers, spec.layers, strict=True):
        dense.set_weights(
            [np.asarray(layer["weights"], dtype="float32"), np.asarray(layer["bias"], "float32")]
        )


def _predict_quickly(model: Any) -> None:
    """Give ``model`` a ``predict`` that returns what Keras' does for arrays of rows, without
    its 60-80 ms of set-up per call; anything else (a dataset, steps, callbacks, a single row)
    still goes to Keras' own."""
    import keras

    keras_predict = model.predict

    def predict(x, batch_size=None, verbose="auto", steps=None, callbacks=None, **options):
        rows = _rows(model, x)
        if rows is not None and steps is None and not callbacks and not options:
            return _called_in_batches(model, rows, int(batch_size or PREDICT_BATCH_SIZE))
        return keras_predict(
            x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks, **options
        )

    predict.__doc__ = keras.Model.predict.__doc__
    model.predict = predict


def _rows(model: Any, x: Any):
    """``x`` if it is rows of numbers of the shape ``model``'s one input takes (a NumPy array or
    a tensor), else None: everything else goes to Keras' predict, whose errors differ."""
    import keras
    import numpy as np

    if not (isinstance(x, np.ndarray) or keras.ops.is_tensor(x)):
        return None
    try:
        dtype = keras.backend.standardize_dtype(x.dtype)
        takes = model.input_shape if model.built else None
    except Exception:  # a dtype Keras has no name for; a model with no single input
        return None
    if not (isinstance(takes, tuple) and all(isinstance(d, (int, type(None))) for d in takes)):
        return None
    numeric = dtype == "bool" or dtype.startswith(("float", "int", "uint"))
    shaped = tuple(x.shape[1:]) == tuple(takes[1:]) and len(x.shape) >= 2
    return x if numeric and shaped and x.shape[0] else None
