"""What the assignment is, defined once, by the files an instructor edits anyway.

- **The functions, their order and their reference code**: the top-level functions of
  ``solutions/digits.py`` that hold a ``# BEGIN SOLUTION`` region, in file order.
- **The cases and their points**: ``autograder/tests/<function>.py``, one otter test file per
  function (``name = "<function>"``; each case a ``@test_case(points=..., hidden=...)`` function
  whose docstring's first line is its title).

Everything else is derived from an ``Assignment``: the stubs, the students' public checks,
``autograder.zip``, the grading guide, the notebook's check cells, the gradebook columns, the
feedback pages and the README's table of functions (with a drift check). Adding a function is
writing it between markers in the solution, adding its test file, and ``mnist-lab stubs --write``.

Where the solution is not at hand (a built ``autograder.zip`` on Gradescope), the order is the
test files' own: the build names them ``<n>-<function>.py`` (``NN-`` keeps the solution's order).
"""

from __future__ import annotations

import ast
import inspect
import re
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mnist_lab.errors import UserError

ORDERED_TEST_FILE = re.compile(r"(?P<number>\d+)-(?P<function>[A-Za-z_]\w*)\.py")


class AssignmentError(UserError):
    """The solution and the test files do not define one consistent assignment."""


@dataclass(frozen=True)
class CaseSpec:
    """One test case as the test file defines it (and the otter case object to run it)."""

    function: str
    title: str
    points: float
    hidden: bool
    test: Any = None  # otter's test_case, with .test_func, .success_message, .failure_message

    @property
    def name(self) -> str:
        return f"{self.function}: {self.title}"

    @property
    def params(self) -> list[str]:
        return list(inspect.signature(self.test.test_func).parameters) if self.test else []


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    cases: tuple[CaseSpec, ...]

    @property
    def points(self) -> float:
        return round(sum(case.points for case in self.cases), 6)

    @property
    def public_points(self) -> float:
        return round(sum(case.points for case in self.cases if not case.hidden), 6)

    @property
    def hidden_points(self) -> float:
        return round(sum(case.points for case in self.cases if case.hidden), 6)


@dataclass(frozen=True)
class Assignment:
    functions: tuple[FunctionSpec, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(function.name for function in self.functions)

    @property
    def cases(self) -> tuple[CaseSpec, ...]:
        return tuple(case for function in self.functions for case in function.cases)

    @property
    def points(self) -> float:
        return round(sum(function.points for function in self.functions), 6)

    def function(self, name: str) -> FunctionSpec:
        for function in self.functions:
            if function.name == name:
                return function
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": self.points,
            "functions": [
                {
                    "name": function.name,
                    "points": function.points,
                    "cases": [
                        {"title": c.title, "points": c.points, "hidden": c.hidden}
                        for c in function.cases
                    ],
                }
                for function in self.functions
            ],
        }


# --- the solution --------------------------------------------------------------------------------


def functions_of_solution(source: str, *, where: str = "solutions/digits.py") -> tuple[str, ...]:
    """The top-level functions of the solution that hold an answer region, in file order."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise AssignmentError(f"{where}: not valid Python ({error})") from None
    lines = source.splitlines()
    names = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            body = lines[node.lineno - 1 : node.end_lineno]
            if any(line.strip().startswith("# BEGIN SOLUTION") for line in body):
                names.append(node.name)
    if not names:
        raise AssignmentError(f"{where}: no function holds a '# BEGIN SOLUTION' region")
    return tuple(names)


def solution_path() -> Path | None:
    """The installed reference solution (None in the grading wheel, which ships none)."""
    try:
        return Path(str(resources.files("mnist_lab.solutions").joinpath("digits.py")))
    except ModuleNotFoundError:
        return None


def tests_path() -> Path:
    return Path(str(resources.files("mnist_lab.autograder"))) / "tests"


# --- the test files -----------------------------------------------------------------------------


def load_test_file(path: Path) -> tuple[str, list[CaseSpec]]:
    """``(name, cases)`` of one otter test file, in definition order."""
    from otter.test_files import ExceptionTestFile

    try:
        test_file = ExceptionTestFile.from_file(str(path))
    except Exception as error:  # the file is the instructor's: say which and why
        raise AssignmentError(f"cannot load test file {path}: {error}") from error
    cases = []
    for test in test_file.test_cases:
        doc = inspect.getdoc(test.body.test_func) or ""
        title = doc.strip().splitlines()[0].strip() if doc.strip() else test.name
        cases.append(
            CaseSpec(
                function=str(test_file.name),
                title=title,
                points=float(test.points or 0),
                hidden=bool(test.hidden),
                test=test.body,
            )
        )
    return str(test_file.name), cases


def cases_of_source(source: str, file_name: str = "tests.py") -> tuple[str, list[CaseSpec]]:
    """``(name, cases)`` of a test file given as text (e.g. with its points scaled)."""
    with tempfile.TemporaryDirectory(prefix="mnist-lab-test-file-") as folder:
        path = Path(folder) / Path(file_name).name
        path.write_text(source, encoding="utf-8")
        return load_test_file(path)


def test_files(tests_dir: Path) -> dict[str, Path]:
    """``{function: test file}`` in the order the folder gives (``NN-name.py`` sorts first)."""
    if not tests_dir.is_dir():
        raise AssignmentError(f"tests folder not found: {tests_dir}")
    found: dict[str, tuple[tuple[int, str], Path]] = {}
    for path in tests_dir.glob("*.py"):
        match = ORDERED_TEST_FILE.fullmatch(path.name)
        function, key = (
            (match["function"], (int(match["number"]), ""))
            if match
            else (
                path.stem,
                (10**6, path.stem),
            )
        )
        if function in found:
            raise AssignmentError(f"two test files for {function} in {tests_dir}")
        found[function] = (key, path)
    if not found:
        raise AssignmentError(f"no test files (*.py) in {tests_dir}")
    return {name: path for name, (_, path) in sorted(found.items(), key=lambda item: item[1][0])}


def load_assignment(*, tests_dir: Path | None = None, solution: Path | None = None) -> Assignment:
    """The assignment from its test files, in the solution's order when a solution is given
    (or, with neither given, the installed package's solution and tests)."""
    if tests_dir is None:
        tests_dir = tests_path()
        solution = solution or solution_path()
    files = test_files(Path(tests_dir))
    if solution is not None and Path(solution).is_file():
        where = str(solution)
        order = functions_of_solution(Path(solution).read_text("utf-8"), where=where)
        missing = [name for name in order if name not in files]
        if missing:
            raise AssignmentError(
                f"{where} defines {', '.join(missing)} but {tests_dir} has no test file for "
                f"{'it' if len(missing) == 1 else 'them'} (add {missing[0]}.py)"
            )
        extra = [name for name in files if name not in order]
        if extra:
            raise AssignmentError(
                f"{tests_dir} tests {', '.join(extra)}, which {where} does not define between "
                "solution markers"
            )
        files = {name: files[name] for name in order}
    functions = []
    for function, path in files.items():
        name, cases = load_test_file(path)
        if name != function:
            raise AssignmentError(f"{path}: its name = {name!r} should be {function!r}")
        functions.append(FunctionSpec(name=name, cases=tuple(cases)))
    return Assignment(functions=tuple(functions))
