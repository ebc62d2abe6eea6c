"""Gradescope results: the schema, atomic writing, the Gradescope entry point, and the proof that
the reference scores full marks with the shipped tests (the stubs: test_cli_grade.py)."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import pytest

from mnist_lab.grading.grade import (
    HIDDEN_VISIBILITY,
    CaseResult,
    GradingResult,
    default_tests_dir,
    load_cases,
    write_results,
)
from mnist_lab.grading.gradescope import run_gradescope


def sample_result() -> GradingResult:
    return GradingResult(
        submission="digits.py",
        tests=[
            CaseResult("normalize: values", "normalize", 2.0, 2.0, True, False, "Passed."),
            CaseResult("flatten: order", "flatten", 0.0, 3.0, False, True, "Failed: order"),
        ],
        execution_time=1.234,
    )


def test_results_follow_the_gradescope_schema() -> None:
    data = sample_result().to_dict()
    assert data["score"] == 2.0
    assert data["execution_time"] == 1.23
    assert data["stdout_visibility"] == "hidden"
    assert data["output"].startswith("digits.py: 2 / 5 points, 1 of 2 test cases passed")
    assert data["tests"] == [
        {
            "name": "normalize: values",
            "score": 2.0,
            "max_score": 2.0,
            "output": "Passed.",
            "visibility": "visible",
            "status": "passed",
            "extra_data": {"function": "normalize"},
        },
        {
            "name": "flatten: order",
            "score": 0.0,
            "max_score": 3.0,
            "output": "Failed: order",
            "visibility": HIDDEN_VISIBILITY,
            "status": "failed",
            "extra_data": {"function": "flatten"},
        },
    ]
    assert HIDDEN_VISIBILITY in ("hidden", "after_published", "after_due_date")


def test_a_grader_error_says_so_and_gives_no_verdict() -> None:
    result = GradingResult(
        submission="digits.py",
        tests=[],
        execution_time=0.5,
        grader_error="the grading sandbox did not start: no bwrap",
        protections={"level": "minimal"},
    )
    data = result.to_dict()
    assert data["score"] == 0
    assert data["tests"] == []
    assert data["output"].startswith("Grading failed: the grading sandbox did not start")
    assert "not of your code" in data["output"]
    assert "your code raised" not in data["output"]
    extra = data["extra_data"]["mnist_lab"]
    assert extra == {
        "grader_error": "the grading sandbox did not start: no bwrap",
        "sandbox": {"level": "minimal"},
    }
    again = GradingResult.from_dict(json.loads(json.dumps(data)), submission="digits.py")
    assert again.grader_error == result.grader_error
    assert not again.all_passed


def test_a_written_result_reads_back_as_the_same_result() -> None:
    """A batch rerun rebuilds the gradebook from the results files it wrote before."""
    original = sample_result()
    original.notes = ["Your code printed 9,000,000 bytes of output."]
    data = json.loads(json.dumps(original.to_dict()))
    again = GradingResult.from_dict(data, submission="digits.py")
    assert again.tests == original.tests
    assert again.notes == original.notes
    assert again.to_dict() == original.to_dict()


@pytest.mark.parametrize("data", [None, {}, {"tests": [{"name": "x"}]}, {"tests": "no"}, []])
def test_reading_back_something_else_is_a_value_error(data) -> None:
    with pytest.raises(ValueError, match="not a results file of mnist-lab"):
        GradingResult.from_dict(data, submission="digits.py")


def test_results_are_written_atomically_over_whatever_was_there(tmp_path: Path) -> None:
    results = tmp_path / "results" / "results.json"
    results.parent.mkdir()
    decoy = tmp_path / "decoy.json"
    decoy.write_text("forged")
    results.symlink_to(decoy)  # a planted symlink is replaced, never written through
    write_results(sample_result(), results)
    assert not results.is_symlink()
    assert json.loads(results.read_text()) == sample_result().to_dict()
    assert decoy.read_text() == "forged"
    assert sorted(p.name for p in results.parent.iterdir()) == ["results.json"]


def test_shipped_tests_have_one_named_case_per_entry() -> None:
    cases = load_cases(default_tests_dir())
    functions = {"normalize", "flatten", "build_model", "confusion", "predict_digit"}
    assert {case.function for case in cases} == functions
    assert all(case.name.startswith(f"{case.function}: ") for case in cases)
    assert len({case.name for case in cases}) == len(cases)
    # Every public case runs before any hidden one (a fresh worker for each phase), and in each
    # phase the cases that lend the reference helpers to predict_digit run last.
    hidden = [case.hidden for case in cases]
    assert hidden == sorted(hidden)
    for phase in (False, True):
        order = [case.function for case in cases if case.hidden is phase]
        first = order.index("predict_digit")
        assert set(order[first:]) == {"predict_digit"}


def test_gradescope_without_a_gradable_file_still_writes_results(tmp_path: Path) -> None:
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "notes.txt").write_text("I forgot")
    result = run_gradescope(root=tmp_path)
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert data == result.to_dict()
    assert data["score"] == 0
    assert len(data["tests"]) == len(load_cases(default_tests_dir()))
    assert "expected digits.py or digits.ipynb" in data["output"]


def reference_source() -> str:
    return resources.files("mnist_lab.solutions").joinpath("digits.py").read_text("utf-8")


@pytest.mark.slow
def test_gradescope_grades_the_reference_with_full_marks(tmp_path: Path) -> None:
    # How fast is measured by benchmarks/bench_grading.py, not asserted here.
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "digits.py").write_text(reference_source())
    shutil.copytree(default_tests_dir(), tmp_path / "source" / "tests")
    result = run_gradescope(root=tmp_path)
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert data["score"] == result.max_score > 0
    assert all(test["status"] == "passed" for test in data["tests"])
