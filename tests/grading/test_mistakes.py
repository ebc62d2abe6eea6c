"""Proof that the autograder grades fairly: the reference gets full marks, the stubs zero, each
common mistake loses exactly its own function's affected cases, and correct but unusual
submissions get full marks — run in otter's way (real functions in this process) and through
the harness (``grade_submission``: student code in a worker process)."""

from __future__ import annotations

import ast
import importlib.util
import itertools
from pathlib import Path

import pytest

from mnist_lab.assignment import cases_of_source
from mnist_lab.grading import grade as grading
from mnist_lab.grading.testfiles import autograder_sources

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
REFERENCE = REPO / "solutions" / "digits.py"
STUBS = REPO / "exercises" / "digits.py"
FUNCTIONS = ("normalize", "flatten", "build_model", "predict_digit", "confusion")


def _load_mistake_patches():
    """``mistake_patches.py`` next to this file (pytest's importlib mode adds no sys.path)."""
    spec = importlib.util.spec_from_file_location(
        "mnist_lab_tests_mistake_patches", HERE / "mistake_patches.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mistake_patches = _load_mistake_patches()

# Each mistake (made from REFERENCE by mistake_patches.py) fails exactly these cases (all of one
# function); everything else passes.
MISTAKES: dict[str, set[str]] = {
    "normalize_int_division": {
        "normalize: scales the grey levels of a small example to 0..1",
        "normalize: returns a float array of the same shape",
        "normalize: values are x / 255",
        "normalize: works for float input of any shape",
    },
    "normalize_no_scaling": {
        "normalize: scales the grey levels of a small example to 0..1",
        "normalize: values are x / 255",
        "normalize: works for float input of any shape",
    },
    "normalize_divides_by_256": {
        "normalize: scales the grey levels of a small example to 0..1",
        "normalize: values are x / 255",
        "normalize: works for float input of any shape",
    },
    "normalize_in_place": {"normalize: leaves its input unchanged"},
    "flatten_column_major": {
        "flatten: reads the pixels of a small example row by row",
        "flatten: pixels are read row by row",
    },
    "flatten_no_shape_check": {
        "flatten: a wrong shape raises ValueError naming the shape",
        "flatten: rejects every other shape with ValueError naming it",
    },
    "build_model_sigmoid_output": {
        "build_model: layers are Dense 128 relu then Dense 10 softmax on 784 inputs",
        "build_model: outputs are probabilities that add up to 1",
    },
    "build_model_not_compiled": {
        "build_model: compiled with the adam optimizer",
        "build_model: compiled with sparse categorical cross-entropy",
        "build_model: compiled with the accuracy metric",
        "build_model: learns to recognise digits after brief training",
    },
    "build_model_categorical_crossentropy": {
        "build_model: compiled with sparse categorical cross-entropy",
        "build_model: learns to recognise digits after brief training",
    },
    "build_model_hidden_64": {
        "build_model: layers are Dense 128 relu then Dense 10 softmax on 784 inputs",
    },
    "predict_digit_argmax_axis0": {
        "predict_digit: returns one whole number from 0 to 9",
        "predict_digit: returns the digit with the highest probability",
        "predict_digit: normalizes the image (x / 255) before predicting",
        "predict_digit: flattens the image row by row",
    },
    "predict_digit_returns_probabilities": {
        "predict_digit: returns one whole number from 0 to 9",
        "predict_digit: returns the digit with the highest probability",
        "predict_digit: normalizes the image (x / 255) before predicting",
        "predict_digit: flattens the image row by row",
    },
    "predict_digit_no_normalize": {
        "predict_digit: normalizes the image (x / 255) before predicting",
    },
    "predict_digit_column_major": {"predict_digit: flattens the image row by row"},
    "predict_digit_no_shape_check": {"predict_digit: rejects every other shape with ValueError"},
    "confusion_transposed": {
        "confusion: counts a small example with true labels as rows",
        "confusion: counts each (true, predicted) pair",
        "confusion: rows are true labels, columns are predictions",
        "confusion: a digit that never occurs gets a row and a column of zeros",
        "confusion: uses num_classes for the size",
        "confusion: accepts plain lists as well as arrays",
    },
    "confusion_float_counts": {"confusion: returns a (10, 10) array of whole-number counts"},
    "confusion_no_range_check": {
        "confusion: labels outside 0..num_classes-1 (even negative) raise ValueError",
    },
}
# What feedback must say for the mistake (a targeted hint, in plain words).
HINTS = {
    "normalize_int_division": "integer division",
    "normalize_no_scaling": "not scaled",
    "normalize_divides_by_256": "256",
    "normalize_in_place": "in-place",
    "flatten_column_major": "column by column",
    "flatten_no_shape_check": "instead of raising ValueError",
    "build_model_sigmoid_output": "sigmoid",
    "build_model_not_compiled": "not compiled",
    "build_model_categorical_crossentropy": "one-hot",
    "build_model_hidden_64": "64 units",
    "predict_digit_argmax_axis0": "axis 0",
    "predict_digit_returns_probabilities": "probabilities",
    "predict_digit_no_normalize": "normalize(",
    "predict_digit_column_major": "column by column",
    "predict_digit_no_shape_check": "instead of raising ValueError",
    "confusion_transposed": "swapped",
    "confusion_float_counts": "whole numbers",
    "confusion_no_range_check": "expected ValueError",
}
UNUSUAL = sorted(path.stem for path in (HERE / "unusual").glob("*.py"))


def case_points() -> dict[str, float]:
    """``{case name: points}`` of every autograder case."""
    points = {}
    for file_name, source in autograder_sources().items():
        _, cases = cases_of_source(source, f"{file_name}.py")
        points.update({case.name: case.points for case in cases})
    return points


def load_submission(path: Path) -> dict:
    module_name = f"mnist_lab_submission_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return vars(module)


def grade_in_process(path: Path) -> dict[str, tuple[float, float, str]]:
    result = grading.grade_in_process(load_submission(path))
    return {case.name: (case.score, case.max_score, case.output) for case in result.tests}


def grade_with_harness(path: Path) -> dict[str, tuple[float, float, str]]:
    from mnist_lab.grading.grade import grade_submission

    # A generous time limit per call: this machine is shared, and time limits are the harness'
    # tests' business (a slow call here would fail cases for the wrong reason).
    result = grade_submission(
        submission=path, tests_dir=REPO / "autograder" / "tests", time_limit=120.0
    )
    return {case.name: (case.score, case.max_score, case.output) for case in result.tests}


GRADERS = {"otter-way": grade_in_process, "harness": grade_with_harness}


def assert_graded(results: dict, failing: set[str]) -> None:
    points = case_points()
    assert set(results) == set(points), "every case is graded once"
    lost = {name for name, (score, _, _) in results.items() if score != points[name]}
    unexpected = {name: results[name][2][:300] for name in lost ^ failing}
    assert lost == failing, unexpected
    for name, (score, max_score, _) in results.items():
        assert max_score == points[name]
        assert score == (0.0 if name in failing else points[name])
    total = sum(score for score, _, _ in results.values())
    assert total == sum(points.values()) - sum(points[name] for name in failing)


@pytest.mark.slow
@pytest.mark.parametrize("grader", sorted(GRADERS))
def test_reference_gets_full_marks_and_stubs_zero(grader):
    assert_graded(GRADERS[grader](REFERENCE), failing=set())
    stubs = GRADERS[grader](STUBS)
    assert_graded(stubs, failing=set(case_points()))
    assert all("not written yet" in output for _, _, output in stubs.values())


def write_mistake(mistake: str, tmp_path: Path) -> Path:
    """Write the reference with ``mistake`` as ``<tmp_path>/<mistake>/digits.py``."""
    path = tmp_path / mistake / "digits.py"
    path.parent.mkdir(parents=True)
    path.write_text(
        mistake_patches.mistake_source(mistake, REFERENCE.read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    return path


def test_every_mistake_names_cases_of_one_function_only():
    points = case_points()
    assert sorted(MISTAKES) == sorted(mistake_patches.PATCHES)
    for mistake, failing in MISTAKES.items():
        assert failing <= set(points), mistake
        functions = {name.split(":")[0] for name in failing}
        assert functions == {next(f for f in FUNCTIONS if mistake.startswith(f + "_"))}, mistake


def top_level_functions(source: str) -> dict[str, str]:
    """``{name: ast dump}`` of each top-level function of ``source``."""
    return {
        node.name: ast.dump(node)
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef)
    }


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_mistake_changes_only_the_function_its_cases_belong_to(mistake):
    reference = top_level_functions(REFERENCE.read_text(encoding="utf-8"))
    broken = top_level_functions(mistake_patches.mistake_source(mistake))
    assert sorted(broken) == sorted(reference) == sorted(FUNCTIONS)
    changed = {name for name in reference if broken[name] != reference[name]}
    assert changed == {name.split(":")[0] for name in MISTAKES[mistake]}, changed


def test_a_patch_that_no_longer_applies_fails_loudly():
    reference = REFERENCE.read_text(encoding="utf-8")
    old = mistake_patches.PATCHES["normalize_int_division"].replacements[0][0]
    for changed in (reference.replace(old, ""), reference + old):
        with pytest.raises(AssertionError, match="normalize_int_division") as info:
            mistake_patches.mistake_source("normalize_int_division", changed)
        assert old in str(info.value)


@pytest.mark.slow
@pytest.mark.parametrize("grader", sorted(GRADERS))
@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_mistake_loses_exactly_its_cases_with_a_hint(grader, mistake, tmp_path):
    results = GRADERS[grader](write_mistake(mistake, tmp_path))
    assert_graded(results, failing=MISTAKES[mistake])
    messages = [results[name][2] for name in MISTAKES[mistake]]
    assert any(HINTS[mistake] in message for message in messages), messages
    assert_hidden_feedback_shows_no_test_source(results)


def assert_hidden_feedback_shows_no_test_source(results: dict) -> None:
    """No line of a test file (code, data, expected values) appears in hidden-case feedback."""
    for file_name, source in autograder_sources().items():
        _, cases = cases_of_source(source, file_name)
        lines = {line.strip() for line in source.splitlines() if len(line.strip()) >= 20}
        for case in cases:
            message = results[case.name][2]
            if case.hidden and message:
                shown = [line for line in lines if line in message]
                assert not shown, (case.title, shown)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("grader", "submission"), list(itertools.product(sorted(GRADERS), UNUSUAL))
)
def test_correct_but_unusual_submission_gets_full_marks(grader, submission):
    assert_graded(GRADERS[grader](HERE / "unusual" / f"{submission}.py"), failing=set())


DEGENERATE = sorted(path.stem for path in (HERE / "degenerate").glob("*.py"))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("grader", "submission"), list(itertools.product(sorted(GRADERS), DEGENERATE))
)
def test_degenerate_submission_scores_zero(grader, submission):
    assert_graded(
        GRADERS[grader](HERE / "degenerate" / f"{submission}.py"), failing=set(case_points())
    )
