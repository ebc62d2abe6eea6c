"""--points: the autograder's cases scaled to an instructor's total, the same for every grader."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from mnist_lab.assignment import cases_of_source
from mnist_lab.grading.grade import grade_submission
from mnist_lab.grading.package import write_autograder
from mnist_lab.grading.testfiles import TestFilesError as PackageError
from mnist_lab.grading.testfiles import autograder_sources, write_public_tests

REPO_ROOT = Path(__file__).resolve().parents[2]


def total(sources: dict[str, str]) -> float:
    return sum(c.points for name, s in sources.items() for c in cases_of_source(s, f"{name}.py")[1])


@pytest.mark.parametrize("wanted", [100.0, 50.0, 7.0, 1234.5])
def test_scaled_cases_add_up_to_the_total_and_nothing_else_changes(wanted):
    original = autograder_sources()
    scaled = autograder_sources(total_points=wanted)
    assert total(original) == 80
    assert total(scaled) == pytest.approx(wanted, abs=1e-4)
    for name in original:
        before, after = original[name].splitlines(), scaled[name].splitlines()
        assert len(before) == len(after)
        changed = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
        assert changed, name
        assert all("points" in b and "points" in a for b, a in changed), name
        # every case keeps its share of the whole
        for case_before, case_after in zip(
            cases_of_source(original[name], f"{name}.py")[1],
            cases_of_source(scaled[name], f"{name}.py")[1],
            strict=True,
        ):
            assert case_after.points == pytest.approx(case_before.points * wanted / 80, abs=1e-5)
            assert case_after.hidden == case_before.hidden


@pytest.mark.parametrize("bad", [0.0, -5.0, float("nan"), float("inf")])
def test_a_total_that_is_not_a_positive_number_is_refused(bad):
    with pytest.raises(PackageError, match="--points must be a positive number"):
        autograder_sources(total_points=bad)


def test_public_tests_carry_the_scaled_points(tmp_path):
    write_public_tests(out_dir=tmp_path, total_points=100)
    text = (tmp_path / "normalize.py").read_text()
    assert "@test_case(points=2.5, hidden=False, name=" in text


@pytest.mark.slow
def test_the_scaled_zip_grades_the_reference_to_the_total_and_the_stubs_to_zero(tmp_path):
    archive = write_autograder(out_dir=tmp_path / "zip", total_points=100)
    tests_dir = tmp_path / "tests"
    with zipfile.ZipFile(archive) as opened:
        for name in opened.namelist():
            if name.startswith("tests/") and name.endswith(".py"):
                (tests_dir / Path(name).name).parent.mkdir(exist_ok=True)
                (tests_dir / Path(name).name).write_bytes(opened.read(name))
    reference = grade_submission(
        submission=REPO_ROOT / "solutions" / "digits.py", tests_dir=tests_dir, time_limit=120
    )
    assert reference.max_score == pytest.approx(100)
    assert reference.score == pytest.approx(100)
    stubs = grade_submission(submission=REPO_ROOT / "exercises" / "digits.py", tests_dir=tests_dir)
    assert stubs.score == 0
    assert stubs.max_score == pytest.approx(100)


@pytest.mark.slow
def test_after_a_build_with_100_points_grading_uses_the_builds_points(
    tmp_path, monkeypatch, capsys
):
    """The newcomer's finding: after `build --points 100`, `grade` posted scores out of 80."""
    import csv
    import json

    from mnist_lab.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["build", "--no-execute", "--points", "100"]) == 0
    submission = tmp_path / "digits.py"
    submission.write_text((REPO_ROOT / "solutions" / "digits.py").read_text(), encoding="utf-8")
    capsys.readouterr()
    assert main(["grade", str(submission), "--results", "one.json"]) == 0
    assert "grading with the tests of mnist-lab-release" in capsys.readouterr().err
    one = json.loads((tmp_path / "one.json").read_text())
    assert one["score"] == pytest.approx(100)
    assert sum(test["max_score"] for test in one["tests"]) == pytest.approx(100)
    course = tmp_path / "course"
    course.mkdir()
    (course / "ann.py").write_text(submission.read_text(), encoding="utf-8")
    assert main(["grade", str(course), "--out", "grades", "--jobs", "1"]) == 0
    with open(tmp_path / "grades" / "gradebook.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert (rows[0]["score"], rows[0]["max_score"]) == ("100", "100")
    explicit = write_autograder(out_dir=tmp_path / "zip80")
    assert (
        main(["grade", str(submission), "--results", "r80.json", "--autograder", str(explicit)])
        == 0
    )
    assert json.loads((tmp_path / "r80.json").read_text())["score"] == pytest.approx(80)
