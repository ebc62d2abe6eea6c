"""Reading submissions: .py modules, notebooks' code cells without shell and magic lines."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from mnist_lab.errors import UserError
from mnist_lab.grading.grade import grade_submission
from mnist_lab.grading.submission import SubmissionProblem, read_submission


def notebook(cells: list[tuple[str, str]]) -> dict:
    return {
        "cells": [
            {"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True)}
            | ({"outputs": [], "execution_count": None} if kind == "code" else {})
            for kind, source in cells
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    path.write_text(json.dumps(notebook(cells)), encoding="utf-8")
    return path


def test_notebook_shell_magic_and_self_check_lines_are_dropped(tmp_path: Path) -> None:
    path = write_notebook(
        tmp_path / "digits.ipynb",
        [
            ("markdown", "# Digits\n!not code"),
            ("code", "!pip install tensorflow\n%matplotlib inline\nimport numpy as np"),
            ("code", "if True:\n    !ls\nx = 1"),
            ("code", "%%bash\necho hi"),
            ("code", "%%time\ny = 2"),
            ("code", 'import otter\ngrader = otter.Notebook("digits.ipynb")\ngrader.check("q1")'),
        ],
    )
    source = read_submission(path)
    assert source.is_notebook
    assert source.chunks == [
        "pass\npass\nimport numpy as np\n",
        "if True:\n    pass\nx = 1\n",
        "",
        "\ny = 2\n",
        "pass\npass\npass\n",
    ]
    for chunk in source.chunks:
        compile(chunk, "cell", "exec")
    assert source.where(1, 2) == "code cell 2, line 2"


DEEP = "[" * 100_000 + "]" * 100_000
BAD_NOTEBOOKS = [
    ("{not json", "the notebook is not valid JSON"),
    ('{"cells": 3}', "it has no list of cells"),
    ("[1, 2]", "it has no list of cells"),
    ('{"cells": ' + DEEP + "}", "nested too deeply"),
    (
        '{"cells": [{"cell_type": "code", "source": {"a": 1}}]}',
        "cell 1 of the notebook has no text",
    ),
    ('{"cells": [{"cell_type": "code", "source": ["x = 1", 7]}]}', "(found list)"),
]


@pytest.mark.parametrize(("content", "message"), BAD_NOTEBOOKS)
def test_a_malformed_notebook_is_the_students_problem_with_its_reason(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "digits.ipynb"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SubmissionProblem) as problem:
        read_submission(path)
    assert message in str(problem.value)


@pytest.mark.parametrize(("content", "message"), BAD_NOTEBOOKS[2:5])
def test_a_malformed_notebook_still_gets_a_results_file_with_zero_and_the_reason(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "digits.ipynb"
    path.write_text(content, encoding="utf-8")
    results = tmp_path / "out" / "results.json"
    result = grade_submission(submission=path, results_path=results)
    data = json.loads(results.read_text(encoding="utf-8"))
    assert data["score"] == 0 == result.score
    assert result.max_score == 80
    assert result.grader_error is None
    assert all(message in test["output"] for test in data["tests"])
    assert "could not be graded" in data["output"]


def test_the_course_notebook_handed_in_instead_of_digits_py_gets_one_clear_reason(
    tmp_path: Path,
) -> None:
    path = write_notebook(
        tmp_path / "mnist_digits.ipynb",
        [("markdown", "# MNIST"), ("code", "import numpy as np\nfrom digits import normalize")],
    )
    with pytest.raises(SubmissionProblem, match=r"imports digits\.py and defines none"):
        read_submission(path)
    result = grade_submission(submission=path)
    assert {test.output for test in result.tests} == {
        "Failed: Your submission could not be graded: this notebook imports digits.py and "
        "defines none of the functions; hand in digits.py, the file with your functions."
    }
    assert "scratch" not in result.summary()
    assert "/tmp" not in result.summary()


@pytest.mark.parametrize("name", ["digits.txt", "missing.py", "folder"])
def test_a_path_that_is_no_submission_file_is_the_callers_mistake(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    if name == "digits.txt":
        path.write_text("x = 1", encoding="utf-8")
    elif name == "folder":
        path.mkdir()
    with pytest.raises(UserError, match=r"folder|no such file|expected a \.py module"):
        read_submission(path)


def test_notebook_grades_exactly_like_the_module(tmp_path: Path) -> None:
    """The reference split into cells, with magics, self-checks and a failing exploration cell."""
    reference = resources.files("mnist_lab.solutions").joinpath("digits.py").read_text("utf-8")
    head, _, functions = reference.partition("\ndef normalize")
    path = write_notebook(
        tmp_path / "digits.ipynb",
        [
            ("markdown", "# Handwritten digits"),
            ("code", "!pip install mnist-lab\n%matplotlib inline"),
            ("code", 'import otter\ngrader = otter.Notebook("digits.ipynb")'),
            ("code", head),
            ("code", "def normalize" + functions),
            ("code", 'grader.check("normalize")'),
            ("code", "from mnist_lab.data import load_mnist\n(x, y), _ = load_mnist()"),
            ("code", "model = build_model()\nmodel.fit(normalize(x), y)"),
        ],
    )
    module = tmp_path / "digits.py"
    module.write_text(reference, encoding="utf-8")
    as_notebook = grade_submission(submission=path)
    as_module = grade_submission(submission=module)
    assert as_module.score == as_module.max_score
    assert [case.to_dict() for case in as_notebook.tests] == [
        case.to_dict() for case in as_module.tests
    ]
    # The exploration cells failed (mnist_lab is not importable in the worker) and were skipped.
    assert any(
        "code cell 6" in note and "ModuleNotFoundError" in note for note in as_notebook.notes
    )
