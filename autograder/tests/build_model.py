"""Autograder checks for build_model(): 784 -> Dense(128, relu) -> Dense(10, softmax), compiled.

"Learns" means: trained for LEARN_EPOCHS epochs (batch LEARN_BATCH_SIZE, seed 0) on the fixture's
2,000 training images (normalized and flattened by the reference pipeline), the model classifies
more than LEARN_THRESHOLD of the fixture's 500 held-out images correctly. The reference reaches
about 87%; an untrained or broken model about 10%. The held-out labels stay in this process.
"""

from importlib import resources

import numpy as np
from otter.test_files import test_case

from mnist_lab.grading import checks

OK_FORMAT = False
name = "build_model"
points = 20

LEARN_EPOCHS = 2
LEARN_BATCH_SIZE = 32
LEARN_THRESHOLD = 0.70
ACCURACY_NAMES = ("accuracy", "acc", "sparsecategoricalaccuracy")


def _built_model(build_model):
    return checks.as_model(checks.call(build_model), "build_model()")


def _description(build_model) -> dict:
    description = _built_model(build_model).description
    if not description.get("is_keras_model"):
        checks.fail(f"build_model() returned a {description.get('class')}; expected a Keras model.")
    return description


def _compiled_description(build_model) -> dict:
    description = _description(build_model)
    if not description.get("compiled"):
        checks.fail(
            "build_model() returned a model that is not compiled. Hint: call "
            "model.compile(optimizer='adam', loss=..., metrics=[...]) before returning it."
        )
    return description


@test_case(points=2, hidden=False)
def test_returns_keras_model(build_model):
    """returns a Keras model"""
    _description(build_model)


@test_case(points=2, hidden=False)
def test_takes_784_values_gives_10_per_image(build_model):
    """takes 784 values and gives 10 per image"""
    model = _built_model(build_model)
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


@test_case(points=4, hidden=True)
def test_layers(build_model):
    """layers are Dense 128 relu then Dense 10 softmax on 784 inputs"""
    description = _description(build_model)
    dense = description.get("dense", [])
    found = ", ".join(f"Dense({d['units']}, {d['activation']})" for d in dense) or "none"
    problems = []
    if description.get("input_dim") not in (784, None):
        problems.append(f"the model takes {description.get('input_dim')} inputs per image")
    if len(dense) != 2:
        problems.append(f"it has {len(dense)} Dense layer(s) ({found})")
    else:
        hidden_layer, output_layer = dense
        if hidden_layer["units"] != 128:
            problems.append(f"the hidden Dense layer has {hidden_layer['units']} units")
        if hidden_layer["activation"] != "relu":
            problems.append(f"the hidden layer's activation is {hidden_layer['activation']}")
        if output_layer["units"] != 10:
            problems.append(f"the output layer has {output_layer['units']} units")
        if output_layer["activation"] != "softmax":
            hint = {
                "sigmoid": " (sigmoid scores do not add up to 1 over the digits)",
                "linear": " (no activation: the outputs are not probabilities)",
            }.get(output_layer["activation"], "")
            problems.append(f"the output layer's activation is {output_layer['activation']}{hint}")
    if description.get("other_layers"):
        problems.append("it has other layers: " + ", ".join(description["other_layers"]))
    if problems:
        checks.fail(
            "build_model() does not have the architecture the docstring asks for: "
            + "; ".join(problems)
            + f". Its Dense layers: {found}."
        )


@test_case(points=2, hidden=True)
def test_outputs_are_probabilities(build_model):
    """outputs are probabilities that add up to 1"""
    model = _built_model(build_model)
    batch = np.random.default_rng(5).uniform(0.0, 1.0, size=(8, 784)).astype(np.float32)
    output = checks.model_call(model, "model.predict on 8 images", "predict", batch)
    output = checks.as_array(output, "model.predict(8 images)").astype(np.float64)
    if output.shape != (8, 10):
        checks.fail(f"model.predict on 8 images gave shape {output.shape}; expected (8, 10).")
    if output.min() < -1e-6 or not np.allclose(output.sum(axis=1), 1.0, atol=1e-4):
        checks.fail(
            "model.predict gave outputs that are not probabilities adding up to 1 for each image "
            f"(row sums from {output.sum(axis=1).min():.3g} to {output.sum(axis=1).max():.3g}). "
            "Hint: the output layer needs activation='softmax' (not sigmoid, not none)."
        )


@test_case(points=1, hidden=True)
def test_compiled_with_adam(build_model):
    """compiled with the adam optimizer"""
    description = _compiled_description(build_model)
    if checks.modelinfo.canonical(description.get("optimizer")) != "adam":
        checks.fail(
            f"build_model() compiled the model with the {description.get('optimizer')} "
            "optimizer; the docstring asks for adam."
        )


@test_case(points=2, hidden=True)
def test_compiled_with_sparse_categorical_crossentropy(build_model):
    """compiled with sparse categorical cross-entropy"""
    description = _compiled_description(build_model)
    loss = checks.modelinfo.canonical(description.get("loss")) or ""
    if loss != "sparsecategoricalcrossentropy":
        hint = ""
        if loss == "categoricalcrossentropy":
            hint = (
                " Hint: categorical_crossentropy expects one-hot label vectors; the labels here "
                "are plain digits 0..9, which needs sparse_categorical_crossentropy."
            )
        checks.fail(
            f"build_model() compiled the model with the loss {description.get('loss')}." + hint
        )
    if description.get("loss_from_logits"):
        checks.fail(
            "build_model() uses from_logits=True, but the softmax output layer already gives "
            "probabilities: leave from_logits at its default (False)."
        )


@test_case(points=1, hidden=True)
def test_compiled_with_accuracy_metric(build_model):
    """compiled with the accuracy metric"""
    description = _compiled_description(build_model)
    names = [checks.modelinfo.canonical(m) for m in description.get("metrics", [])]
    if not any(name in ACCURACY_NAMES for name in names):
        checks.fail(
            "build_model() compiled the model without the accuracy metric "
            f"(metrics: {description.get('metrics') or 'none'}); add metrics=['accuracy']."
        )


def _fixture() -> dict:
    fixture = resources.files("mnist_lab.autograder").joinpath("fixtures", "learn.npz")
    with resources.as_file(fixture) as path, np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


@test_case(points=6, hidden=True)
def test_learns_to_recognise_digits(build_model):
    """learns to recognise digits after brief training"""
    data = _fixture()
    x_train = data["x_train"].reshape(-1, 784).astype(np.float32) / 255.0
    x_test = data["x_test"].reshape(-1, 784).astype(np.float32) / 255.0
    model = _built_model(build_model)
    checks.model_call(
        model,
        f"Training the model (model.fit on {len(x_train):,} images, {LEARN_EPOCHS} epochs)",
        "fit",
        x_train,
        data["y_train"],
        epochs=LEARN_EPOCHS,
        batch_size=LEARN_BATCH_SIZE,
        seed=0,
    )
    output = checks.model_call(model, "model.predict on held-out images", "predict", x_test)
    output = checks.as_array(output, "model.predict(held-out images)")
    if output.shape != (len(x_test), 10):
        checks.fail(f"model.predict on held-out images gave shape {output.shape}.")
    accuracy = float(np.mean(np.argmax(output, axis=1) == data["y_test"]))
    if not accuracy > LEARN_THRESHOLD:
        checks.fail(
            f"After {LEARN_EPOCHS} epochs of training on {len(x_train):,} images the model "
            f"recognised {accuracy:.0%} of {len(x_test)} held-out images; it should do better "
            f"than {LEARN_THRESHOLD:.0%}. Check the layer sizes, activations, optimizer and loss."
        )
