"""The reference solution meets every clause of the five-function contract; the stubs raise."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from mnist_lab import constants
from mnist_lab.solutions import digits as reference

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ("normalize", "flatten", "build_model", "predict_digit", "confusion")


def load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def stubs():
    return load_module(REPO_ROOT / "exercises" / "digits.py", "student_stubs")


@pytest.fixture(scope="module")
def trained_like_model():
    """A real model from build_model whose output layer always favours digit 7."""
    model = reference.build_model()
    weights = model.get_weights()
    weights[-2][:] = 0.0
    weights[-1][:] = 0.0
    weights[-1][7] = 5.0
    model.set_weights(weights)
    return model


def test_student_module_defines_the_package_constants():
    for name in ("IMAGE_SIDE", "NUM_PIXELS", "NUM_CLASSES", "MAX_PIXEL_VALUE"):
        assert getattr(reference, name) == getattr(constants, name)
    assert (constants.IMAGE_SIDE, constants.NUM_PIXELS) == (28, 784)
    assert (constants.NUM_CLASSES, constants.MAX_PIXEL_VALUE) == (10, 255)


# normalize ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.float32, np.float64])
def test_normalize_returns_images_over_255_as_float(dtype):
    images = np.array([[0, 1, 128], [200, 254, 255]], dtype=dtype)
    result = reference.normalize(images)
    assert isinstance(result, np.ndarray)
    assert np.issubdtype(result.dtype, np.floating)
    assert result.shape == images.shape
    np.testing.assert_allclose(result, images.astype(np.float64) / 255.0, rtol=1e-6)
    assert result.min() == 0.0
    assert result.max() == 1.0


def test_normalize_keeps_any_shape_and_never_modifies_its_input():
    images = np.arange(2 * 28 * 28 * 1, dtype=np.float64).reshape(2, 28, 28, 1) % 256
    before = images.copy()
    result = reference.normalize(images)
    assert result.shape == images.shape
    assert result is not images
    assert not np.shares_memory(result, images)
    np.testing.assert_array_equal(images, before)


# flatten ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 28, 28), (3, 28, 28, 1)])
def test_flatten_gives_rows_in_row_major_pixel_order(shape):
    images = np.arange(np.prod(shape)).reshape(shape)
    result = reference.flatten(images)
    assert result.shape == (3, 784)
    # Row i is image i read row by row: pixel (r, c) lands at column 28 * r + c.
    square = images.reshape(3, 28, 28)
    for r, c in [(0, 0), (0, 27), (1, 0), (27, 27), (13, 5)]:
        np.testing.assert_array_equal(result[:, 28 * r + c], square[:, r, c])
    assert result.dtype == images.dtype


@pytest.mark.parametrize(
    "shape", [(28, 28), (784,), (3, 784), (3, 28, 27), (3, 28, 28, 3), (3, 1, 28, 28), (2, 3, 4)]
)
def test_flatten_rejects_other_shapes_naming_them(shape):
    with pytest.raises(ValueError, match=str(shape).replace("(", r"\(").replace(")", r"\)")):
        reference.flatten(np.zeros(shape))


# build_model --------------------------------------------------------------------------------


def test_build_model_has_the_contract_architecture_and_compilation():
    import keras

    model = reference.build_model()
    assert isinstance(model, keras.Model)
    assert tuple(model.input_shape) == (None, 784)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [128, 10]
    assert [layer.activation.__name__ for layer in dense] == ["relu", "softmax"]
    assert model.count_params() == 784 * 128 + 128 + 128 * 10 + 10 == 101_770
    assert model.optimizer is not None
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.loss == "sparse_categorical_crossentropy"
    model.fit(np.zeros((4, 784)), np.arange(4), epochs=1, verbose=0)  # compiled: fit works
    metric_names = [m.name for m in model.metrics]
    assert any("accuracy" in name for name in metric_names) or "compile_metrics" in metric_names
    probabilities = model.predict(np.random.default_rng(0).random((5, 784)), verbose=0)
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_build_model_returns_a_new_model_each_call():
    assert reference.build_model() is not reference.build_model()


# predict_digit ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(28, 28), (28, 28, 1)])
def test_predict_digit_returns_an_integer_digit(trained_like_model, shape):
    image = np.random.default_rng(1).integers(0, 256, size=shape, dtype=np.uint8)
    digit = reference.predict_digit(trained_like_model, image)
    assert isinstance(digit, int | np.integer)
    assert digit == 7


def test_predict_digit_normalizes_and_flattens_like_training():
    """A model whose answer depends on the scale and order of the pixels it receives."""
    import keras

    model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(10, "softmax")])
    kernel = np.zeros((784, 10), dtype=np.float32)
    # digit 3 wins when pixel (0, 1) arrives as 1.0 (scaled) in row-major position 1;
    # an unscaled 255 at that position drives digit 9, a column-major order drives digit 5.
    kernel[1, 3] = 2.0
    kernel[1, 9] = 3.0
    kernel[28, 5] = 2.0
    bias = np.zeros(10, dtype=np.float32)
    bias[9] = -1.5
    model.set_weights([kernel, bias])
    image = np.zeros((28, 28), dtype=np.uint8)
    image[0, 1] = 255
    assert reference.predict_digit(model, image) == 3
    # The probe really tells the mistakes apart:
    unscaled = image.reshape(1, 784).astype(np.float32)
    column_major = (image / 255.0).reshape(1, 784, order="F")
    assert int(np.argmax(model.predict(unscaled, verbose=0))) == 9
    assert int(np.argmax(model.predict(column_major, verbose=0))) == 5


@pytest.mark.parametrize("shape", [(28, 28, 3), (784,), (1, 28, 28), (27, 28)])
def test_predict_digit_rejects_other_shapes_saying_what_was_expected(trained_like_model, shape):
    with pytest.raises(ValueError, match=r"\(28, 28\)"):
        reference.predict_digit(trained_like_model, np.zeros(shape, dtype=np.uint8))


# confusion ----------------------------------------------------------------------------------


def test_confusion_rows_are_true_labels_and_columns_predictions():
    matrix = reference.confusion([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], num_classes=3)
    expected = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    np.testing.assert_array_equal(matrix, expected)
    assert np.issubdtype(matrix.dtype, np.integer)


def test_confusion_matches_tensorflow_and_keeps_absent_classes():
    import tensorflow as tf

    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 9, size=200)  # digit 9 never occurs
    y_pred = rng.integers(0, 10, size=200)
    matrix = reference.confusion(y_true, y_pred)
    assert matrix.shape == (10, 10)
    np.testing.assert_array_equal(
        matrix, tf.math.confusion_matrix(y_true, y_pred, num_classes=10).numpy()
    )
    assert matrix[9].sum() == 0
    assert matrix.sum() == 200


def test_confusion_accepts_lists_arrays_and_empty_input():
    assert reference.confusion(np.array([], dtype=int), []).shape == (10, 10)
    assert reference.confusion(np.uint8([3]), [3])[3, 3] == 1


@pytest.mark.parametrize(
    ("y_true", "y_pred", "num_classes", "pattern"),
    [
        ([0, 1, 2], [0, 1], 10, "3 labels but y_pred has 2"),
        ([0, 10], [0, 1], 10, "y_true has labels outside 0..9"),
        ([0, 1], [0, -1], 10, "y_pred has labels outside 0..9"),
        ([0, 3], [0, 1], 3, "outside 0..2"),
    ],
)
def test_confusion_rejects_bad_labels(y_true, y_pred, num_classes, pattern):
    with pytest.raises(ValueError, match=pattern):
        reference.confusion(y_true, y_pred, num_classes=num_classes)


# stubs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "args"),
    [
        ("normalize", (np.zeros((1, 28, 28)),)),
        ("flatten", (np.zeros((1, 28, 28)),)),
        ("build_model", ()),
        ("predict_digit", (None, np.zeros((28, 28)))),
        ("confusion", ([0], [0])),
    ],
)
def test_every_stub_raises_not_implemented_with_a_hint(stubs, function, args):
    with pytest.raises(NotImplementedError) as raised:
        getattr(stubs, function)(*args)
    hint = str(raised.value)
    assert hint
    assert "\n" not in hint


def test_stubs_have_the_same_signatures_and_docstrings_as_the_reference(stubs):
    import inspect

    for name in FUNCTIONS:
        stub, solution = getattr(stubs, name), getattr(reference, name)
        assert inspect.signature(stub) == inspect.signature(solution)
        assert inspect.getdoc(stub) == inspect.getdoc(solution)
        assert len(inspect.getdoc(stub)) > 200  # shapes, dtypes, ranges, errors


def test_stub_bodies_never_quietly_return():
    tree = ast.parse((REPO_ROOT / "exercises" / "digits.py").read_text())
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert sorted(functions) == sorted(FUNCTIONS)
    for name, node in functions.items():
        body = node.body[1:]  # after the docstring
        assert len(body) == 1, name
        assert isinstance(body[0], ast.Raise), name
        assert ast.unparse(body[0].exc).startswith("NotImplementedError("), name
