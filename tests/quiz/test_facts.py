"""The facts the quiz states, checked by running them: what Keras and NumPy really do with a
28 × 28 × 3 image, uint8 arithmetic, softmax in float32, the untrained loss; and the numbers a
stem quotes from a figure's data (a drift check between questions.yaml and figures.py)."""

from __future__ import annotations

import math
import re
import sys

import numpy as np
import pytest

from mnist_lab.quiz.bank import load_bank
from mnist_lab.quiz.figures import (
    OVERFITTING_TEST_ACCURACY,
    OVERFITTING_TRAIN_ACCURACY_LAST,
    OVERFITTING_TRAIN_LOSS,
    OVERFITTING_VALIDATION_ACCURACY,
    OVERFITTING_VALIDATION_LOSS,
)


@pytest.fixture(scope="module")
def bank():
    return load_bank()


def quoted(text: str) -> list[str]:
    """The error messages a reference answer quotes, in brackets and quotation marks."""
    return re.findall(r'\("([^"]+)"\)', text)


def test_the_overfitting_stem_quotes_the_figure_data(bank) -> None:
    stem = bank.question("mnist-overfitting-gap").stem
    best = OVERFITTING_VALIDATION_LOSS.index(min(OVERFITTING_VALIDATION_LOSS)) + 1
    assert f"training accuracy is {OVERFITTING_TRAIN_ACCURACY_LAST:.1%}".replace("%", " %") in stem
    validation = OVERFITTING_VALIDATION_ACCURACY[-1]
    assert f"validation accuracy {validation:.1%}".replace("%", " %") in stem
    assert f"test accuracy {OVERFITTING_TEST_ACCURACY:.1%}".replace("%", " %") in stem
    assert f"over {len(OVERFITTING_TRAIN_LOSS)} epochs" in stem
    right = next(o for o in bank.question("mnist-overfitting-gap").options if o.correct)
    assert f"from about epoch {best}:" in right.text
    reference = bank.question("mnist-overfitting-gap").reference_answer
    assert f"after about epoch {best}" in reference
    assert f"by validation loss it is epoch {best}" in reference
    assert OVERFITTING_TRAIN_LOSS[-1] < OVERFITTING_TRAIN_LOSS[best - 1]  # still falling
    epoch_average = bank.question("mnist-epoch-average").stem
    assert "92.2 %" in epoch_average  # the same run's first epoch
    assert f"{OVERFITTING_VALIDATION_ACCURACY[0]:.1%}".replace("%", " %") in epoch_average


def test_the_uint8_facts(bank) -> None:
    images = np.array([[0, 200, 255]], dtype=np.uint8)
    assert (images / 255).dtype == np.float64
    assert images.tolist() == [[0, 200, 255]]
    with pytest.raises(
        TypeError,
        match=r"Cannot cast ufunc 'divide' output from dtype\('float64'\) to dtype\('uint8'\)",
    ):
        images /= 255
    assert (images + 1).tolist() == [[1, 201, 0]]
    full = np.zeros((60_000, 28, 28), dtype=np.uint8)
    assert (full.nbytes, full.astype("float32").nbytes) == (47_040_000, 188_160_000)
    feedback = next(
        o.feedback for o in bank.question("mnist-uint8-pitfalls").options if o.id == "in-place"
    )
    assert "Cannot cast ufunc 'divide' output from dtype('float64') to dtype('uint8')" in feedback


@pytest.mark.slow  # imports Keras
def test_what_keras_does_with_a_colour_image_in_each_code_path(bank) -> None:
    keras = pytest.importorskip("keras")
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[2] / "solutions"))
    try:
        import digits
    finally:
        sys.path.pop(0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    image = np.random.default_rng(0).integers(0, 256, size=(28, 28, 3), dtype=np.uint8)
    reference = bank.question("mnist-wrong-dimensions").reference_answer
    calls = (
        lambda: digits.predict_digit(model, image),
        lambda: image.reshape(1, 784),
        lambda: model.predict(image[None] / 255, verbose=0),
        lambda: model.predict(image.reshape(1, -1) / 255, verbose=0),
    )
    assert len(quoted(reference)) == len(calls)
    for quote, call in zip(quoted(reference), calls, strict=True):
        with pytest.raises(ValueError, match=re.escape(quote)):
            call()
    silent = model.predict(image.reshape(-1, 784) / 255, verbose=0)  # the trap: no error
    assert silent.shape == (3, 10)
    assert 0 <= int(np.argmax(silent)) <= 29
    assert "(3, 10)" in reference
    with pytest.raises(ValueError, match=r"Cannot convert '784' to a shape"):
        keras.Input(784)  # why the quiz writes keras.Input(shape=(784,))
    assert keras.layers.Dense(3).activation.__name__ == "linear"  # "no activation unless..."
    grey = keras.ops.convert_to_numpy(keras.ops.image.rgb_to_grayscale(image))
    assert model.predict(grey.reshape(1, 784) / 255, verbose=0).shape == (1, 10)


@pytest.mark.slow  # imports Keras
def test_softmax_and_the_untrained_loss(bank) -> None:
    keras = pytest.importorskip("keras")
    confident = keras.activations.softmax(np.array([[100.0, 0.0, 0.0]], dtype="float32"))
    assert keras.ops.convert_to_numpy(confident).tolist() == [[1.0, 0.0, 0.0]]
    assert "exactly 1.0 or 0.0" in bank.question("mnist-softmax").options[0].feedback
    assert math.isclose(-math.log(1 / 10), bank.question("mnist-initial-loss").answer, abs_tol=1e-4)
    from mnist_lab.data import load_sample

    (_, _), (x_test, y_test) = load_sample()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="sparse_categorical_crossentropy")
    images = x_test.reshape(-1, 784)
    normalized = model.evaluate(images / 255, y_test, verbose=0)
    raw = model.evaluate(images.astype("float32"), y_test, verbose=0)
    assert abs(normalized - math.log(10)) < 0.2  # "near ln 10"
    assert raw > 100  # "above 100"
