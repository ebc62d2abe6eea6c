"""Reading submissions: .py modules, notebooks' code cells without shell and magic lines."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from mnist_lab.grading.grade import GradingSetupError, grade_submission, read_submission


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


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("digits.txt", "x = 1", "must be a .py module or a .ipynb notebook"),
        ("digits.ipynb", "{not json", "is not a readable notebook"),
        ("digits.ipynb", '{"cells": 3}', None),
    ],
)
def test_unusable_submissions_are_setup_errors(
    tmp_path: Path, name: str, content: str, message: str | None
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    if message is None:  # a notebook without a list of cells simply has no code
        assert read_submission(path).chunks == []
        return
    with pytest.raises(GradingSetupError, match=message):
        read_submission(path)


def test_missing_submission_is_a_setup_error(tmp_path: Path) -> None:
    with pytest.raises(GradingSetupError, match="submission not found"):
        read_submission(tmp_path / "digits.py")


@pytest.mark.slow
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
