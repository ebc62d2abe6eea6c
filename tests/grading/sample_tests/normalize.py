import numpy as np
from otter.test_files import test_case

OK_FORMAT = False
name = "normalize"
points = 3


@test_case(points=1, hidden=False)
def test_shape(normalize):
    """returns an array of the same shape"""
    images = np.arange(12, dtype=np.uint8).reshape(3, 4)
    result = normalize(images)
    assert isinstance(result, np.ndarray), f"normalize returned {type(result).__name__}"
    assert result.shape == images.shape, f"normalize returned shape {result.shape}"


@test_case(points=2, hidden=True)
def test_values(normalize):
    """values are x / 255"""
    images = np.array([[0, 51, 255]], dtype=np.uint8)
    result = normalize(images)
    assert isinstance(result, np.ndarray), "normalize did not return an array"
    assert result.dtype.kind == "f", "normalize did not return floats"
    assert np.allclose(result, images / 255.0), "normalize returned wrong values"
