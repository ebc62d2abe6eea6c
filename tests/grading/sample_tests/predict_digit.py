import numpy as np
from otter.test_files import test_case

OK_FORMAT = False
name = "predict_digit"
points = 2


@test_case(points=1, hidden=False)
def test_returns_digit(predict_digit, build_model):
    """returns an integer 0..9"""
    model = build_model()
    result = predict_digit(model, np.zeros((28, 28), dtype=np.uint8))
    assert isinstance(result, (int, np.integer)), f"got {result!r}"
    assert 0 <= int(result) <= 9, f"got {result!r}"


@test_case(points=1, hidden=True)
def test_bad_shape(predict_digit, build_model):
    """rejects a colour image"""
    from mnist_lab.grading.protocol import StudentError

    model = build_model()
    try:
        predict_digit(model, np.zeros((28, 28, 3), dtype=np.uint8))
    except StudentError as error:
        if error.type_name != "ValueError":
            raise AssertionError(f"raised {error.type_name}") from None
    else:
        raise AssertionError("predict_digit accepted a colour image")
