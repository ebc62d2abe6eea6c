"""Options and inputs of ``mnist-lab grade`` and ``check``, checked before any grading starts.

Each check is one function that raises ``InputError`` (a ``UserError``: the CLI prints one
``mnist-lab: error:`` line and exits with status 2) saying what was wrong and where. The CLI
calls them for one file (``grade FILE --results``, ``check FILE``); ``grade_batch`` calls them
first thing, so a mistake costs seconds, not a graded course whose results cannot be written.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from mnist_lab.errors import UserError
from mnist_lab.grading import grade, gradebook

CODE_SUFFIXES = (".py", ".ipynb")


class InputError(UserError):
    """An option or input that cannot work, found before any grading starts."""


def check_submission_file(path: Path, *, hint: str = "") -> None:
    """``path`` names one ``.py`` or ``.ipynb`` file (``hint`` is added when it is a folder)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a .py or .ipynb file{hint}")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file, expected a .py or .ipynb file")
    if path.suffix.lower() not in CODE_SUFFIXES:
        raise InputError(f"{path}: not a .py or .ipynb file")


def check_results_path(results: Path, *, submission: Path) -> None:
    """``--results`` can be written: not a folder, not the submission, inside folders."""
    try:
        grade.check_results_path(Path(results), submission=Path(submission))
    except grade.GradingSetupError as error:
        raise InputError(str(error)) from None


def check_tests_dir(tests_dir: Path | None) -> list[grade.Case]:
    """The cases of ``--tests`` (default: the autograder's), which must include hidden ones.

    A folder without a hidden case is the students' public checks (``student/tests`` of the
    release): their embedded helpers cannot run in the grader and would mis-grade silently.
    """
    if tests_dir is None:
        return grade.load_cases(grade.default_tests_dir())
    tests_dir = Path(tests_dir)
    if tests_dir.exists() and not tests_dir.is_dir():
        raise InputError(f"--tests {tests_dir}: is a file, expected a folder of otter test files")
    cases = grade.load_cases(tests_dir)
    if not any(case.hidden for case in cases):
        raise InputError(
            f"--tests {tests_dir}: no test file has a hidden case, so these are the students' "
            "public checks (student/tests in the release), which cannot grade; leave --tests "
            "out to grade with the autograder's tests"
        )
    return cases


def resolve_tests(
    *, tests: Path | None, autograder: Path | None, default_build: Path | None = None
) -> tuple[Path | None, str]:
    """The test files to grade with, and what they are, for people.

    ``--tests`` (a folder) or ``--autograder`` (a built ``autograder.zip``: its tests, with the
    points of that build, e.g. ``--points 100``); else the last build's zip in ``default_build``
    when there is one; else the tests shipped with mnist-lab (None).
    """
    if tests is not None and autograder is not None:
        raise InputError("--tests and --autograder: give one of them")
    if tests is not None:
        return Path(tests), f"the test files in {tests}"
    if autograder is None and default_build is not None:
        candidate = default_build / "autograder" / "autograder.zip"
        autograder = candidate if candidate.is_file() else None
    if autograder is None:
        return None, "the tests shipped with mnist-lab"
    return _tests_of_zip(Path(autograder)), f"the tests of {autograder}"


def _tests_of_zip(autograder: Path) -> Path:
    if not autograder.is_file():
        raise InputError(f"--autograder {autograder}: no such file")
    try:
        with zipfile.ZipFile(autograder) as archive:
            members = [name for name in archive.namelist() if name.startswith("tests/")]
            if not any(name.endswith(".py") for name in members):
                raise InputError(
                    f"--autograder {autograder}: has no tests/ folder of test files; is it the "
                    "autograder.zip that 'mnist-lab build' or 'mnist-lab autograder' wrote?"
                )
            folder = Path(tempfile.mkdtemp(prefix="mnist-lab-autograder-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            for name in members:
                parts = Path(name).parts
                if name.endswith("/") or ".." in parts or len(parts) != 2:
                    continue
                (folder / parts[1]).write_bytes(archive.read(name))
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(f"--autograder {autograder}: not a readable zip ({error})") from None
    return folder


def check_canvas_assignment_id(canvas_assignment_id: str | None) -> None:
    """``--canvas-assignment-id`` is digits, or not given."""
    problem = gradebook.canvas_assignment_id_problem(canvas_assignment_id)
    if problem is not None:
        raise InputError(f"--canvas-assignment-id: {problem}")


def check_assignment_name(assignment_name: str) -> None:
    """``--name`` can title the gradebooks and feedback pages."""
    problem = gradebook.assignment_name_problem(assignment_name)
    if problem is not None:
        raise InputError(f"--name: {problem}")


def check_course_inputs(inputs: Sequence[Path]) -> None:
    """No input is the release itself: its ``student.zip`` or ``student/`` folder (graded as a
    course it made one fake student per file and folder), or the whole release folder."""
    from mnist_lab.constants import (
        MANIFEST,
        NOTEBOOK_NAME,
        STUDENT_MODULE,
        STUDENT_PAGE,
        TESTS_FOLDER,
    )

    student_folder = {STUDENT_MODULE, NOTEBOOK_NAME, f"{TESTS_FOLDER}/", STUDENT_PAGE}
    advice = "name the course's LMS download (a .zip) or a folder of submissions"
    for path in map(Path, inputs):
        names = _top_level_names(path)
        if MANIFEST in names:
            raise InputError(
                f"{path}: is the release 'mnist-lab build' wrote ({MANIFEST}), not the "
                f"students' submissions; {advice}"
            )
        if student_folder <= names:
            shown = ", ".join(sorted(student_folder))
            raise InputError(
                f"{path}: is the students' release ({shown}), not their submissions; {advice}"
            )


def _top_level_names(path: Path) -> set[str]:
    """The names at the top of a folder or zip (folders with a trailing ``/``), looking through
    a zip's one wrapper folder (``student.zip`` holds ``student/``). Empty for anything else,
    and for what cannot be read: collecting the submissions says why."""
    if path.is_dir():
        try:
            return {child.name + ("/" if child.is_dir() else "") for child in path.iterdir()}
        except OSError:
            return set()
    if path.suffix.lower() != ".zip" or not path.is_file():
        return set()
    try:
        with zipfile.ZipFile(path) as archive:
            members = [name.replace("\\", "/").lstrip("/") for name in archive.namelist()]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return set()
    tops = {name.split("/", 1)[0] for name in members if name}
    if len(tops) == 1 and all("/" in name for name in members if name):
        wrapper = tops.pop() + "/"
        members = [name.removeprefix(wrapper) for name in members if name != wrapper]
    return {name.split("/", 1)[0] + ("/" if "/" in name else "") for name in members if name}
