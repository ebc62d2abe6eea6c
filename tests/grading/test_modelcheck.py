"""The grader's verdicts on a model, from raw data only, checked against real Keras models."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from mnist_lab.grading import modelcheck, modeldata

pytestmark = pytest.mark.slow


def model(hidden, output, *, units=128, optimizer="adam", loss="sparse_categorical_crossentropy"):
    layers = [keras.Input(shape=(784,))]
    layers += hidden if isinstance(hidden, list) else [keras.layers.Dense(units, activation=hidden)]
    layers += output if isinstance(output, list) else [keras.layers.Dense(10, activation=output)]
    built = keras.Sequential(layers)
    built.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return built


def recognised(built) -> modelcheck.Recognition:
    x = modelcheck.probe_inputs(3)
    seen = modeldata.observe(built, x)
    return modelcheck.recognise(seen["weights"], x, seen["outputs"])


@pytest.mark.parametrize(
    ("hidden", "output", "expected"),
    [
        ("relu", "softmax", ["relu", "softmax"]),
        ("tanh", "softmax", ["tanh", "softmax"]),
        ("relu", "sigmoid", ["relu", "sigmoid"]),
        ("relu6", "softmax", ["relu6", "softmax"]),
        ("gelu", "softmax", ["gelu", "softmax"]),
        ("relu", None, ["relu", "linear (no activation)"]),
        ([keras.layers.Dense(128), keras.layers.LeakyReLU()], "softmax", None),
    ],
)
def test_activations_are_recognised_by_behaviour(hidden, output, expected):
    found = recognised(model(hidden, output))
    if expected is None:  # LeakyReLU's default slope in Keras 3 is 0.3
        assert found.activations == ["leaky_relu (0.3)", "softmax"]
    else:
        assert found.activations == expected


def test_the_architecture_and_what_is_wrong_with_it_in_plain_words():
    right = recognised(model("relu", "softmax"))
    assert modelcheck.architecture_problems(right, [(128, "relu"), (10, "softmax")]) == []
    wrong = recognised(model("tanh", "sigmoid", units=64))
    problems = modelcheck.architecture_problems(wrong, [(128, "relu"), (10, "softmax")])
    assert problems == [
        "the hidden Dense layer has 64 units, not 128",
        "the hidden layer behaves like tanh, not relu",
        "the output layer behaves like sigmoid, not softmax",
    ]


def test_weights_that_do_not_give_the_outputs_are_not_recognised():
    built = model("relu", "softmax")
    x = modelcheck.probe_inputs(3)
    seen = modeldata.observe(built, x)
    lying = [np.zeros_like(w) for w in seen["weights"]]
    found = modelcheck.recognise(lying, x, seen["outputs"])
    assert not found.recognised
    assert "not what its Dense layers' weights give" in found.problems[0]


def _two_steps(built, seed=5):
    rng = np.random.default_rng(seed)
    before = [rng.normal(0, 0.05, w.shape).astype("float32") for w in built.get_weights()]
    built.set_weights(before)
    batches = [
        (rng.uniform(0, 1, (32, 784)).astype("float32"), rng.integers(0, 10, 32)) for _ in range(2)
    ]
    after = []
    for x, y in batches:
        modeldata.train_on_batch(built, x, y)
        after.append(modeldata.get_weights(built))
    return before, batches, after


def test_adam_is_replayed_exactly_and_other_optimizers_are_not_adam():
    before, batches, after = _two_steps(model("relu", "softmax"))
    layers, _ = modelcheck.dense_chain(before)
    expected = modelcheck.adam_steps(layers, batches)
    assert all(modelcheck.same_weights(layers, e, a) for e, a in zip(expected, after, strict=True))
    assert modelcheck.looks_like_adam_first_step(before, after[0])
    for optimizer in (
        "adamax",
        keras.optimizers.Adam(0.01),
        keras.optimizers.Adam(beta_1=0.8),
    ):
        other_before, other_batches, other_after = _two_steps(
            model("relu", "softmax", optimizer=optimizer)
        )
        layers, _ = modelcheck.dense_chain(other_before)
        expected = modelcheck.adam_steps(layers, other_batches)
        assert not all(
            modelcheck.same_weights(layers, e, a)
            for e, a in zip(expected, other_after, strict=True)
        )
    for optimizer in ("sgd", "rmsprop", "nadam", keras.optimizers.Adam(0.0)):
        other_before, _, other_after = _two_steps(model("relu", "softmax", optimizer=optimizer))
        assert not modelcheck.looks_like_adam_first_step(other_before, other_after[0]), optimizer


def test_the_loss_a_model_reports_is_recognised_as_sparse_crossentropy_or_not():
    x = np.random.default_rng(0).uniform(0, 1, (16, 784)).astype("float32")
    y = np.arange(16) % 10
    for output, loss, is_sparse in (
        ("softmax", "sparse_categorical_crossentropy", True),
        ("sigmoid", "sparse_categorical_crossentropy", True),
        ("softmax", "mse", False),
    ):
        built = model("relu", output, loss=loss)
        outputs = modeldata.predict(built, x)
        found = recognised(built)
        logits = (
            modelcheck.forward(found.layers[:1], found.activations[:1], x) @ found.layers[1].kernel
            + found.layers[1].bias
        )
        targets = y if is_sparse else np.eye(10, dtype="float32")[y]  # mse needs one-hot labels
        reported = modeldata.evaluate(built, x, targets)[0]
        candidates = modelcheck.sparse_crossentropy_values(outputs, y, logits)
        assert any(modelcheck.close(reported, c) for c in candidates) is is_sparse, (output, loss)
        accuracy = modeldata.evaluate(built, x, targets)[1]
        assert modelcheck.accuracy(outputs, y) == pytest.approx(accuracy)


def test_a_replay_allows_one_hidden_unit_that_flipped_and_no_more_than_that():
    """Float32 against float64: a unit whose pre-activation sits within rounding of 0 for one
    sample moves its whole fan-in differently (a correct model lost its points once)."""
    before, batches, _ = _two_steps(model("relu", "softmax"))
    layers, _ = modelcheck.dense_chain(before)
    expected = modelcheck.adam_steps(layers, batches)[0]
    flipped = [np.array(w, dtype=np.float64) for w in expected]
    flipped[0][:, 7] += 2 * modelcheck.ADAM_RATE * 0.9  # one unit's 784 weights ...
    flipped[1][7] += 2 * modelcheck.ADAM_RATE * 0.9  # ... and its bias
    assert modelcheck.same_weights(layers, expected, flipped)
    many = [np.array(w, dtype=np.float64) for w in expected]
    many[0][:, :4] += modelcheck.ADAM_RATE  # four units: 3 % of the parameters
    assert not modelcheck.same_weights(layers, expected, many)


def _near_tie_weights(seed=11):
    """Weights giving logits in the thousands on the large probe inputs, whose first two outputs
    nearly tie and are mostly the largest: there, float32 rounding moves the softmax far past
    any fixed tolerance (a correct model lost its points once)."""
    rng = np.random.default_rng(seed)
    kernel = rng.normal(0.0, 0.05, (784, 128))
    output = rng.normal(0.0, 100.0, (128, 10))
    output[:, 0] = np.abs(output[:, 0])
    output[:, 1] = output[:, 0] * (1 + 1e-7 * rng.normal(size=128))
    return [w.astype("float32") for w in (kernel, np.zeros(128), output, np.zeros(10))]


def observed_with_near_ties(hidden: str) -> tuple[dict, np.ndarray]:
    built = model(hidden, "softmax")
    built.set_weights(_near_tie_weights())
    x = modelcheck.probe_inputs(3)
    return modeldata.observe(built, x), x


def test_float32_rounding_near_a_tie_is_allowed():
    seen, x = observed_with_near_ties("relu")
    layers, _ = modelcheck.dense_chain(seen["weights"])
    exact = modelcheck.forward(layers, ["relu", "softmax"], x)
    assert np.abs(exact - seen["outputs"]).max() > 1e-4  # the rounding this test is about
    found = modelcheck.recognise(seen["weights"], x, seen["outputs"])
    assert found.activations == ["relu", "softmax"]


def test_the_rounding_allowance_lets_no_other_activation_or_output_through():
    seen, x = observed_with_near_ties("tanh")  # relu and linear come first in preference
    found = modelcheck.recognise(seen["weights"], x, seen["outputs"])
    assert found.activations == ["tanh", "softmax"]
    seen, x = observed_with_near_ties("relu")
    layers, _ = modelcheck.dense_chain(seen["weights"])
    for row, column in ((0, 2), (20, 3), (31, 4)):  # a small, a mid-sized and a large input
        moved = np.array(seen["outputs"], np.float64)
        moved[row, column] += 1e-3
        assert not modelcheck.outputs_match(layers, ["relu", "softmax"], x, moved), (row, column)
