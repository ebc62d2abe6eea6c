"""Read what a student handed in: a ``.py`` module or a notebook's code cells.

Whatever the file holds, reading it either gives the code to run (``Source``) or a
``SubmissionProblem`` whose text is the reason on the student's row and results (a notebook
that is not JSON, nests too deeply, has a code cell without text, or only imports ``digits.py``
instead of defining the functions). A path that does not exist or is not a file is the caller's
mistake (``SubmissionNotFound``), not the student's.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

from mnist_lab.errors import UserError

SUBMISSION_SUFFIXES = (".py", ".ipynb")
MAX_SUBMISSION_BYTES = 50 * 1024 * 1024
_PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture")


class SubmissionNotFound(UserError):
    """The path given to grade is not a submission file (missing, a folder, another type)."""


class SubmissionProblem(Exception):
    """The submission cannot be graded; the text says why, for the student and the instructor."""


@dataclass
class Source:
    """The code to run: chunks (one for a module, one per cell for a notebook)."""

    chunks: list[str]
    is_notebook: bool

    def where(self, chunk: int, line: int | None) -> str:
        if not self.is_notebook:
            return f"line {line}" if line else "an unknown line"
        at = f", line {line}" if line else ""
        return f"code cell {chunk + 1}{at}"


def check_submission_path(submission: Path) -> None:
    """SubmissionNotFound unless ``submission`` is a .py or .ipynb file."""
    if submission.is_dir():
        raise SubmissionNotFound(f"{submission}: is a folder, expected a .py or .ipynb file")
    if not submission.is_file():
        raise SubmissionNotFound(f"{submission}: no such file")
    if submission.suffix.lower() not in SUBMISSION_SUFFIXES:
        raise SubmissionNotFound(
            f"{submission}: expected a .py module or a .ipynb notebook, got {submission.name}"
        )


def read_submission(submission: Path, *, functions: tuple[str, ...] = ()) -> Source:
    """The code of a ``.py`` module or of a notebook's code cells, shell and magic lines dropped.

    ``functions``: the assignment's, which a notebook must define some of (the course notebook,
    which imports them from ``digits.py``, cannot be graded instead of ``digits.py``).
    """
    check_submission_path(submission)
    try:
        with submission.open("rb") as stream:
            raw = stream.read(MAX_SUBMISSION_BYTES + 1)
    except OSError as error:
        raise SubmissionProblem(f"the file cannot be read ({error.strerror or error})") from None
    if len(raw) > MAX_SUBMISSION_BYTES:
        raise SubmissionProblem(f"the file is larger than {MAX_SUBMISSION_BYTES // 2**20} MB")
    text = raw.decode("utf-8", errors="replace")
    if submission.suffix.lower() == ".py":
        return Source(chunks=[text], is_notebook=False)
    source = Source(chunks=_notebook_cells(text), is_notebook=True)
    _check_not_the_course_notebook(source, functions)
    return source


def _notebook_cells(text: str) -> list[str]:
    try:
        notebook = json.loads(text)
    except RecursionError:
        raise SubmissionProblem("the notebook's JSON is nested too deeply to be read") from None
    except ValueError as error:
        raise SubmissionProblem(f"the notebook is not valid JSON ({error})") from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise SubmissionProblem("the file is not a Jupyter notebook (it has no list of cells)")
    chunks = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise SubmissionProblem(
                f"cell {number} of the notebook has no text as its source "
                f"(found {type(source).__name__}); is the notebook damaged?"
            )
        chunks.append(_drop_magics(source))
    return chunks


def _check_not_the_course_notebook(source: Source, functions: tuple[str, ...]) -> None:
    """The course notebook imports digits.py; grading it instead of digits.py gives nothing."""
    imports_digits, defines = False, set()
    for chunk in source.chunks:
        try:
            tree = ast.parse(chunk)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in ast.walk(tree):
            imports_digits = imports_digits or _imports_digits(node)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                defines.add(node.name)
    if imports_digits and not defines & set(functions):
        raise SubmissionProblem(
            "this notebook imports digits.py and defines none of the functions; hand in "
            "digits.py, the file with your functions"
        )


def _imports_digits(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(alias.name == "digits" for alias in node.names)
    return isinstance(node, ast.ImportFrom) and node.module == "digits"


def _drop_magics(source: str) -> str:
    lines = source.splitlines()
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        if not first.startswith(_PYTHON_CELL_MAGICS):
            return ""  # a cell in another language (%%bash, %%html, ...)
        lines = ["", *lines[1:]]
    kept = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("!", "%")) or _is_otter_call(stripped):
            kept.append(line[: len(line) - len(stripped)] + "pass")  # keeps blocks and lines
        else:
            kept.append(line)
    return "\n".join(kept) + "\n"


def _is_otter_call(stripped: str) -> bool:
    """``grader = otter.Notebook(...)`` and ``grader.check(...)``: the student's self-checks."""
    return "otter.Notebook(" in stripped or stripped.startswith(
        ("grader.check", "grader.export", "grader.run_plugin", "import otter")
    )
