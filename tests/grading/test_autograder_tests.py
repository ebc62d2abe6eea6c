"""The autograder test files themselves: otter's format, points and the grading guide, the
fixture, and the probes behind the predict_digit cases."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from mnist_lab.assignment import cases_of_source, load_assignment
from mnist_lab.data import load_sample
from mnist_lab.grading import checks
from mnist_lab.grading.fixture import write_learning_fixture
from mnist_lab.grading.testfiles import autograder_sources

FUNCTIONS = ("normalize", "flatten", "build_model", "predict_digit", "confusion")


def file_namespace(name: str) -> dict:
    namespace: dict = {}
    exec(compile(autograder_sources()[name], f"{name}.py", "exec"), namespace)
    return namespace


def test_one_otter_test_file_per_function_with_consistent_points():
    assert load_assignment().names == FUNCTIONS
    folder = resources.files("mnist_lab.autograder").joinpath("tests")
    assert sorted(p.name for p in folder.iterdir() if p.name.endswith(".py")) == sorted(
        f"{name}.py" for name in FUNCTIONS
    )
    names = set()
    for file_name, source in autograder_sources().items():
        namespace = file_namespace(file_name)
        assert namespace["OK_FORMAT"] is False
        name, cases = cases_of_source(source, f"{file_name}.py")
        assert name == file_name
        names.add(name)
        assert cases, file_name
        titles = [case.title for case in cases]
        assert len(set(titles)) == len(titles)
        assert all(case.test.test_func.__doc__ for case in cases)
        assert all(case.points and case.points > 0 for case in cases)
        assert namespace["points"] == sum(case.points for case in cases)
        assert any(not case.hidden for case in cases)
        assert any(case.hidden for case in cases)
        # Each case receives exactly the function it grades (no double penalty through params).
        assert {tuple(case.params) for case in cases} == {(file_name,)}
    assert names == set(FUNCTIONS)


def test_grading_guide_table_matches_the_test_files():
    guide = resources.files("mnist_lab.autograder").joinpath("README.md").read_text("utf-8")
    table = re.findall(r"^\| `(\w+)` \| (.+?) \| (\d+) \| (public|hidden) \|$", guide, re.M)
    documented = {(f, title, float(points), kind == "hidden") for f, title, points, kind in table}
    actual = set()
    for file_name, source in autograder_sources().items():
        name, cases = cases_of_source(source, f"{file_name}.py")
        actual |= {(name, c.title, c.points, c.hidden) for c in cases}
    assert documented == actual
    total = sum(points for _, _, points, _ in actual)
    public = sum(points for _, _, points, hidden in actual if not hidden)
    assert f"({total:g} in all; {public:g} public)" in guide


@pytest.mark.full_data
def test_learning_fixture_is_made_reproducibly_and_holds_out_what_students_never_get(
    tmp_path, full_mnist
):
    rebuilt = write_learning_fixture(out_path=tmp_path / "learn.npz", mnist_path=full_mnist)
    shipped = resources.files("mnist_lab.autograder").joinpath("fixtures", "learn.npz")
    with resources.as_file(shipped) as path, np.load(path) as old, np.load(rebuilt) as new:
        assert sorted(old.files) == ["x_test", "x_train", "y_test", "y_train"]
        for key in old.files:
            assert np.array_equal(old[key], new[key]), key
            assert old[key].dtype == np.uint8
        assert old["x_train"].shape == (2000, 28, 28)
        assert old["x_test"].shape == (500, 28, 28)
        held_out = old["x_test"]
    (sample_train, _), (sample_test, _) = load_sample()
    given = {image.tobytes() for image in np.concatenate([sample_train, sample_test])}
    assert not any(image.tobytes() in given for image in held_out)


def pipelines(image: np.ndarray) -> dict[str, np.ndarray]:
    """What reaches the model for a correct predict_digit and for each pipeline mistake."""
    raw = image.reshape(1, 28, 28).astype(np.float64)
    return {
        "correct": (raw / 255).reshape(1, 784),
        "unscaled": raw.reshape(1, 784),
        "by 256": (raw / 256).reshape(1, 784),
        "scaled twice": (raw / 255 / 255).reshape(1, 784),
        "column-major": (raw / 255).reshape(1, 784, order="F"),
        "transposed": (raw / 255).transpose(0, 2, 1).reshape(1, 784),
    }


def answers(spec, image) -> dict[str, int]:
    return {
        name: int(np.argmax(checks.spec_forward(spec, x))) for name, x in pipelines(image).items()
    }


def test_scale_probe_gives_a_different_digit_for_each_scaling_mistake_only():
    spec, image = file_namespace("predict_digit")["_scale_probe"]()
    assert answers(spec, image) == {
        "correct": 3,
        "unscaled": 8,
        "by 256": 5,
        "scaled twice": 5,
        "column-major": 3,  # the pixel order is graded by the order probe only
        "transposed": 3,
    }


def test_order_probe_gives_a_different_digit_for_column_major_pixels_only():
    spec, image = file_namespace("predict_digit")["_order_probe"]()
    got = answers(spec, image)
    assert got == {
        "correct": 6,
        "unscaled": 6,
        "by 256": 6,
        "scaled twice": 6,
        "column-major": 9,
        "transposed": 9,
    }


def test_argmax_probe_answers_do_not_depend_on_scale_or_pixel_order():
    spec, chosen = file_namespace("predict_digit")["_argmax_probe"]()
    assert len(chosen) == 6
    assert len({digit for _, digit in chosen}) == 6
    for image, digit in chosen:
        assert set(answers(spec, image).values()) == {digit}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_test_files_import_only_numpy_otter_and_checks(name):
    source = autograder_sources()[name]
    imports = set(re.findall(r"^(?:from (\S+) import|import (\S+))", source, re.M))
    modules = {a or b for a, b in imports}
    assert modules <= {"numpy", "otter.test_files", "mnist_lab.grading", "importlib"}


def test_build_model_threshold_is_stated_and_has_a_margin():
    namespace = file_namespace("build_model")
    assert namespace["LEARN_THRESHOLD"] == 0.70
    guide = Path(str(resources.files("mnist_lab.autograder").joinpath("README.md"))).read_text()
    assert "MORE THAN 70%" in guide
