"""Stub generation from the solution's markers, its errors, and the drift check."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnist_lab.stubs import (
    MarkerError,
    check_stubs,
    committed_stubs,
    generate_stubs,
    solution_source,
    write_stubs,
)

REPO_ROOT = Path(__file__).resolve().parents[1]

SOLUTION = '''\
def double(x):
    """Twice x."""
    # BEGIN SOLUTION | hint: multiply by two
    result = x * 2
    return result
    # END SOLUTION


class Box:
    def size(self):
        # BEGIN SOLUTION | hint: it's "big"
        return "big"
        # END SOLUTION
'''


def test_regions_become_a_raise_with_the_hint_at_the_marker_indentation():
    stubs = generate_stubs(SOLUTION)
    assert "x * 2" not in stubs
    assert 'return "big"' not in stubs
    assert '    # YOUR CODE HERE\n    raise NotImplementedError("multiply by two")\n' in stubs
    assert "        raise NotImplementedError('it\\'s \"big\"')\n" in stubs
    assert '"""Twice x."""' in stubs
    namespace: dict = {}
    exec(compile(stubs, "stubs", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="multiply by two"):
        namespace["double"](1)
    with pytest.raises(NotImplementedError, match='it\'s "big"'):
        namespace["Box"]().size()


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("def f():\n    # BEGIN SOLUTION | hint: h\n    return 1\n", 2, "never closed"),
        ("def f():\n    return 1\n    # END SOLUTION\n", 3, "without a BEGIN"),
        (
            "def f():\n    # BEGIN SOLUTION | hint: h\n    # BEGIN SOLUTION | hint: h\n"
            "    return 1\n    # END SOLUTION\n",
            3,
            "cannot nest",
        ),
        ("def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n", 2, "malformed"),
        ("def f():\n    # BEGIN SOLUTON | hint: h\n    return 1\n", 2, "malformed"),
        ("def f():\n    # begin solution | hint: h\n    return 1\n", 2, "malformed"),
        ("def f():\n    ## END SOLUTION!\n", 2, "malformed"),
        ("def f():\n    # BEGIN SOLUTION | hint: h\n\n    # END SOLUTION\n", 2, "empty"),
        (
            "def f():\n    # BEGIN SOLUTION | hint: h\n    return 1\n  # END SOLUTION\n",
            4,
            "indented differently",
        ),
        ("def f():\n    return 1\n", 1, "no solution regions"),
    ],
)
def test_malformed_markers_are_errors_naming_the_file_and_line(text, line, problem):
    with pytest.raises(MarkerError) as raised:
        generate_stubs(text, source="solutions/x.py")
    assert raised.value.line == line
    assert problem in raised.value.problem
    assert str(raised.value).startswith(f"solutions/x.py, line {line}: ")


def test_committed_stubs_are_exactly_what_generation_gives():
    """The drift check: edit solutions/digits.py, then run `mnist-lab stubs --write`."""
    assert committed_stubs() == generate_stubs(solution_source())
    report = check_stubs(
        solution_path=REPO_ROOT / "solutions" / "digits.py",
        stubs_path=REPO_ROOT / "exercises" / "digits.py",
    )
    assert report.up_to_date, report.to_dict()


def test_the_stubs_reveal_no_answer_line():
    solution_lines = set(solution_source().splitlines())
    stub_lines = set(committed_stubs().splitlines())
    answers = solution_lines - stub_lines
    assert any("np.argmax" in line for line in answers)
    assert any("model.compile" in line for line in answers)
    assert "raise NotImplementedError" in committed_stubs()
    assert committed_stubs().count("raise NotImplementedError") == 5


def test_drift_is_detected_with_the_first_differing_line(tmp_path):
    solution = tmp_path / "solution.py"
    stubs = tmp_path / "stubs.py"
    solution.write_text(SOLUTION)
    assert not check_stubs(solution_path=solution, stubs_path=stubs).up_to_date  # missing
    write_stubs(solution_path=solution, stubs_path=stubs)
    assert check_stubs(solution_path=solution, stubs_path=stubs).up_to_date
    stubs.write_text(stubs.read_text().replace("Twice x.", "Thrice x."))
    report = check_stubs(solution_path=solution, stubs_path=stubs)
    assert not report.up_to_date
    assert report.first_difference == 2


def test_write_stubs_writes_nothing_when_markers_are_broken(tmp_path):
    solution = tmp_path / "solution.py"
    stubs = tmp_path / "stubs.py"
    solution.write_text("def f():\n    # BEGIN SOLUTION | hint: h\n    return 1\n")
    stubs.write_text("previous\n")
    with pytest.raises(MarkerError):
        write_stubs(solution_path=solution, stubs_path=stubs)
    assert stubs.read_text() == "previous\n"


def test_cli_stubs_check_reports_drift_and_ok(tmp_path):
    solution = tmp_path / "solution.py"
    stubs = tmp_path / "stubs.py"
    solution.write_text(SOLUTION)
    command = [sys.executable, "-m", "mnist_lab", "stubs", "--solution", str(solution)]
    command += ["--stubs", str(stubs)]
    drift = subprocess.run(command, capture_output=True, text=True, check=False)
    assert drift.returncode == 1
    assert "mnist-lab stubs --write" in drift.stderr
    assert subprocess.run([*command, "--write"], capture_output=True, check=False).returncode == 0
    ok = subprocess.run(command, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    solution.write_text("def f():\n    # END SOLUTION\n")
    broken = subprocess.run(command, capture_output=True, text=True, check=False)
    assert broken.returncode == 2
    assert f"mnist-lab: error: {solution}, line 2: END SOLUTION without" in broken.stderr


def test_a_long_hint_is_written_as_ruff_formats_it():
    """A hint too long for one line of 100 goes on a line of its own, as ruff format puts it."""
    hint = "Input(shape=(784,)) -> Dense(128, relu) -> Dense(10, softmax); compile"
    solution = f"def f():\n    # BEGIN SOLUTION | hint: {hint}\n    return 1\n    # END SOLUTION\n"
    stubs = generate_stubs(solution)
    assert f'    raise NotImplementedError(\n        "{hint}"\n    )\n' in stubs
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--stdin-filename", "stub.py", "-"],
        input=stubs, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    assert max(len(line) for line in stubs.splitlines()) <= 100


def function_docs(text: str) -> dict[str, str]:
    tree = ast.parse(text)
    return {
        node.name: ast.get_docstring(node)
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }


def test_the_stubs_say_what_students_have_and_what_goes_in_and_out():
    stubs = committed_stubs()
    module = ast.get_docstring(ast.parse(stubs))
    assert "otter check digits.py -t tests" in module  # the command students have
    assert "mnist-lab" not in stubs  # the instructor's tool, which students do not have
    assert "0 = background" in module
    assert "255 = full ink" in module
    assert "Input(784)" not in stubs  # not valid Keras: keras.Input(shape=(784,))
    docs = function_docs(stubs)
    assert list(docs) == ["normalize", "flatten", "build_model", "predict_digit", "confusion"]
    assert "keras.Input(shape=(784,))" in docs["build_model"]
    for shape in ("(n, 784)", "(n, 10)"):
        assert shape in docs["build_model"]
    for shape in ("(1, 784)", "(1, 10)"):
        assert shape in docs["predict_digit"]
    for name, doc in docs.items():
        assert re.search(r"^See .*``", doc, flags=re.MULTILINE), f"{name}: no API pointer"


def test_the_docstring_examples_hold_for_the_reference():
    from mnist_lab.solutions import digits

    docs = function_docs(solution_source())
    pattern = r"``(confusion\(.*?\))``.*?gives ``(\[\[.*?\]\])``"
    example = re.search(pattern, docs["confusion"], flags=re.DOTALL)
    assert example, docs["confusion"]
    matrix = eval(example[1], {"confusion": digits.confusion})  # the docstring's own call
    assert matrix.tolist() == ast.literal_eval(example[2])
    assert "``images[i, r, c]``" in docs["flatten"]
    assert "``result[i, 28 * r + c]``" in docs["flatten"]
    images = np.random.default_rng(3).integers(0, 256, size=(2, 28, 28))
    result = digits.flatten(images)
    i, r, c = 1, 5, 17
    assert result[i, 28 * r + c] == images[i, r, c]


def test_the_readmes_table_of_functions_is_generated_from_the_assignment(repo_root: Path) -> None:
    """Drift check, like the stubs': README.md's table equals what the assignment gives."""
    from mnist_lab import readme_table
    from mnist_lab.assignment import load_assignment

    solution = repo_root / "solutions" / "digits.py"
    assignment = load_assignment(tests_dir=repo_root / "autograder" / "tests", solution=solution)
    assert not readme_table.readme_drift(repo_root / "README.md", solution, assignment)
    table = readme_table.function_table(solution.read_text("utf-8"), assignment)
    assert [line.split("`")[1].split("(")[0] for line in table.splitlines()[2:-1]] == list(
        assignment.names
    )
    assert f"**{assignment.points:g}**" in table
