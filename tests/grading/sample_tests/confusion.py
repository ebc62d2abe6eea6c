import numpy as np
from otter.test_files import test_case

OK_FORMAT = False
name = "confusion"
points = 2


@test_case(points=1, hidden=False)
def test_shape(confusion):
    """returns a (10, 10) matrix"""
    result = confusion([0, 1], [1, 1])
    assert isinstance(result, np.ndarray), "not an array"
    assert result.shape == (10, 10), "wrong shape"


@test_case(points=1, hidden=True)
def test_orientation(confusion):
    """rows are true labels"""
    result = confusion([0, 0, 2], [1, 1, 2])
    assert isinstance(result, np.ndarray), "not an array"
    assert result[0, 1] == 2, "wrong counts"
    assert result[2, 2] == 1, "wrong counts"
    assert result.sum() == 3, "wrong counts"
