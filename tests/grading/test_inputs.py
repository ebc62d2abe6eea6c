"""The checks of grade's options and inputs, each run before any grading starts."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from mnist_lab.errors import UserError
from mnist_lab.grading import inputs
from mnist_lab.grading.grade import default_tests_dir
from mnist_lab.grading.inputs import InputError

from .releases import write_student_release


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_student_release(tmp_path_factory.mktemp("release"))


def test_an_input_error_is_what_the_cli_reports() -> None:
    assert issubclass(InputError, UserError)


# --- one submission file ---------------------------------------------------------------------


def test_a_folder_is_not_a_submission_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as error:
        inputs.check_submission_file(tmp_path, hint=" (a hint)")
    assert str(error.value) == f"{tmp_path}: is a folder, expected a .py or .ipynb file (a hint)"


def test_a_missing_submission_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as error:
        inputs.check_submission_file(tmp_path / "digits.py")
    assert str(error.value) == f"{tmp_path / 'digits.py'}: no such file"


def test_a_submission_of_another_kind(tmp_path: Path) -> None:
    (tmp_path / "digits.txt").write_text("x = 1\n")
    with pytest.raises(InputError) as error:
        inputs.check_submission_file(tmp_path / "digits.txt")
    assert str(error.value) == f"{tmp_path / 'digits.txt'}: not a .py or .ipynb file"


@pytest.mark.parametrize("name", ["digits.py", "digits.ipynb", "DIGITS.PY"])
def test_a_code_file_is_a_submission(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("x = 1\n")
    inputs.check_submission_file(tmp_path / name)


# --- --results -------------------------------------------------------------------------------


def test_results_naming_a_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError) as error:
        inputs.check_results_path(tmp_path, submission=tmp_path / "digits.py")
    assert str(error.value) == (
        f"--results {tmp_path}: is a folder, expected the name of the results file "
        f"(e.g. {tmp_path / 'results.json'})"
    )


def test_results_naming_the_submission(tmp_path: Path) -> None:
    submission = tmp_path / "digits.py"
    submission.write_text("x = 1\n")
    with pytest.raises(InputError, match="is the submission itself; grading would overwrite it"):
        inputs.check_results_path(tmp_path / "." / "digits.py", submission=submission)


def test_results_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("notes")
    results = tmp_path / "notes.txt" / "results.json"
    with pytest.raises(InputError) as error:
        inputs.check_results_path(results, submission=tmp_path / "digits.py")
    notes = tmp_path / "notes.txt"
    assert str(error.value) == f"--results {results}: {notes} is a file, not a folder"


def test_results_naming_a_device() -> None:
    with pytest.raises(InputError, match="exists and is not a regular file"):
        inputs.check_results_path(Path("/dev/null"), submission=Path("digits.py"))


def test_results_in_folders_still_to_be_made(tmp_path: Path) -> None:
    inputs.check_results_path(tmp_path / "a" / "b" / "r.json", submission=tmp_path / "digits.py")


# --- --tests ---------------------------------------------------------------------------------


def test_the_default_tests_have_hidden_cases() -> None:
    cases = inputs.check_tests_dir(None)
    assert any(case.hidden for case in cases)
    assert any(not case.hidden for case in cases)


def test_a_copy_of_the_autograder_tests_is_accepted(tmp_path: Path) -> None:
    shutil.copytree(default_tests_dir(), tmp_path / "tests")
    assert len(inputs.check_tests_dir(tmp_path / "tests")) == len(inputs.check_tests_dir(None))


def test_the_students_public_checks_are_refused_as_tests(release: Path) -> None:
    public = release / "student" / "tests"
    with pytest.raises(InputError) as error:
        inputs.check_tests_dir(public)
    assert str(error.value) == (
        f"--tests {public}: no test file has a hidden case, so these are the students' public "
        "checks (student/tests in the release), which cannot grade; leave --tests out to grade "
        "with the autograder's tests"
    )


def test_a_file_given_as_tests(tmp_path: Path) -> None:
    (tmp_path / "flatten.py").write_text("x = 1\n")
    with pytest.raises(InputError) as error:
        inputs.check_tests_dir(tmp_path / "flatten.py")
    assert str(error.value) == (
        f"--tests {tmp_path / 'flatten.py'}: is a file, expected a folder of otter test files"
    )


# --- gradebook options -----------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "1234", "007"])
def test_a_canvas_assignment_id_of_digits(value: str | None) -> None:
    inputs.check_canvas_assignment_id(value)


@pytest.mark.parametrize("value", ["12a", "", " 1234", "1234/edit", "-1"])
def test_a_canvas_assignment_id_that_is_not_digits(value: str) -> None:
    with pytest.raises(InputError) as error:
        inputs.check_canvas_assignment_id(value)
    assert str(error.value) == (
        "--canvas-assignment-id: the Canvas assignment id must be digits (the number in the "
        f"assignment's URL, .../assignments/1234), got {value!r}"
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("  ", "--name: the assignment name must be non-empty text, got '  '"),
        ("Lab\n3", "--name: the assignment name contains a control character: 'Lab\\n3'"),
    ],
)
def test_an_assignment_name_the_gradebooks_cannot_use(name: str, message: str) -> None:
    with pytest.raises(InputError) as error:
        inputs.check_assignment_name(name)
    assert str(error.value) == message


# --- the release given as a course -----------------------------------------------------------

RELEASE_CONTENTS = "digits.py, mnist_digits.ipynb, quiz.html, tests/"


def test_the_releases_student_zip_is_not_a_course(release: Path) -> None:
    with pytest.raises(InputError) as error:
        inputs.check_course_inputs([release / "student.zip"])
    assert str(error.value) == (
        f"{release / 'student.zip'}: is the students' release ({RELEASE_CONTENTS}), not their "
        "submissions; name the course's LMS download (a .zip) or a folder of submissions"
    )


def test_the_releases_student_folder_is_not_a_course(release: Path) -> None:
    with pytest.raises(InputError, match=r"student: is the students' release \(digits\.py"):
        inputs.check_course_inputs([release / "student"])


def test_the_whole_release_is_not_a_course(release: Path, tmp_path: Path) -> None:
    built = tmp_path / "mnist-lab-release"
    shutil.copytree(release, built)
    (built / ".mnist-lab-build.json").write_text("{}")
    with pytest.raises(InputError) as error:
        inputs.check_course_inputs([built])
    assert str(error.value) == (
        f"{built}: is the release 'mnist-lab build' wrote (.mnist-lab-build.json), not the "
        "students' submissions; name the course's LMS download (a .zip) or a folder of submissions"
    )


def test_a_student_who_handed_in_the_whole_student_folder_is_a_course(
    release: Path, tmp_path: Path
) -> None:
    course = tmp_path / "course"
    shutil.copytree(release / "student", course / "alice")
    (course / "bob").mkdir()
    (course / "bob" / "digits.py").write_text("x = 1\n")
    zipped = tmp_path / "course.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        for path in sorted(course.rglob("*")):
            if path.is_file():
                archive.write(path, f"course/{path.relative_to(course).as_posix()}")
    inputs.check_course_inputs([course, zipped, course / "bob" / "digits.py"])


def test_an_unreadable_zip_is_left_to_the_collector(tmp_path: Path) -> None:
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    inputs.check_course_inputs([tmp_path / "broken.zip", tmp_path / "missing.zip"])
