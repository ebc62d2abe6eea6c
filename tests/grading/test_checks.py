"""The helpers the autograder test files go through: checks.py and modeldata.py, with real
Keras models and real functions (otter mode)."""

from __future__ import annotations

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from mnist_lab.grading import checks, modelcheck, modeldata
from mnist_lab.grading.protocol import ModelSpec, StudentError
from mnist_lab.grading.reference import HELPERS


def reference_like_model(**compile_options):
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    if compile_options:
        model.compile(**compile_options)
    return model


def test_importing_checks_and_the_verdicts_does_not_import_tensorflow():
    code = (
        "import sys, mnist_lab.grading.checks, mnist_lab.grading.modeldata, "
        "mnist_lab.grading.modelcheck, mnist_lab.grading.modelprobe; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_model_data_is_plain_data_only():
    model = reference_like_model(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    x = modelcheck.probe_inputs(1)
    seen = modeldata.observe(model, x)
    assert type(seen["outputs"]) is np.ndarray
    assert seen["outputs"].shape == (32, 10)
    assert [w.shape for w in seen["weights"]] == [(784, 128), (128,), (128, 10), (10,)]
    assert all(type(w) is np.ndarray for w in seen["weights"])
    values = modeldata.evaluate(model, x[:4], np.arange(4))
    assert len(values) == 2
    assert all(type(v) is float for v in values)
    trained = modeldata.fit(model, x, np.arange(32) % 10, epochs=1, batch_size=16, seed=0)
    assert set(trained) == {"history", "weights"}
    json.dumps(trained["history"])


def test_model_built_from_spec_computes_what_spec_forward_computes():
    spec = checks.random_spec(7)
    model = modeldata.build_from_spec(spec)
    x = np.random.default_rng(0).uniform(0, 1, size=(5, 784))
    np.testing.assert_allclose(
        model.predict(x, verbose=0), checks.spec_forward(spec, x), rtol=1e-4, atol=1e-6
    )


def test_call_passes_copies_and_builds_models_from_specs():
    seen = {}

    def normalize(images):
        images /= 2  # an in-place change must not reach the test's data
        return images

    def predict_digit(model, image):
        seen["model"] = model
        return 3

    data = np.ones(4)
    assert np.array_equal(checks.call(normalize, data), np.full(4, 0.5))
    assert np.array_equal(data, np.ones(4))
    _result, after = checks.call_returning_arguments(normalize, data)
    assert np.array_equal(after[0], np.full(4, 0.5))
    assert np.array_equal(data, np.ones(4))
    assert checks.call(predict_digit, checks.random_spec(1), np.zeros((28, 28))) == 3
    assert isinstance(seen["model"], keras.Model)


def flatten(images):  # the student's own (wrong) helper, replaced while predict_digit runs
    return "student flatten"


def predict_digit(model, image):
    if image is None:
        raise ValueError("boom")
    return flatten(np.zeros((1, 28, 28))).shape


def test_predict_digit_sees_the_reference_helpers_only_during_the_call():
    assert checks.call(predict_digit, None, np.zeros((28, 28))) == (1, 784)
    assert flatten(None) == "student flatten"
    with pytest.raises(checks.CheckFailure, match="raised ValueError: boom"):
        checks.call(predict_digit, None, None)
    assert globals()["flatten"] is flatten
    assert "normalize" not in globals()
    assert set(HELPERS) == {"normalize", "flatten"}


def test_call_feedback_for_missing_and_unwritten_functions():
    with pytest.raises(checks.CheckFailure, match="not defined in your submission"):
        checks.call(None, 1)

    def normalize(images):
        raise NotImplementedError("stub")

    with pytest.raises(checks.CheckFailure, match=r"normalize\(a uint8 array of shape \(2, 3\)\)"):
        checks.call(normalize, np.zeros((2, 3), np.uint8))


def test_expect_raises_accepts_the_type_and_explains_otherwise():
    def confusion(y_true, y_pred, num_classes=10):
        if num_classes == 3:
            raise IndexError("index 3 is out of bounds")
        if len(y_true) != len(y_pred):
            raise ValueError("lengths differ")
        return np.zeros((num_classes, num_classes), int)

    outcome = checks.expect_raises(ValueError, confusion, [1, 2], [1])
    assert outcome.message == "lengths differ"
    with pytest.raises(checks.CheckFailure, match=r"returned an int64 array of shape .* instead"):
        checks.expect_raises(ValueError, confusion, [1], [1])
    with pytest.raises(checks.CheckFailure, match=r"raised IndexError.*expected ValueError"):
        checks.expect_raises(ValueError, confusion, [1], [1], num_classes=3)
    # Under the harness the exception arrives as a StudentError naming its classes.
    error = StudentError(["ValueError", "Exception", "BaseException"], "bad shape")
    assert checks.Raised(error.type_names, error.message).is_a(ValueError)
    assert checks.is_not_implemented(StudentError(["NotImplementedError"], ""))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, True),
        (np.int64(3), True),
        (np.uint8(9), True),
        (np.array(4), True),
        (True, False),
        (3.0, False),
        (np.float32(3), False),
        (np.array([3]), False),
        ("3", False),
    ],
)
def test_int_like(value, expected):
    assert checks.is_int_like(value) is expected


def test_as_model_and_as_array_explain_what_came_back():
    assert isinstance(checks.as_model(reference_like_model()), checks.LocalModel)
    with pytest.raises(checks.CheckFailure, match="returned 'model'; expected a Keras model"):
        checks.as_model("model")
    with pytest.raises(checks.CheckFailure, match="expected a NumPy array"):
        checks.as_array(None, "normalize(x)")
    assert checks.as_array([1.5, 2], "f()").dtype == np.float64


def test_local_model_gives_the_same_raw_data_as_a_remote_one():
    model = checks.as_model(
        reference_like_model(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
    )
    x = np.random.default_rng(0).uniform(0, 1, size=(64, 784)).astype("float32")
    history = model.fit(x, np.arange(64) % 10, epochs=1, batch_size=32, seed=0)
    assert set(history["history"]) >= {"loss", "accuracy"}
    assert model.predict(x[:3]).shape == (3, 10)
    assert [w.shape for w in model.get_weights()][:2] == [(784, 128), (128,)]
    assert model.evaluate(x[:8], np.arange(8))[0] > 0
    assert set(checks.MODEL_METHODS) <= {m for m in dir(model) if not m.startswith("_")}
    assert isinstance(ModelSpec([], 784), ModelSpec)


def test_tensorflow_results_come_back_as_arrays_as_under_the_harness():
    import tensorflow as tf

    def predict_digit(model, image):
        return tf.argmax(tf.constant([[0.1, 0.7, 0.2]]), axis=1)[0]

    result = checks.call(predict_digit, None, np.zeros((28, 28)))
    assert isinstance(result, np.ndarray)
    assert checks.is_int_like(result)
    assert int(result) == 1


@pytest.mark.parametrize(
    ("value", "described"),
    [
        (np.zeros(4, dtype=np.int64), "an int64 array of shape (4,)"),
        (np.zeros(2, dtype=np.uint8), "a uint8 array of shape (2,)"),
        (np.zeros(3, dtype=np.float32), "a float32 array of shape (3,)"),
        (np.zeros(1, dtype=object), "an object array of shape (1,)"),
        (range(3), "a range object"),
        (Ellipsis, "an ellipsis object"),
    ],
)
def test_feedback_describes_values_with_the_right_article(value, described: str) -> None:
    """The walkthrough's N22: "a int64 array" on every int array."""
    assert checks.describe(value) == described
