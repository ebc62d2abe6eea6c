"""The assignment is defined once: adding (or removing) a function is the solution's region, its
test file and ``mnist-lab stubs --write``, and every output follows.

The end-to-end tests do it for real in a copy of the project: the copy is installed into a folder
of its own (``pip install --target``, offline, no dependencies) and every command runs with that
folder first on ``PYTHONPATH``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mnist_lab import assignment
from mnist_lab.assignment import AssignmentError, functions_of_solution, load_assignment

REPO = Path(__file__).resolve().parents[1]

ACCURACY = '''

def accuracy(y_true, y_pred):
    """The share of predictions that are right.

    Raises
    ------
    ValueError
        If the two have different lengths.
    """
    # BEGIN SOLUTION | hint: compare the two arrays element by element
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"different lengths: {y_true.shape} and {y_pred.shape}")
    return float(np.mean(y_true == y_pred))
    # END SOLUTION
'''
# Written the way otter's documentation shows: plain calls, assert, try/except of the
# exception the student's function raises.
ACCURACY_TESTS = '''from otter.test_files import test_case

OK_FORMAT = False
name = "accuracy"
points = 5


@test_case(points=2, hidden=False)
def test_counts_right_answers(accuracy):
    """the share of right answers"""
    assert accuracy([1, 2, 3, 4], [1, 2, 0, 4]) == 0.75


@test_case(points=3, hidden=True)
def test_refuses_different_lengths(accuracy):
    """different lengths raise ValueError"""
    try:
        accuracy([1, 2], [1])
    except ValueError:
        return
    raise AssertionError("accuracy([1, 2], [1]) did not raise ValueError")
'''


def test_the_functions_are_the_solutions_marked_ones_in_order() -> None:
    source = "def a():\n    # BEGIN SOLUTION | hint: x\n    pass\n    # END SOLUTION\n\n"
    source += "def helper():\n    return 1\n\n"
    source += "def b():\n    # BEGIN SOLUTION | hint: y\n    pass\n    # END SOLUTION\n"
    assert functions_of_solution(source) == ("a", "b")
    with pytest.raises(AssignmentError, match="no function holds"):
        functions_of_solution("def helper():\n    return 1\n")


def test_solution_and_tests_must_agree(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    shutil.copy(REPO / "autograder" / "tests" / "normalize.py", tests / "normalize.py")
    solution = tmp_path / "digits.py"
    solution.write_text((REPO / "solutions" / "digits.py").read_text(), encoding="utf-8")
    with pytest.raises(AssignmentError, match=r"defines flatten, .* no test file"):
        load_assignment(tests_dir=tests, solution=solution)
    for name in ("flatten", "build_model", "predict_digit", "confusion"):
        shutil.copy(REPO / "autograder" / "tests" / f"{name}.py", tests / f"{name}.py")
    (tests / "extra.py").write_text(ACCURACY_TESTS.replace('"accuracy"', '"extra"'))
    with pytest.raises(AssignmentError, match=r"tests extra, which .* does not define"):
        load_assignment(tests_dir=tests, solution=solution)


def test_a_built_autograders_files_keep_the_order_in_their_names(tmp_path: Path) -> None:
    for number, name in enumerate(("zeta", "alpha", "mid"), start=1):
        (tmp_path / f"{number:02d}-{name}.py").write_text("")
    assert list(assignment.test_files(tmp_path)) == ["zeta", "alpha", "mid"]


# --- for real, in a copy of the project --------------------------------------------------------


def _copy_project(target: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = REPO / name.decode()
        if source.is_file():
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode())
    return target


class Project:
    """A copy of the project, installed in a folder of its own, and its commands."""

    def __init__(self, root: Path, site: Path) -> None:
        self.root, self.site = root, site

    def install(self) -> None:
        shutil.rmtree(self.site, ignore_errors=True)
        self.run(
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
            "--no-build-isolation", "--target", str(self.site), str(self.root),
        )  # fmt: skip

    def run(self, *command: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(self.site), "TF_CPP_MIN_LOG_LEVEL": "3"}
        done = subprocess.run(
            command, cwd=cwd or self.root, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def mnist_lab(self, *arguments: str) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-m", "mnist_lab", *arguments)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(_copy_project(tmp_path / "project"), tmp_path / "site")


def _add_accuracy(project: Project) -> None:
    solution = project.root / "solutions" / "digits.py"
    solution.write_text(solution.read_text(encoding="utf-8") + ACCURACY, encoding="utf-8")
    (project.root / "autograder" / "tests" / "accuracy.py").write_text(ACCURACY_TESTS)
    project.mnist_lab("stubs", "--write")


def _otter_score(results: dict) -> float:
    return results.get("score", sum(test.get("score", 0) for test in results["tests"]))


def _grade_everywhere(project: Project, release: Path) -> dict:
    """The reference graded by the harness, by otter run and in a batch; what each said."""
    zip_path = release / "autograder" / "autograder.zip"
    reference = project.root / "solutions" / "digits.py"
    results = project.root / "harness.json"
    project.mnist_lab(
        "grade", str(reference), "--results", str(results), "--autograder", str(zip_path)
    )
    otter_out = project.root / "otter"
    otter_out.mkdir()
    project.run(
        sys.executable,
        "-m",
        "otter",
        "run",
        "-a",
        str(zip_path),
        "-o",
        str(otter_out),
        str(reference),
    )
    course = project.root / "course"
    course.mkdir()
    shutil.copy(reference, course / "ann.py")
    project.mnist_lab("grade", str(course), "--out", str(project.root / "grades"), "--jobs", "1",
                      "--autograder", str(zip_path))  # fmt: skip
    with open(project.root / "grades" / "gradebook.csv", newline="", encoding="utf-8") as stream:
        gradebook = list(csv.DictReader(stream))
    return {
        "harness": json.loads(results.read_text()),
        "otter": _otter_score(json.loads((otter_out / "results.json").read_text())),
        "gradebook": gradebook,
        "feedback": (project.root / "grades" / "feedback" / "ann.html").read_text("utf-8"),
        "guide": (release / "instructor" / "grading-guide.md").read_text("utf-8"),
        "zip": zipfile.ZipFile(zip_path).namelist(),
        "student": sorted(p.name for p in (release / "student" / "tests").glob("*.py")),
        "stubs": (release / "student" / "digits.py").read_text("utf-8"),
        "readme": (project.root / "README.md").read_text("utf-8"),
    }


@pytest.mark.slow
def test_adding_a_function_is_its_region_its_test_file_and_stubs_write(project: Project) -> None:
    _add_accuracy(project)
    project.install()
    release = project.root / "release"
    project.mnist_lab("build", "--no-execute", "--out", str(release))
    seen = _grade_everywhere(project, release)
    harness, otter = seen["harness"], seen["otter"]
    assert harness["score"] == 85
    assert {t["name"] for t in harness["tests"] if t["name"].startswith("accuracy")} == {
        "accuracy: the share of right answers",
        "accuracy: different lengths raise ValueError",
    }
    assert otter == pytest.approx(85)
    assert seen["gradebook"][0]["accuracy"] == "5"
    assert seen["gradebook"][0]["max_score"] == "85"
    assert "accuracy" in seen["feedback"]
    assert "| `accuracy` | 5 |" in seen["guide"]
    assert "tests/06-accuracy.py" in seen["zip"]
    assert "accuracy.py" in seen["student"]
    assert 'raise NotImplementedError("compare the two arrays element by element")' in seen["stubs"]
    assert "| `accuracy(y_true, y_pred)` |" in seen["readme"]
    project.mnist_lab("stubs")  # no drift left


@pytest.mark.slow
def test_removing_a_function_is_the_same_steps_backwards(project: Project) -> None:
    solution = project.root / "solutions" / "digits.py"
    text = solution.read_text(encoding="utf-8")
    start = text.index("\ndef confusion(")
    solution.write_text(text[:start].rstrip() + "\n", encoding="utf-8")
    (project.root / "autograder" / "tests" / "confusion.py").unlink()
    project.mnist_lab("stubs", "--write")
    project.install()
    release = project.root / "release"
    project.mnist_lab("build", "--no-execute", "--out", str(release))
    seen = _grade_everywhere(project, release)
    assert seen["harness"]["score"] == 60
    assert not any(t["name"].startswith("confusion") for t in seen["harness"]["tests"])
    assert seen["otter"] == pytest.approx(60)
    assert "confusion" not in seen["gradebook"][0]
    assert "confusion" not in seen["guide"]
    assert not any("confusion" in name for name in seen["zip"] + seen["student"])
    assert "def confusion" not in seen["stubs"]
    assert "`confusion(" not in seen["readme"]
