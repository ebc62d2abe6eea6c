"""The autograder's files: the training fixture, Gradescope's autograder.zip, the public tests.

- ``write_learning_fixture`` makes ``autograder/fixtures/learn.npz`` from the embedded sample
  (deterministic: the first 2,000 training and first 500 test images).
- ``write_autograder`` builds ``autograder.zip`` with ``otter generate``; on Gradescope its
  ``run_autograder`` calls our harness, and ``otter run -a autograder.zip digits.py`` grades with
  the same test files in otter's own way.
- ``write_public_tests`` writes the students' public tests: the public cases only, stand-alone
  (no mnist_lab needed), for ``otter check`` and ``grader.check``.
- ``run_cases_in_process`` runs the test files on functions in this process (otter's way,
  without otter's notebook machinery), for the project's own tests.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

TEST_FILE_NAMES = ("normalize", "flatten", "build_model", "predict_digit", "confusion")
FIXTURE_NAME = "learn.npz"
FIXTURE_TRAIN_IMAGES = 2_000
FIXTURE_TEST_IMAGES = 500


class PackageError(Exception):
    """The autograder could not be packaged (bad output folder, otter failed, ...)."""


# --- the fixture ---------------------------------------------------------------------------------


def write_learning_fixture(*, out_path: Path) -> Path:
    """Write the "model really learns" fixture: x/y train and test, uint8, from the sample."""
    from mnist_lab.data import load_sample

    (x_train, y_train), (x_test, y_test) = load_sample()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        x_train=x_train[:FIXTURE_TRAIN_IMAGES],
        y_train=y_train[:FIXTURE_TRAIN_IMAGES],
        x_test=x_test[:FIXTURE_TEST_IMAGES],
        y_test=y_test[:FIXTURE_TEST_IMAGES],
    )
    out_path.write_bytes(buffer.getvalue())
    return out_path


# --- the test files ------------------------------------------------------------------------------


def test_file_sources() -> dict[str, str]:
    """``{name: source}`` of the five autograder test files, read from the installed package."""
    folder = resources.files("mnist_lab.autograder").joinpath("tests")
    return {name: folder.joinpath(f"{name}.py").read_text("utf-8") for name in TEST_FILE_NAMES}


@dataclass
class CaseResult:
    """One case's outcome."""

    name: str  # "normalize: values are x / 255"
    points: float
    score: float
    hidden: bool
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.score == self.points

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "points": self.points,
            "score": self.score,
            "hidden": self.hidden,
            "message": self.message,
        }


@dataclass
class CaseRun:
    """All cases' outcomes, in test-file order."""

    cases: list[CaseResult] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(case.score for case in self.cases)

    @property
    def max_score(self) -> float:
        return sum(case.points for case in self.cases)

    def by_function(self) -> dict[str, float]:
        scores: dict[str, float] = {}
        for case in self.cases:
            function = case.name.split(":", 1)[0]
            scores[function] = scores.get(function, 0.0) + case.score
        return scores

    def failed(self) -> set[str]:
        return {case.name for case in self.cases if not case.passed}

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "max_score": self.max_score,
            "cases": [case.to_dict() for case in self.cases],
        }


def load_cases(source: str, path: str = "<test file>") -> tuple[str, list[Any]]:
    """Execute a test file; ``(name, [test_case, ...])`` in definition order."""
    from otter.test_files import test_case

    namespace: dict[str, Any] = {"__name__": f"mnist_lab_autograder_{Path(path).stem}"}
    exec(compile(source, path, "exec"), namespace)
    cases = [value for value in namespace.values() if isinstance(value, test_case)]
    return str(namespace["name"]), cases


def case_title(case: Any) -> str:
    """The first line of the case function's docstring."""
    doc = (case.test_func.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else case.test_func.__name__


def run_cases_in_process(
    functions: dict[str, Any], *, sources: dict[str, str] | None = None
) -> CaseRun:
    """Run every case with ``functions`` (name -> callable) as otter would, in this process."""
    sources = sources if sources is not None else test_file_sources()
    run = CaseRun()
    for file_name, source in sources.items():
        name, cases = load_cases(source, f"{file_name}.py")
        for case in cases:
            try:
                case.call_func(functions)
            except Exception as error:  # a failed case: its message is the feedback
                score, message = 0.0, f"{type(error).__name__}: {error}"
            else:
                score, message = float(case.points), ""
            run.cases.append(
                CaseResult(
                    f"{name}: {case_title(case)}", float(case.points), score, case.hidden, message
                )
            )
    return run
