"""Autograder checks for predict_digit(model, image): the digit a model sees in one raw image.

The models passed in are probes (``ModelSpec``s, built as real Keras models): their answer tells
how the image reached the model. While these cases run, ``normalize`` and ``flatten`` are the
reference ones, so a bug in those functions costs points only in their own cases.
"""

import numpy as np
from otter.test_files import test_case

from mnist_lab.grading import checks

OK_FORMAT = False
name = "predict_digit"
points = 20

_SIDE = 28


def _single_layer_spec(weights: np.ndarray, bias: np.ndarray) -> checks.ModelSpec:
    layer = {"units": 10, "activation": "softmax", "weights": weights, "bias": bias}
    return checks.ModelSpec(layers=[layer], input_dim=_SIDE * _SIDE)


def _scale_probe():
    """A model whose answer depends on the scale of the bright pixels it receives.

    The image lights two mirror-image pixels (so the pixel order does not matter here) at 255.
    Pixels in 0..1 (x / 255) give 3, unscaled pixels (0..255) give 8, pixels scaled by 256 (or
    scaled twice) give 5.
    """
    first, second = 5 * _SIDE + 20, 20 * _SIDE + 5
    weights = np.zeros((_SIDE * _SIDE, 10))
    bias = np.full(10, -50.0)
    for pixel in (first, second):
        weights[pixel, 3] = 500.0  # each lit pixel at 1.0 adds 500: 1000 in all
        weights[pixel, 8] = 1500.0
    bias[3], bias[8], bias[5] = -998.0, -3003.0, 0.0
    image = np.zeros((_SIDE, _SIDE), dtype=np.uint8)
    image[5, 20] = image[20, 5] = 255
    return _single_layer_spec(weights, bias), image


def _order_probe():
    """A model whose answer depends only on where a lit pixel lands (no bias: any scale works).

    Row 3, column 17 read row by row gives 6; read column by column (or transposed) gives 9.
    """
    weights = np.zeros((_SIDE * _SIDE, 10))
    weights[3 * _SIDE + 17, 6] = 1.0
    weights[17 * _SIDE + 3, 9] = 1.0
    image = np.zeros((_SIDE, _SIDE), dtype=np.uint8)
    image[3, 17] = 200
    return _single_layer_spec(weights, np.zeros(10)), image


def _argmax_probe():
    """A random bias-free relu network and mirror-symmetric images with clear winners.

    Bias-free relu layers make the answer independent of the pixel scale and symmetric images
    make it independent of the pixel order, so this case grades only picking the digit.
    """
    spec = checks.random_spec(11, hidden=32, bias=False)
    rng = np.random.default_rng(12)
    chosen, digits = [], set()
    for _ in range(400):
        image = np.zeros((_SIDE, _SIDE))
        rows, cols = rng.integers(0, _SIDE, size=(2, 6))
        image[rows, cols] = rng.integers(100, 256, size=6)
        image = np.maximum(image, image.T).astype(np.uint8)
        scores = np.sort(checks.spec_forward(spec, image.reshape(1, -1) / 255.0)[0])
        digit = int(np.argmax(checks.spec_forward(spec, image.reshape(1, -1))[0]))
        if scores[-1] - scores[-2] > 0.002 and digit not in digits:
            chosen.append((image, digit))
            digits.add(digit)
        if len(chosen) == 6:
            return spec, chosen
    raise RuntimeError("grader error: the argmax probe found too few images")


def _digit(predict_digit, spec, image) -> tuple[object, str]:
    text = checks.call_text("predict_digit", spec, image)
    result = checks.call(predict_digit, spec, image)
    if not checks.is_int_like(result):
        shape = getattr(np.asarray(result) if not checks.is_model(result) else None, "shape", None)
        hint = ""
        if isinstance(result, (float, np.floating)):
            hint = " Hint: that looks like a probability; return the digit, np.argmax(...)."
        elif shape in ((10,), (1, 10)):
            hint = (
                " Hint: this looks like all 10 probabilities (or np.argmax over axis 0 of the "
                "(1, 10) batch); take np.argmax of the single image's 10 probabilities."
            )
        elif shape == (1,):
            hint = " Hint: this is a batch of one answer; return the number itself (int(...))."
        checks.fail(
            f"{text} returned {checks.describe(result)}; expected one whole number 0..9." + hint
        )
    return int(result), text


@test_case(points=3, hidden=False)
def test_returns_one_whole_number(predict_digit):
    """returns one whole number from 0 to 9"""
    image = np.random.default_rng(1).integers(0, 256, size=(28, 28), dtype=np.uint8)
    digit, text = _digit(predict_digit, checks.random_spec(1), image)
    if not 0 <= digit <= 9:
        checks.fail(f"{text} returned {digit}; a digit is a whole number from 0 to 9.")


@test_case(points=2, hidden=False)
def test_colour_image_raises_value_error(predict_digit):
    """a colour image (28, 28, 3) raises ValueError"""
    spec = checks.random_spec(2)
    checks.call(predict_digit, spec, np.zeros((28, 28), dtype=np.uint8))  # valid: no error
    image = np.zeros((28, 28, 3), dtype=np.uint8)
    checks.expect_raises(
        ValueError,
        predict_digit,
        spec,
        image,
        why="one grey image has shape (28, 28) or (28, 28, 1)",
    )


@test_case(points=5, hidden=True)
def test_returns_digit_with_highest_probability(predict_digit):
    """returns the digit with the highest probability"""
    spec, chosen = _argmax_probe()
    for index, (image, expected) in enumerate(chosen):
        if index == 1:
            image = image.reshape(_SIDE, _SIDE, 1)  # a single grey channel is allowed
        elif index == 2:
            image = image.astype(np.float64)  # raw grey levels may come as floats
        digit, text = _digit(predict_digit, spec, image)
        if digit != expected:
            checks.fail(
                f"{text} returned {digit}, which is not the digit the model gives the highest "
                "probability. Hint: take np.argmax over the 10 probabilities of the one image "
                "(axis=-1 of the model's (1, 10) output)."
            )


@test_case(points=4, hidden=True)
def test_normalizes_the_image_first(predict_digit):
    """normalizes the image (x / 255) before predicting"""
    spec, image = _scale_probe()
    digit, text = _digit(predict_digit, spec, image)
    if digit == 3:
        return
    hints = {
        8: "the model received pixels from 0 to 255: call normalize(...) before predicting.",
        5: "the model received pixels scaled by more than 1/255 (divided by 256, or twice).",
    }
    checks.fail(
        f"{text} returned {digit}: this probe model answers differently when the pixels are not "
        "scaled to 0..1 as in training. Hint: "
        + hints.get(digit, "normalize the image with normalize(...) exactly once.")
    )


@test_case(points=3, hidden=True)
def test_flattens_row_by_row(predict_digit):
    """flattens the image row by row"""
    spec, image = _order_probe()
    digit, text = _digit(predict_digit, spec, image)
    if digit == 6:
        return
    hint = (
        "the pixels reached the model column by column (order='F' or a transposed image): use "
        "flatten(...) on a batch of one image, image.reshape(1, 28, 28)."
        if digit == 9
        else "flatten the image into one row of 784 values with flatten(...)."
    )
    checks.fail(
        f"{text} returned {digit}: this probe model answers differently when the pixels arrive "
        f"in another order than training's row-by-row order. Hint: {hint}"
    )


@test_case(points=3, hidden=True)
def test_rejects_every_other_shape(predict_digit):
    """rejects every other shape with ValueError"""
    spec = checks.random_spec(3)
    checks.call(predict_digit, spec, np.zeros((28, 28, 1), dtype=np.uint8))  # valid: no error
    for shape in ((28, 28, 3), (1, 28, 28), (784,), (28, 27), (2, 28, 28)):
        checks.expect_raises(
            ValueError,
            predict_digit,
            spec,
            np.zeros(shape, dtype=np.uint8),
            why="one grey image has shape (28, 28) or (28, 28, 1)",
        )
