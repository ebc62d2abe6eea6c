import numpy as np
from otter.test_files import test_case

OK_FORMAT = False
name = "flatten"
points = 2


@test_case(points=1, hidden=False)
def test_shape(flatten):
    """returns (n, 784)"""
    result = flatten(np.zeros((2, 28, 28), dtype=np.uint8))
    assert isinstance(result, np.ndarray), "not an array"
    assert result.shape == (2, 784), "wrong shape"


@test_case(points=1, hidden=True)
def test_order(flatten):
    """reads pixels row by row"""
    images = np.arange(784).reshape(1, 28, 28)
    result = flatten(images)
    assert isinstance(result, np.ndarray), "flatten did not return an array"
    assert np.array_equal(result, images.reshape(1, 784)), "wrong order"
