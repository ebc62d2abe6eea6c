"""The Gradescope entry point: grade ``/autograder/submission`` into ``results/results.json``.

Called by the autograder zip's ``run_autograder`` (through ``package.py``). A results file is
ALWAYS written: a submission without a gradable file gets every case at 0 with the reason; a
failure of the grader itself gets a results file that says grading failed and why (never a
verdict on the student's code), and the run exits with status 2 so it is visibly broken in
Gradescope's logs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from mnist_lab.grading.grade import (
    GradingResult,
    default_tests_dir,
    failed_result,
    grade_submission,
    grader_error_result,
    load_cases,
    write_results,
)
from mnist_lab.grading.sandbox import protections
from mnist_lab.grading.submission import SUBMISSION_SUFFIXES

PREFERRED_NAMES = ("digits.py", "digits.ipynb")


class NoSubmissionFile(Exception):
    """The upload holds no file to grade (or several candidates)."""


def find_submission(folder: Path) -> Path:
    """``digits.py`` or ``digits.ipynb``, else the only .py/.ipynb file in ``folder``."""
    for name in PREFERRED_NAMES:
        if (folder / name).is_file():
            return folder / name
    found = sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and path.suffix.lower() in SUBMISSION_SUFFIXES
    )
    if len(found) == 1:
        return found[0]
    names = ", ".join(path.name for path in found[:5]) or "none"
    raise NoSubmissionFile(
        f"expected digits.py or digits.ipynb in your submission (.py/.ipynb files found: {names})"
    )


def _private_parts(root: Path) -> tuple[Path, ...]:
    """Everything in ``root`` but the submission and results (source, zip files, scripts...)."""
    return tuple(
        entry
        for entry in (sorted(root.iterdir()) if root.is_dir() else [])
        if entry.name not in ("submission", "results")
    )


def run_gradescope(*, root: Path = Path("/autograder")) -> GradingResult:
    """Grade ``root/submission`` with the zip's tests; write ``root/results/results.json``."""
    started = time.monotonic()
    results_path = root / "results" / "results.json"
    shipped = root / "source" / "tests"
    tests_dir = shipped if shipped.is_dir() and any(shipped.glob("*.py")) else default_tests_dir()
    try:
        submission = find_submission(root / "submission")
    except NoSubmissionFile as problem:
        result = failed_result(
            load_cases(tests_dir),
            message=f"Your submission could not be graded: {problem}.",
            submission="submission",
            started=started,
        )
        write_results(result, results_path)
        return result
    try:
        return grade_submission(
            submission=submission,
            tests_dir=tests_dir,
            results_path=results_path,
            protect=_private_parts(root),
        )
    except BaseException as error:  # the grader itself broke: say so, never a verdict
        result = grader_error_result(
            why=f"{type(error).__name__}: {error}",
            submission="submission",
            started=started,
            protections=protections().to_dict(),
        )
        write_results(result, results_path)
        raise


def main() -> int:
    """``run_autograder``'s entry: exit 2 when grading failed (a grader error, whose results
    file says so), with the error in Gradescope's log."""
    try:
        result = run_gradescope()
    except Exception:  # run_gradescope wrote the results file saying grading failed
        import traceback

        traceback.print_exc()
        return 2
    return 2 if result.grader_error is not None else 0


if __name__ == "__main__":
    sys.exit(main())
