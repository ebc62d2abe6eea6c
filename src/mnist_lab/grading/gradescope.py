"""The Gradescope entry point: grade ``/autograder/submission`` into ``results/results.json``.

Called by the autograder zip's ``run_autograder`` (through ``package.py``). A results file is
ALWAYS written: a submission without a gradable file gets every case at 0 with the reason, and a
failure of the grader itself gets a 0 with a message asking to contact the instructor (and the
error is re-raised so that the run is visibly broken in Gradescope's logs).
"""

from __future__ import annotations

import time
from pathlib import Path

from mnist_lab.grading.grade import (
    SUBMISSION_SUFFIXES,
    GradingResult,
    GradingSetupError,
    default_tests_dir,
    failed_result,
    grade_submission,
    load_cases,
    write_results,
)
from mnist_lab.grading.sandbox import interpreter_paths

PREFERRED_NAMES = ("digits.py", "digits.ipynb")


def find_submission(folder: Path) -> Path:
    """``digits.py`` or ``digits.ipynb``, else the only .py/.ipynb file in ``folder``."""
    for name in PREFERRED_NAMES:
        if (folder / name).is_file():
            return folder / name
    found = sorted(
        path for path in folder.rglob("*") if path.is_file() and path.suffix in SUBMISSION_SUFFIXES
    )
    if len(found) == 1:
        return found[0]
    names = ", ".join(path.name for path in found[:5]) or "none"
    raise GradingSetupError(
        f"expected digits.py or digits.ipynb in your submission (.py/.ipynb files found: {names})"
    )


def _private_parts(root: Path) -> tuple[Path, ...]:
    """Everything in ``root`` but the submission and results (source, zip files, scripts...),
    except what holds the Python interpreter the worker runs."""
    interpreter = [path.resolve() for path in interpreter_paths()]
    private = []
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        if entry.name in ("submission", "results"):
            continue
        if any(entry.resolve() == path or entry.resolve() in path.parents for path in interpreter):
            continue
        private.append(entry)
    return tuple(private)


def run_gradescope(*, root: Path = Path("/autograder")) -> GradingResult:
    """Grade ``root/submission`` with the zip's tests; write ``root/results/results.json``."""
    started = time.monotonic()
    results_path = root / "results" / "results.json"
    shipped = root / "source" / "tests"
    tests_dir = shipped if shipped.is_dir() and any(shipped.glob("*.py")) else default_tests_dir()
    try:
        submission = find_submission(root / "submission")
        return grade_submission(
            submission=submission,
            tests_dir=tests_dir,
            results_path=results_path,
            protect=_private_parts(root),
        )
    except GradingSetupError as error:
        result = failed_result(
            load_cases(tests_dir),
            message=f"Your submission could not be graded: {error}.",
            submission="submission",
            started=started,
        )
        write_results(result, results_path)
        return result
    except BaseException as error:
        result = GradingResult(
            submission="submission",
            tests=[],
            execution_time=time.monotonic() - started,
            notes=[
                "The autograder itself failed (not your code): please contact your instructor. "
                f"({type(error).__name__})"
            ],
        )
        write_results(result, results_path)
        raise
