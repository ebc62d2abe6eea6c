"""Describe a Keras model as plain data, and build probe models from a ``ModelSpec``.

Both run wherever a model lives: in the harness worker (next to the student's code) and in the
test process under ``otter run``. The description is JSON-able data only, so the grader never
needs to touch the student's model object. Keras is imported lazily: importing this module is
cheap, and it imports nothing from mnist_lab, so the harness worker and the students' public
test files can use its source on its own.
"""

from __future__ import annotations

from typing import Any

NUM_PIXELS = 28 * 28  # kept literal (see above); equals mnist_lab.constants.NUM_PIXELS

# Layers that do not change what a Dense stack computes at prediction time.
PASS_THROUGH_LAYERS = ("InputLayer", "Flatten", "Reshape", "Dropout")
# Layers that apply an activation to the previous Dense layer's output.
ACTIVATION_LAYERS = {"Softmax": "softmax", "ReLU": "relu"}


def _name_of(thing: Any) -> str | None:
    """The name of a loss/optimizer/metric given as a string, a function, a class or an object."""
    if thing is None:
        return None
    if isinstance(thing, str):
        return thing
    function = getattr(thing, "fn", None)  # keras.losses.LossFunctionWrapper
    if callable(function) and hasattr(function, "__name__"):
        return function.__name__
    if isinstance(thing, type):
        return thing.__name__
    if callable(thing) and hasattr(thing, "__name__") and not hasattr(thing, "get_config"):
        return thing.__name__
    return type(thing).__name__


def canonical(name: str | None) -> str | None:
    """``SparseCategoricalCrossentropy`` and ``sparse_categorical_crossentropy`` compare equal."""
    return None if name is None else name.replace("_", "").lower()


def _activation_name(layer: Any) -> str:
    activation = layer.get_config().get("activation", "linear")
    if isinstance(activation, dict):  # a serialized activation object
        activation = activation.get("config", {}).get("name") or activation.get("class_name")
    if not isinstance(activation, str):
        activation = _name_of(activation) or "linear"
    return activation


def _input_dim(model: Any) -> int | None:
    try:
        shape = model.inputs[0].shape
    except Exception:  # an unbuilt Sequential model has no inputs yet
        return None
    if len(shape) != 2 or shape[-1] is None:
        return None
    return int(shape[-1])


def _loss_from_logits(loss: Any) -> bool:
    config = getattr(loss, "_fn_kwargs", None) or {}
    if "from_logits" in config:
        return bool(config["from_logits"])
    try:
        return bool(loss.get_config().get("from_logits", False))
    except Exception:
        return False


def describe_model(model: Any) -> dict:
    """What the tests need to know about a model, as JSON-able data.

    Keys: ``class`` (type name), ``is_keras_model``, ``built``, ``input_dim`` (features per
    sample, None when not fixed), ``input_shape``, ``output_shape``, ``layers`` (class names),
    ``dense`` (for each Dense layer in order: ``units`` and ``activation``, where a following
    Softmax/ReLU/Activation layer counts as the Dense layer's activation), ``other_layers`` (layers
    that are neither Dense, activation nor pass-through), ``compiled``, ``optimizer``, ``loss``,
    ``loss_from_logits``, ``metrics`` (names as given).
    """
    import keras

    info: dict[str, Any] = {"class": type(model).__name__, "is_keras_model": False}
    if not isinstance(model, keras.Model):
        return info
    info["is_keras_model"] = True
    info["built"] = bool(model.built)
    if isinstance(model, keras.Sequential) and not model.built:
        try:  # a Sequential model without Input: describe it as used, on 784 features
            model.build((None, NUM_PIXELS))
        except Exception as error:
            info["build_error"] = f"{type(error).__name__}: {error}"[:300]
    info["input_dim"] = _input_dim(model)
    try:
        info["input_shape"] = [None if d is None else int(d) for d in model.inputs[0].shape]
        info["output_shape"] = [None if d is None else int(d) for d in model.outputs[0].shape]
    except Exception:
        info["input_shape"] = info["output_shape"] = None
    dense: list[dict] = []
    other: list[str] = []
    names: list[str] = []
    for layer in model.layers:
        kind = type(layer).__name__
        names.append(kind)
        if kind == "Dense":
            dense.append({"units": int(layer.units), "activation": _activation_name(layer)})
        elif kind in ACTIVATION_LAYERS or kind == "Activation":
            applied = ACTIVATION_LAYERS.get(kind) or _activation_name(layer)
            if dense and dense[-1]["activation"] == "linear":
                dense[-1]["activation"] = applied
            else:
                other.append(f"{kind}({applied})")
        elif kind not in PASS_THROUGH_LAYERS:
            other.append(kind)
    info["layers"] = names
    info["dense"] = dense
    info["other_layers"] = other
    compiled = bool(getattr(model, "compiled", False)) and getattr(model, "optimizer", None)
    info["compiled"] = bool(compiled)
    info["optimizer"] = info["loss"] = None
    info["loss_from_logits"] = False
    info["metrics"] = []
    if compiled:
        info["optimizer"] = type(model.optimizer).__name__
        loss = getattr(model, "loss", None)
        info["loss"] = _name_of(loss)
        info["loss_from_logits"] = _loss_from_logits(loss)
        try:
            metrics = model.get_compile_config().get("metrics") or []
        except Exception:
            metrics = []
        if isinstance(metrics, (str, dict)):
            metrics = [metrics]
        info["metrics"] = [_metric_name(metric) for metric in metrics]
    return info


def _metric_name(metric: Any) -> str:
    if isinstance(metric, dict):  # serialized: {"class_name": ..., "config": {"name": ...}}
        return str(metric.get("class_name") or metric.get("config", {}).get("name"))
    return str(_name_of(metric))


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
