"""Fixtures for the notebook tests: the public checks the notebook runs, and digits.py variants."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

# Stand-in public checks, used only until mnist_lab.grading.package.write_public_tests exists:
# one small public case per function, in otter's exception-based format.
STAND_IN_TESTS = {
    "normalize": '''
@test_case(points=1)
def values(normalize):
    """values are x / 255"""
    out = normalize(np.array([0, 51, 255], dtype=np.uint8))
    assert np.allclose(out, [0.0, 0.2, 1.0]), (
        f"normalize([0, 51, 255]) returned {out!r}, expected [0.0, 0.2, 1.0]"
    )
''',
    "flatten": '''
@test_case(points=1)
def shape(flatten):
    """(n, 28, 28) becomes (n, 784)"""
    out = np.asarray(flatten(np.arange(2 * 28 * 28).reshape(2, 28, 28)))
    assert out.shape == (2, 784), f"flatten of shape (2, 28, 28) gave {out.shape}, not (2, 784)"
''',
    "build_model": '''
@test_case(points=1)
def parameters(build_model):
    """the model has 101,770 parameters"""
    count = build_model().count_params()
    assert count == 101_770, f"build_model() has {count} parameters, expected 101770"
''',
    "confusion": '''
@test_case(points=1)
def counts(confusion):
    """rows are true labels, columns predictions"""
    out = confusion([0, 1, 1], [0, 0, 1], num_classes=2)
    assert np.array_equal(out, [[1, 0], [1, 1]]), f"confusion gave {out!r}"
''',
    "predict_digit": '''
@test_case(points=1)
def colour_image(predict_digit):
    """a 28 x 28 x 3 image raises ValueError"""
    try:
        predict_digit(None, np.zeros((28, 28, 3)))
    except ValueError:
        return
    raise AssertionError("predict_digit(model, zeros((28, 28, 3))) did not raise ValueError")
''',
}


def write_stand_in_tests(out_dir: Path) -> None:
    out_dir.mkdir(parents=True)
    for name, body in STAND_IN_TESTS.items():
        header = (
            f'OK_FORMAT = False\nname = "{name}"\npoints = 1\n\n'
            "import numpy as np\nfrom otter.test_files import test_case\n\n"
        )
        (out_dir / f"{name}.py").write_text(header + body.lstrip(), "utf-8")


@pytest.fixture(scope="session")
def public_tests_dir(tmp_path_factory) -> Path:
    """The student's tests/ folder: the real public checks once the tests helper ships them."""
    out_dir = tmp_path_factory.mktemp("public") / "tests"
    try:
        from mnist_lab.grading.package import write_public_tests
    except ImportError:
        write_stand_in_tests(out_dir)
    else:
        write_public_tests(out_dir=out_dir)
    return out_dir


def solution_text() -> str:
    return resources.files("mnist_lab.solutions").joinpath("digits.py").read_text("utf-8")


def stubs_text() -> str:
    return resources.files("mnist_lab.exercises").joinpath("digits.py").read_text("utf-8")


@pytest.fixture
def digits_folder(tmp_path: Path):
    """Write a digits.py into a fresh folder and return the folder."""

    def write(text: str) -> Path:
        folder = tmp_path / "digits"
        folder.mkdir()
        (folder / "digits.py").write_text(text, "utf-8")
        return folder

    return write
