"""modeldata.py's shortcuts give what Keras' own calls give: predicting batch by batch instead of
``model.predict``, the probe models' quick predict, the compile probe's eager steps, the symbolic
build before ``fit``; and the worker's probe models, built once per spec, start clean each time.
Real Keras models throughout."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from mnist_lab.grading import checks, modelcheck, modeldata
from mnist_lab.grading.worker import Worker


def reference_like_model(*, compiled: bool = True, loss: str = "sparse_categorical_crossentropy"):
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    if compiled:
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    return model


def keras_predict(model, x, **options):
    """What Keras' own predict returns (past any instance-level shortcut)."""
    return keras.Model.predict(model, x, verbose=0, **options)


def test_predict_gives_what_keras_predict_gives_across_batches():
    model = reference_like_model()
    x = np.random.default_rng(0).uniform(0, 30, (70, 784)).astype(np.float32)  # 3 batches
    ours = modeldata.predict(model, x)
    assert ours.shape == (70, 10)
    np.testing.assert_array_equal(ours, keras_predict(model, x))


def test_a_model_whose_class_defines_predict_is_asked_through_it():
    class Shifted(keras.Sequential):
        def predict(self, x, **options):
            return super().predict(x, **options) + 1.0

    model = Shifted([keras.Input(shape=(784,)), keras.layers.Dense(10, activation="softmax")])
    x = modelcheck.probe_inputs(3)
    outputs = modeldata.predict(model, x)
    np.testing.assert_allclose(outputs.sum(axis=1), 11.0, rtol=1e-5)


def test_a_model_declared_without_input_is_built_by_predicting():
    model = keras.Sequential([keras.layers.Dense(8, activation="relu"), keras.layers.Dense(10)])
    seen = modeldata.observe(model, modelcheck.probe_inputs(4))
    assert seen["outputs"].shape == (32, 10)
    assert [w.shape for w in seen["weights"]] == [(784, 8), (8,), (8, 10), (10,)]


ROWS = {
    "one uint8 row": np.arange(784, dtype=np.uint8).reshape(1, 784),
    "float64 rows": np.random.default_rng(1).random((3, 784)),
    "40 float32 rows": np.random.default_rng(2).random((40, 784)).astype(np.float32),
    "bool row": np.random.default_rng(3).random((1, 784)) > 0.5,
}


@pytest.mark.parametrize("name", sorted(ROWS))
def test_a_probe_model_predicts_rows_exactly_as_keras_does(name):
    spec = checks.random_spec(5)
    model = modeldata.build_from_spec(spec)
    x = ROWS[name]
    np.testing.assert_array_equal(model.predict(x, verbose=0), keras_predict(model, x))
    np.testing.assert_array_equal(
        model.predict(x, batch_size=2), keras_predict(model, x, batch_size=2)
    )


OTHER_INPUTS = {
    "one flat image": np.zeros(784, dtype=np.float32),
    "an unflattened image": np.zeros((28, 28), dtype=np.float32),
    "a batch of images": np.zeros((1, 28, 28), dtype=np.float32),
    "strings": np.array([["a"] * 784]),
    "no rows": np.zeros((0, 784), dtype=np.float32),
}


@pytest.mark.parametrize("name", sorted(OTHER_INPUTS))
def test_a_probe_model_leaves_everything_else_to_keras_predict(name):
    """What a student's predict_digit meets when it passes the wrong thing is Keras' own error
    (an InvalidArgumentError for an unflattened image, not the ValueError a shape check gives)."""
    model = modeldata.build_from_spec(checks.random_spec(6))
    x = OTHER_INPUTS[name]
    outcomes = []
    for predict in (model.predict, lambda x, **options: keras_predict(model, x)):
        try:
            predict(x, verbose=0)
        except Exception as error:  # which exception is what is compared
            outcomes.append(type(error))
    assert len(outcomes) == 2
    assert outcomes[0] is outcomes[1]


def test_one_step_eagerly_changes_nothing_but_its_own_run():
    x = modelcheck.probe_inputs(7)
    labels = np.arange(32) % 10
    eager, graph = reference_like_model(), reference_like_model()
    graph.set_weights(eager.get_weights())
    reported = modeldata.train_on_batch(eager, x, labels)
    expected = [float(v) for v in graph.train_on_batch(x, labels)]
    np.testing.assert_allclose(reported, expected, rtol=1e-5)
    for ours, theirs in zip(eager.get_weights(), graph.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    assert eager.run_eagerly is False
    assert eager.train_function is None
    assert eager.test_function is None
    np.testing.assert_allclose(
        modeldata.evaluate(eager, x, labels),
        graph.evaluate(x, labels, batch_size=32, verbose=0),
        rtol=1e-5,
    )


def test_fit_after_the_symbolic_build_trains_as_keras_fit_does():
    rng = np.random.default_rng(8)
    x = rng.random((100, 784)).astype(np.float32)
    y = rng.integers(0, 10, 100)
    ours, theirs = reference_like_model(), reference_like_model()
    theirs.set_weights(ours.get_weights())
    trained = modeldata.fit(ours, x, y, epochs=2, batch_size=50, seed=3)
    keras.utils.set_random_seed(3)
    history = theirs.fit(x, y, epochs=2, batch_size=50, verbose=0)
    np.testing.assert_allclose(trained["history"]["loss"], history.history["loss"], rtol=1e-5)
    for a, b in zip(trained["weights"], theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_fit_still_reports_a_loss_that_refuses_the_labels():
    model = reference_like_model(loss="categorical_crossentropy")
    x = modelcheck.probe_inputs(9)
    with pytest.raises(ValueError, match=r"(?i)shape"):
        modeldata.fit(model, x, np.arange(32) % 10, epochs=1, batch_size=16, seed=0)


def test_the_worker_builds_one_probe_model_per_spec_and_resets_its_weights():
    worker = Worker({})
    spec, other = checks.random_spec(10), checks.random_spec(11)
    x = modelcheck.probe_inputs(10)
    first = worker.probe_model(spec)
    for weight in first.weights:
        weight.assign(np.zeros(weight.shape, dtype="float32"))  # what a student's call may do
    again = worker.probe_model(spec)
    assert again is first
    np.testing.assert_allclose(
        again.predict(x, verbose=0), checks.spec_forward(spec, x), rtol=1e-4, atol=1e-6
    )
    assert worker.probe_model(other) is not first
    np.testing.assert_allclose(
        worker.materialize((spec, [other]))[1][0].predict(x, verbose=0),
        checks.spec_forward(other, x),
        rtol=1e-4,
        atol=1e-6,
    )


def test_evaluate_reports_what_keras_evaluate_reports_each_time():
    model = reference_like_model()
    x = modelcheck.probe_inputs(12)
    labels = np.arange(32) % 10
    expected = model.evaluate(x, labels, batch_size=32, verbose=0)
    np.testing.assert_allclose(modeldata.evaluate(model, x, labels), expected, rtol=1e-6)
    np.testing.assert_allclose(
        modeldata.evaluate(model, x[:8], labels[:8]),
        model.evaluate(x[:8], labels[:8], batch_size=8, verbose=0),
        rtol=1e-6,
    )  # the metrics of the first call are not carried over


def test_a_model_whose_class_defines_evaluate_is_asked_through_it():
    class Lying(keras.Sequential):
        def evaluate(self, *args, **options):
            return [0.25, 1.0]

    model = Lying([keras.Input(shape=(784,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert modeldata.evaluate(model, modelcheck.probe_inputs(13), np.zeros(32, int)) == [0.25, 1.0]


def test_fit_on_pixels_divided_in_the_worker_trains_as_on_the_divided_images():
    rng = np.random.default_rng(14)
    pixels = rng.integers(0, 256, (100, 784)).astype(np.uint8)
    y = rng.integers(0, 10, 100)
    ours, theirs = reference_like_model(), reference_like_model()
    theirs.set_weights(ours.get_weights())
    on_pixels = modeldata.fit(ours, pixels, y, epochs=1, batch_size=50, seed=4, divide_by=255.0)
    on_images = modeldata.fit(
        theirs, pixels.astype(np.float32) / 255.0, y, epochs=1, batch_size=50, seed=4
    )
    np.testing.assert_allclose(
        on_pixels["history"]["loss"], on_images["history"]["loss"], rtol=1e-6
    )
    for a, b in zip(on_pixels["weights"], on_images["weights"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
