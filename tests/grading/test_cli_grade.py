"""``mnist-lab grade`` and ``mnist-lab check``: exit status, messages, results file."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from mnist_lab.cli import main

from .releases import write_student_release


def copy_of(package: str, folder: Path) -> Path:
    path = folder / "digits.py"
    path.write_text(resources.files(package).joinpath("digits.py").read_text("utf-8"))
    return path


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        # one wording with the batch's (finding 17: "submission not found" read differently)
        (lambda tmp: tmp / "absent.py", [], "absent.py: no such file"),
        (lambda tmp: tmp / "digits.txt", [], "digits.txt: not a .py or .ipynb file"),
        (lambda tmp: tmp / "digits.py", ["--tests", "no-such-dir"], "tests folder not found"),
    ],
)
def test_grade_reports_a_grader_that_cannot_run_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make, extra, message
) -> None:
    submission = make(tmp_path)
    if submission.name != "absent.py":
        submission.write_text("x = 1\n")
    results = tmp_path / "results.json"
    status = main(["grade", str(submission), "--results", str(results), *extra])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("mnist-lab: error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not results.exists()  # nothing half-written


def test_grade_rejects_a_non_positive_time_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["grade", "digits.py", "--results", "r.json", "--time-limit", "0"])
    assert exit_info.value.code == 2
    assert "expected a positive number" in capsys.readouterr().err


@pytest.mark.slow
def test_grade_of_the_untouched_stubs_exits_0_with_zero_points_and_writes_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    submission = copy_of("mnist_lab.exercises", tmp_path)
    results = tmp_path / "out" / "results.json"
    assert main(["grade", str(submission), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    data = json.loads(results.read_text())
    assert data["score"] == 0
    assert [test["name"] for test in data["tests"] if test["score"]] == []
    assert out.startswith(f"digits.py: 0 / {sum(t['max_score'] for t in data['tests']):g} points")
    assert f"wrote {results}" in out


@pytest.mark.slow
def test_check_runs_only_public_cases_and_exits_by_the_outcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = copy_of("mnist_lab.solutions", tmp_path)
    assert main(["check", str(reference)]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out
    assert "(hidden)" not in out
    assert "PASS" in out
    broken = tmp_path / "broken" / "digits.py"
    broken.parent.mkdir()
    source = reference.read_text()
    correct = "return np.asarray(images, dtype=np.float64) / float(MAX_PIXEL_VALUE)"
    assert correct in source
    broken.write_text(source.replace(correct, "return images  # not scaled, not float"))
    assert main(["check", str(broken)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out
    assert "normalize" in out


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err.strip()


def test_check_of_a_folder_says_it_is_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "exercises"
    folder.mkdir()
    copy_of("mnist_lab.exercises", folder)
    assert main(["check", str(folder)]) == 2
    assert one_error_line(capsys) == (
        f"mnist-lab: error: {folder}: is a folder, expected a .py or .ipynb file"
    )


def test_grade_of_a_folder_with_results_says_it_is_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "r.json"
    assert main(["grade", str(tmp_path), "--results", str(results)]) == 2
    assert one_error_line(capsys) == (
        f"mnist-lab: error: {tmp_path}: is a folder, expected a .py or .ipynb file "
        "(--results grades one file; grade a folder of submissions with --out)"
    )
    assert not results.exists()


def test_results_naming_a_folder_is_refused_before_grading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was a traceback (IsADirectoryError) after the whole submission was graded."""
    submission = copy_of("mnist_lab.solutions", tmp_path)
    folder = tmp_path / "grades"
    folder.mkdir()
    assert main(["grade", str(submission), "--results", str(folder)]) == 2
    assert one_error_line(capsys) == (
        f"mnist-lab: error: --results {folder}: is a folder, expected the name of the results "
        f"file (e.g. {folder / 'results.json'})"
    )
    assert list(folder.iterdir()) == []


def test_results_naming_the_submission_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    submission = copy_of("mnist_lab.solutions", tmp_path)
    before = submission.read_bytes()
    assert main(["grade", str(submission), "--results", str(submission)]) == 2
    assert "is the submission itself; grading would overwrite it" in one_error_line(capsys)
    assert submission.read_bytes() == before


@pytest.mark.parametrize("command", ["grade", "check"])
def test_the_students_public_checks_as_tests_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """They mis-graded the reference at 13.75/25 without a word."""
    public = write_student_release(tmp_path / "release") / "student" / "tests"
    submission = copy_of("mnist_lab.solutions", tmp_path)
    results = tmp_path / "r.json"
    extra = ["--results", str(results)] if command == "grade" else []
    assert main([command, str(submission), "--tests", str(public), *extra]) == 2
    assert one_error_line(capsys) == (
        f"mnist-lab: error: --tests {public}: no test file has a hidden case, so these are the "
        "students' public checks (student/tests in the release), which cannot grade; leave "
        "--tests out to grade with the autograder's tests"
    )
    assert not results.exists()


def test_batch_options_with_results_are_refused_not_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    submission = copy_of("mnist_lab.solutions", tmp_path)
    results = tmp_path / "r.json"
    command = ["grade", str(submission), "--results", str(results), "--out", str(tmp_path / "g")]
    assert main([*command, "--canvas-assignment-id", "1234"]) == 2
    assert one_error_line(capsys) == (
        "mnist-lab: error: --out, --canvas-assignment-id: only for grading a batch into --out; "
        "--results grades one file"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits.py"]
