"""Hostile submissions, graded for real (worker processes, TensorFlow, the shipped test files).

Each snippet in ``hostile/`` is appended to the reference or to the stubs (its first line says
which). Every test states the exact outcome: which functions keep all their points, which get
none, that the results file is valid and ours, and that the run stayed within its time bound.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from importlib import resources
from pathlib import Path

import pytest

from mnist_lab.grading import sandbox
from mnist_lab.grading.grade import GradingResult, default_tests_dir, grade_submission
from mnist_lab.grading.gradescope import run_gradescope

pytestmark = pytest.mark.slow

HOSTILE = Path(__file__).parent / "hostile"
FUNCTIONS = ("normalize", "flatten", "build_model", "confusion", "predict_digit")


def base_source(kind: str) -> str:
    package = "mnist_lab.solutions" if kind == "reference" else "mnist_lab.exercises"
    return resources.files(package).joinpath("digits.py").read_text(encoding="utf-8")


def compose(name: str, folder: Path, **placeholders: str) -> Path:
    """The base named on the snippet's first line, then the snippet, as ``folder/digits.py``."""
    snippet = (HOSTILE / f"{name}.py").read_text(encoding="utf-8")
    kind = snippet.splitlines()[0].removeprefix("# base:").strip()
    for key, value in placeholders.items():
        snippet = snippet.replace(f"@{key}@", value)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "digits.py"
    path.write_text(base_source(kind) + "\n\n" + snippet, encoding="utf-8")
    return path


def points_by_function(result: GradingResult) -> dict[str, tuple[float, float]]:
    totals: dict[str, list[float]] = {}
    for case in result.tests:
        earned, possible = totals.setdefault(case.function, [0.0, 0.0])
        totals[case.function] = [earned + case.score, possible + case.max_score]
    return {name: (earned, possible) for name, (earned, possible) in totals.items()}


def assert_valid_results(path: Path, result: GradingResult) -> dict:
    """The file on disk is valid Gradescope JSON and is exactly what the grader computed."""
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == json.loads(json.dumps(result.to_dict()))
    assert data["score"] == pytest.approx(sum(test["score"] for test in data["tests"]))
    for test in data["tests"]:
        assert 0 <= test["score"] <= test["max_score"]
        assert test["name"].split(":")[0] in FUNCTIONS
        assert test["visibility"] in ("visible", "after_published")
    return data


def assert_outcome(result: GradingResult, *, full: set[str], zero: set[str]) -> None:
    assert full | zero == set(FUNCTIONS)
    points = points_by_function(result)
    assert {name for name, (earned, possible) in points.items() if earned == possible} == full
    assert {name for name, (earned, _) in points.items() if earned == 0} == zero


def grade(path: Path, tmp_path: Path, **options) -> tuple[GradingResult, dict]:
    results = tmp_path / "out" / "results.json"
    result = grade_submission(submission=path, results_path=results, **options)
    return result, assert_valid_results(results, result)


def test_syntax_error_scores_zero_and_names_the_line(tmp_path: Path) -> None:
    path = compose("syntax_error", tmp_path / "sub")
    line = next(
        number
        for number, text in enumerate(path.read_text().splitlines(), start=1)
        if text.startswith("return")
    )
    result, data = grade(path, tmp_path)
    assert data["score"] == 0
    assert all(case.score == 0 for case in result.tests)
    assert f"syntax error at line {line}" in data["output"]
    assert all(f"line {line}" in case.output for case in result.tests)


def test_exception_at_import_scores_zero_with_the_reason(tmp_path: Path) -> None:
    result, data = grade(compose("import_exception", tmp_path / "sub"), tmp_path)
    assert data["score"] == 0
    assert "Importing your code raised NameError" in data["output"]
    assert "load_everything" in result.tests[0].output


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("sys_exit_import", "called sys.exit()"),
        ("os_exit_import", "exited with status 0"),
    ],
)
def test_exit_at_import_scores_zero_and_results_are_written(
    tmp_path: Path, name: str, reason: str
) -> None:
    result, data = grade(compose(name, tmp_path / "sub"), tmp_path)
    assert data["score"] == 0
    assert len(data["tests"]) == len(result.tests) > 20
    assert reason in data["output"]


def test_infinite_loop_fails_only_that_function_within_bounded_time(tmp_path: Path) -> None:
    result, _ = grade(compose("infinite_loop", tmp_path / "sub"), tmp_path, time_limit=4)
    assert_outcome(
        result, full={"flatten", "build_model", "confusion", "predict_digit"}, zero={"normalize"}
    )
    normalize_cases = [case for case in result.tests if case.function == "normalize"]
    assert "timed out after 4 s" in normalize_cases[0].output
    # Two timeouts, then the rest of normalize's cases are not run: bounded by ~2 x (4 s + start).
    assert "was not run again" in normalize_cases[-1].output
    assert result.execution_time < 90


def test_exit_inside_calls_fails_only_those_functions(tmp_path: Path) -> None:
    result, _ = grade(compose("os_exit_call", tmp_path / "sub"), tmp_path)
    assert_outcome(
        result,
        full={"normalize", "build_model", "predict_digit"},
        zero={"flatten", "confusion"},
    )
    flatten_case = next(case for case in result.tests if case.function == "flatten")
    assert "exited with status 0" in flatten_case.output
    confusion_case = next(case for case in result.tests if case.function == "confusion")
    assert "SystemExit" in confusion_case.output


def test_patching_numpy_builtins_and_otter_earns_nothing(tmp_path: Path) -> None:
    result, data = grade(compose("patch_checks", tmp_path / "sub"), tmp_path)
    assert data["score"] == 0
    assert not any(case.passed for case in result.tests)


def test_objects_that_equal_anything_fail(tmp_path: Path) -> None:
    result, _ = grade(compose("always_equal", tmp_path / "sub"), tmp_path)
    assert_outcome(
        result,
        full={"build_model", "confusion", "predict_digit"},
        zero={"normalize", "flatten"},
    )


def test_forged_results_files_do_not_change_ours(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    os.chmod(out, 0o777)  # even where the worker may write, the grader's file wins
    results = out / "results.json"
    path = compose(
        "forged_results", tmp_path / "sub", RESULTS_PATH=str(results), RESULTS_DIR=str(out)
    )
    result = grade_submission(submission=path, results_path=results)
    data = assert_valid_results(results, result)
    assert data["score"] == 0
    assert all(test["name"] != "forged" for test in data["tests"])
    assert path.parent.joinpath("results.json").exists() is False  # it ran in its own scratch


def test_floods_of_odd_output_change_nothing(tmp_path: Path) -> None:
    result, data = grade(compose("flood_output", tmp_path / "sub"), tmp_path)
    assert_outcome(result, full=set(FUNCTIONS), zero=set())
    assert "bytes of output" in data["output"]
    json.dumps(data, ensure_ascii=True)  # everything in the results is plain text


def test_memory_hog_is_stopped_and_only_its_function_fails(tmp_path: Path) -> None:
    result, _ = grade(
        compose("memory_hog", tmp_path / "sub"), tmp_path, memory_limit_bytes=1536 * 2**20
    )
    assert_outcome(
        result, full={"flatten", "build_model", "confusion", "predict_digit"}, zero={"normalize"}
    )
    normalize_case = next(case for case in result.tests if case.function == "normalize")
    assert "1536 MB memory limit" in normalize_case.output


@pytest.mark.skipif(
    not sandbox.running_as_root(),
    reason="only a root grader can run the worker as another user and hide files from it",
)
def test_the_worker_cannot_read_tests_fixtures_or_solutions(request: pytest.FixtureRequest) -> None:
    """Graded as on Gradescope, in a world-readable /autograder-like folder."""
    root = Path(tempfile.mkdtemp(prefix="mnist-lab-autograder-"))  # pytest's tmp is private
    request.addfinalizer(lambda: shutil.rmtree(root))
    os.chmod(root, 0o755)
    tests_dir = root / "source" / "tests"
    shutil.copytree(default_tests_dir(), tests_dir)
    (root / "run_autograder").write_text("#!/bin/bash\n")
    package = Path(str(resources.files("mnist_lab")))
    git = next((p / ".git" for p in package.parents if (p / ".git").is_dir()), root / "no-git")
    secrets = {
        "SOURCE_DIR": str(root / "source"),
        "FIXTURES_DIR": str(default_tests_dir().parent / "fixtures"),
        "SOLUTIONS_DIR": str(resources.files("mnist_lab.solutions")),
        "PACKAGE_DIR": str(package),
        "GIT_DIR": str(git),
    }
    # A probe case (in confusion's file, 1 point more), graded in the grader, fails when the
    # worker could read anything secret.
    confusion = tests_dir / "confusion.py"
    confusion.write_text(
        confusion.read_text(encoding="utf-8").replace("points = 20", "points = 21")
        + "\n\n@test_case(points=1, hidden=True)\n"
        "def test_probe(stolen):\n"
        '    """nothing secret is readable"""\n'
        "    found = stolen()\n"
        "    assert found == {}, f'the worker read {sorted(found)[:5]}'\n",
        encoding="utf-8",
    )
    compose("read_secrets", root / "submission", **secrets)
    watched = [Path(value) for value in secrets.values() if Path(value).exists()]
    modes_before = {path: stat.S_IMODE(os.stat(path).st_mode) for path in watched}
    result = run_gradescope(root=root)
    probe = next(case for case in result.tests if case.name.endswith("nothing secret is readable"))
    assert probe.passed, probe.output
    assert_outcome(result, full=set(FUNCTIONS), zero=set())
    assert_valid_results(root / "results" / "results.json", result)
    # Nothing was hidden by changing permissions: the sandbox's view simply lacks them.
    assert {path: stat.S_IMODE(os.stat(path).st_mode) for path in watched} == modes_before
