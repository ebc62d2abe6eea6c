"""Autograder checks for build_model(): 784 -> Dense(128, relu) -> Dense(10, softmax), compiled.

The model is judged by what it does, never by how it describes itself: the grader asks it for
raw data (outputs on chosen inputs, weights, reported loss and metric values, weights after
training steps) and decides here (``mnist_lab.grading.modelprobe``). So every correct way of
writing the model passes (string, function or layer activations; Sequential, functional or
subclassed; Input, InputLayer or none; loss, optimizer and metric as strings or objects) and a
wrong model fails however its classes, names or configuration say otherwise.

"Learns" means: trained for LEARN_EPOCHS epochs (batch LEARN_BATCH_SIZE, a seed drawn for the
run) on the fixture's 2,000 training images in the model's own process, the model classifies more
than LEARN_THRESHOLD of the fixture's 500 held-out images correctly, computed by the grader from
the trained weights. The held-out images come from MNIST's test set beyond anything students
receive, and never reach the student's process. The reference reaches about 85%; an untrained
model about 10%.
"""

from importlib import resources

import numpy as np
from otter.test_files import test_case

from mnist_lab.grading import checks, modelprobe

OK_FORMAT = False
name = "build_model"
points = 20

LEARN_EPOCHS = 2
# 50 divides the 2,000 images: a last, smaller batch would make Keras trace its training step
# a second time (0.2 s of every submission's grading). Held-out accuracy is the same as with
# 32 (the reference: 0.838-0.856 over 8 seeds, against 0.836-0.862).
LEARN_BATCH_SIZE = 50
LEARN_THRESHOLD = 0.70


@test_case(points=2, hidden=False)
def test_returns_keras_model(build_model):
    """returns a Keras model"""
    checks.first_model(build_model)


@test_case(points=2, hidden=False)
def test_takes_784_values_gives_10_per_image(build_model):
    """takes 784 values and gives 10 per image"""
    model = checks.first_model(build_model)
    batch = np.zeros((2, 784), dtype=np.float32)
    output = checks.model_call(
        model, "model.predict on a batch of 2 rows of 784 values", "predict", batch
    )
    output = checks.as_array(output, "model.predict(a (2, 784) batch)")
    if output.shape != (2, 10):
        checks.fail(
            f"model.predict on a (2, 784) batch gave shape {output.shape}; expected (2, 10): "
            "one value per digit for each image."
        )


_ACTIVATION_HINTS = {
    "sigmoid": " (sigmoid scores do not add up to 1 over the digits)",
    "linear (no activation)": " (no activation: the outputs are not probabilities)",
}


@test_case(points=4, hidden=True)
def test_layers(build_model):
    """layers are Dense 128 relu then Dense 10 softmax on 784 inputs"""
    seen = modelprobe.architecture(build_model)
    problems = modelprobe.architecture_problems(seen)
    if problems:
        found = seen.recognition.describe() if seen.recognition.recognised else "not recognised"
        if seen.recognition.recognised:
            output = seen.recognition.activations[-1]
            problems = [
                p + _ACTIVATION_HINTS.get(output, "") if "output layer" in p else p
                for p in problems
            ]
        checks.fail(
            "build_model() does not have the architecture the docstring asks for: "
            + "; ".join(problems)
            + f". What its weights and outputs show: {found}."
        )


@test_case(points=2, hidden=True)
def test_outputs_are_probabilities(build_model):
    """outputs are probabilities that add up to 1"""
    outputs = modelprobe.architecture(build_model).outputs.astype(np.float64)
    if outputs.ndim != 2 or outputs.shape[1] != 10:
        checks.fail(f"model.predict on 32 inputs gave shape {outputs.shape}; expected (32, 10).")
    sums = outputs.sum(axis=1)
    if outputs.min() < -1e-6 or not np.allclose(sums, 1.0, atol=1e-4):
        checks.fail(
            "model.predict gave outputs that are not probabilities adding up to 1 for each image "
            f"(row sums from {sums.min():.3g} to {sums.max():.3g}). "
            "Hint: the output layer needs activation='softmax' (not sigmoid, not none)."
        )


def _compile_probe(build_model):
    probe = modelprobe.compile_probe(build_model)
    if probe.error is not None:
        hint = ""
        if "compile()" in probe.error or "compile" in probe.error.lower():
            hint = (
                " The model is not compiled. Hint: call model.compile(optimizer='adam', "
                "loss=..., metrics=[...]) before returning it."
            )
        checks.fail(f"{probe.error}{hint}")
    return probe


@test_case(points=1, hidden=True)
def test_compiled_with_adam(build_model):
    """compiled with the adam optimizer"""
    probe = _compile_probe(build_model)
    if not modelprobe.trains_with_adam(probe):
        checks.fail(
            "Two training steps from known weights did not change the weights the way Adam at "
            "its default learning rate (0.001) does. Hint: compile with optimizer='adam' (or "
            "keras.optimizers.Adam() with its default settings)."
        )


@test_case(points=2, hidden=True)
def test_compiled_with_sparse_categorical_crossentropy(build_model):
    """compiled with sparse categorical cross-entropy"""
    probe = _compile_probe(build_model)
    if modelprobe.loss_is_sparse_crossentropy(probe):
        return
    if probe.labels == "one-hot":
        checks.fail(
            "The model's loss refused labels given as digits 0..9 and accepted one-hot label "
            "vectors. Hint: categorical_crossentropy expects one-hot label vectors; the labels "
            "here are plain digits 0..9, which needs sparse_categorical_crossentropy."
        )
    checks.fail(
        "The loss the model reports on a known batch is not the sparse categorical "
        "cross-entropy of its own outputs. Hint: compile with "
        "loss='sparse_categorical_crossentropy' (from_logits left at False: the softmax layer "
        "already gives probabilities)."
    )


@test_case(points=1, hidden=True)
def test_compiled_with_accuracy_metric(build_model):
    """compiled with the accuracy metric"""
    probe = _compile_probe(build_model)
    if not modelprobe.reports_accuracy(probe):
        checks.fail(
            "model.evaluate on a known batch reports no accuracy (the share of images whose "
            "highest output is the right digit); add metrics=['accuracy'] to compile."
        )


def _fixture() -> dict:
    fixture = resources.files("mnist_lab.autograder").joinpath("fixtures", "learn.npz")
    with resources.as_file(fixture) as path, np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


@test_case(points=6, hidden=True)
def test_learns_to_recognise_digits(build_model):
    """learns to recognise digits after brief training"""
    data = _fixture()
    pixels = data["x_train"].reshape(-1, 784)  # sent as uint8, divided by 255 in the worker
    x_held_out = data["x_test"].reshape(-1, 784).astype(np.float32) / 255.0
    learned = modelprobe.learning(
        build_model,
        x_train=pixels,
        y_train=data["y_train"],
        x_held_out=x_held_out,
        y_held_out=data["y_test"],
        epochs=LEARN_EPOCHS,
        batch_size=LEARN_BATCH_SIZE,
        divide_by=255.0,
    )
    if not learned.accuracy > LEARN_THRESHOLD:
        checks.fail(
            f"After {LEARN_EPOCHS} epochs of training on {len(pixels):,} images the model "
            f"recognised {learned.accuracy:.0%} of {len(x_held_out)} held-out images; it should "
            f"do better than {LEARN_THRESHOLD:.0%}. Check the layer sizes, activations, "
            "optimizer and loss."
        )
