"""mnist-lab build: what it writes, and how it refuses a bad --out without writing anything."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mnist_lab import __version__
from mnist_lab.archives import RELEASE_DATE, RELEASED_VERSION
from mnist_lab.build import MANIFEST, BuildError, BuildOptions, build_release
from mnist_lab.stubs import committed_stubs

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ("normalize", "flatten", "build_model", "predict_digit", "confusion")
CHECK_COMMAND = "otter check digits.py -t tests"

# The full build, with the executed notebook, is tested once in test_release.py.
FAST = BuildOptions(execute_notebook=False)


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_build_writes_the_generated_stubs_and_the_data_sample(tmp_path):
    out = tmp_path / "release"
    result = build_release(out=out, options=FAST)
    assert (out / "student" / "digits.py").read_text() == committed_stubs()
    assert (out / "student" / "data" / "mnist_sample.npz").stat().st_size > 1_000_000
    assert "CC BY-SA 3.0" in (out / "student" / "data" / "NOTICE.md").read_text()
    assert (out / MANIFEST).is_file()
    assert "student/digits.py" in result.files
    assert result.to_dict()["out"] == str(out)
    assert [p.name for p in tmp_path.iterdir()] == ["release"]  # no staging left behind


def test_rebuilding_over_a_previous_build_replaces_it(tmp_path):
    out = tmp_path / "release"
    build_release(out=out, options=FAST)
    (out / "student" / "stale.txt").write_text("from an older build")
    build_release(out=out, options=FAST)
    assert not (out / "student" / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release"]


def test_an_empty_existing_folder_is_fine(tmp_path):
    out = tmp_path / "release"
    out.mkdir()
    build_release(out=out, options=FAST)
    assert (out / "student" / "digits.py").is_file()


def test_a_file_as_out_is_refused(tmp_path):
    target = tmp_path / "release"
    target.write_text("precious")
    with pytest.raises(BuildError, match="is a file, expected a folder"):
        build_release(out=target, options=FAST)
    assert target.read_text() == "precious"
    assert listing(tmp_path) == ["release"]


def test_a_foreign_non_empty_folder_is_refused_untouched(tmp_path):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("precious")
    with pytest.raises(BuildError, match="not empty and is not a previous mnist-lab build"):
        build_release(out=out, options=FAST)
    assert listing(tmp_path) == ["thesis", "thesis/chapter1.tex"]


def test_an_unwritable_parent_is_refused(tmp_path):
    if os.geteuid() == 0:
        # root ignores permission bits; /sys is a file system where nobody may create folders
        target, pattern = Path("/sys/mnist-lab-release"), "cannot write in /sys"
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        target, pattern = locked / "release", "permission denied"
    with pytest.raises(BuildError, match=pattern):
        build_release(out=target, options=FAST)
    assert not target.exists()


def test_a_missing_parent_is_refused(tmp_path):
    with pytest.raises(BuildError, match=r"parent folder .* does not exist"):
        build_release(out=tmp_path / "no" / "such" / "release", options=FAST)


def test_a_failing_step_leaves_the_previous_build_intact(tmp_path, monkeypatch):
    from mnist_lab import build

    out = tmp_path / "release"
    build_release(out=out, options=FAST)
    before = listing(out)

    def broken_step(staging, options):
        (staging / "half-written.txt").write_text("...")
        raise RuntimeError("disk full")

    monkeypatch.setattr(build, "STEPS", [*build.STEPS, ("broken", broken_step)])
    with pytest.raises(RuntimeError, match="disk full"):
        build_release(out=out, options=FAST)
    assert listing(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release"]


def test_cli_build_reports_progress_and_errors(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "mnist_lab", "build", "--no-execute", "--out"]
    command.append(str(tmp_path / "r"))
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert "[1/" in done.stdout
    assert "[10/10] student.zip" in done.stdout
    assert f"files to {tmp_path / 'r'}/" in done.stdout
    for part in ("student", "instructor", "autograder", "lms"):
        assert f"  {part} " in done.stdout
    (tmp_path / "f").write_text("x")
    command[-1] = str(tmp_path / "f")
    refused = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert refused.returncode == 2
    assert (
        refused.stderr.strip() == f"mnist-lab: error: --out {tmp_path / 'f'}: is a file, "
        "expected a folder"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"assignment_name": "  "}, "--name must not be empty"),
        ({"assignment_name": "a\nb"}, "--name must be one line"),
        ({"quiz_seed": -1}, "--quiz-seed must be 0 or more"),
        ({"total_points": 0.0}, "--points must be between 0 and 10000"),
        ({"total_points": float("nan")}, "--points must be between 0 and 10000"),
        ({"quiz_variants": 21}, "--variants must be between 0 and 20"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(tmp_path, options, message):
    with pytest.raises(BuildError, match=message):
        build_release(out=tmp_path / "release", options=BuildOptions(**options))
    assert listing(tmp_path) == []


def test_points_option_scales_the_guide_the_readme_and_the_public_checks(tmp_path):
    out = tmp_path / "release"
    build_release(out=out, options=BuildOptions(total_points=100, execute_notebook=False))
    guide = (out / "instructor" / "grading-guide.md").read_text()
    assert "| **total** | **100** | 28.75 | 71.25 |" in guide
    assert "(100 points in total)" in (out / "student" / "README.md").read_text()
    assert "points=2.5" in (out / "student" / "tests" / "normalize.py").read_text()


def zip_dates(path: Path) -> set[tuple]:
    with zipfile.ZipFile(path) as archive:
        return {info.date_time for info in archive.infolist()}


def test_student_zip_files_carry_the_release_date_not_1980(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    build_release(out=tmp_path / "release", options=FAST)
    assert zip_dates(tmp_path / "release" / "student.zip") == {RELEASE_DATE}
    assert __version__ == RELEASED_VERSION, "a new version needs its release date in archives.py"


def test_source_date_epoch_dates_student_zip_and_a_bad_one_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01 00:00:00 UTC
    build_release(out=tmp_path / "release", options=FAST)
    assert zip_dates(tmp_path / "release" / "student.zip") == {(2026, 1, 1, 0, 0, 0)}
    for value, message in (("yesterday", "is not a whole number"), ("0", "1970-01-01: a zip")):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
        with pytest.raises(BuildError, match=f"SOURCE_DATE_EPOCH=.*{message}"):
            build_release(out=tmp_path / "refused", options=FAST)
        assert not (tmp_path / "refused").exists()


@pytest.fixture(scope="module")
def student_readme(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("readme") / "release"
    build_release(out=out, options=FAST)
    return (out / "student" / "README.md").read_text("utf-8")


def python_minors(text: str) -> set[int]:
    return {int(minor) for minor in re.findall(r"\b3\.(\d+)\b", text)}


def test_the_student_readme_names_the_pythons_tensorflow_supports(student_readme):
    stated = re.search(r"\*\*Python (3\.\d+(?:, 3\.\d+)* or 3\.\d+)\*\*", student_readme)
    assert stated, "the README must say which Python versions work"
    pyproject = (REPO_ROOT / "pyproject.toml").read_text("utf-8")
    bounds = re.search(r'^requires-python = ">=3\.(\d+),<3\.(\d+)"', pyproject, re.MULTILINE)
    assert bounds, "requires-python gives the same range, with an upper bound"
    required = set(range(int(bounds[1]), int(bounds[2])))
    classifiers = importlib.metadata.metadata("tensorflow").get_all("Classifier")
    tensorflow = python_minors(" ".join(c for c in classifiers if "Python :: 3." in c))
    assert python_minors(stated[1]) == required == tensorflow


def test_the_student_readme_starts_with_a_virtual_environment(student_readme):
    setup = student_readme.index("## Set up")
    venv = student_readme.index("python3 -m venv .venv")
    install = student_readme.index("python -m pip install")
    assert setup < venv < install < student_readme.index("## What to do")
    assert "py -m venv .venv" in student_readme  # Windows
    assert ".venv\\Scripts\\Activate.ps1" in student_readme
    assert "MB" in student_readme[setup:install]  # how much it downloads
    assert "GB on disk" in student_readme[setup:install]


def pip_arguments(readme: str) -> list[str]:
    lines = re.findall(r"^python -m pip install (.+)$", readme, flags=re.MULTILINE)
    assert len(lines) == 2, lines  # bash/zsh and PowerShell
    assert len(set(lines)) == 1, "the same command for every shell"
    return lines


def test_the_install_command_survives_the_shells_globbing(student_readme):
    """zsh, the macOS default, stops at an unquoted [ that matches no file ("no matches
    found"); bash with failglob applies the same rule. Quoted, every argument reaches pip."""
    (arguments,) = set(pip_arguments(student_readme))
    assert '"otter-grader[grading]"' in arguments
    done = subprocess.run(
        ["bash", "-O", "failglob", "-c", f"printf '%s\\n' {arguments}"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == shlex.split(arguments)


def test_the_student_readme_and_digits_agree(student_readme):
    assert CHECK_COMMAND in student_readme
    assert CHECK_COMMAND in committed_stubs()
    table = student_readme[: student_readme.index("## Set up")]
    positions = [table.index(f"`{name}`") for name in FUNCTIONS]
    assert positions == sorted(positions), "the five functions in the order of digits.py"
    assert "notebook_helpers.py" in table


def test_the_student_readme_gives_one_way_to_reload(student_readme):
    """Save digits.py and run the check cell again: the notebook reloads it; no restart."""
    restarts = re.findall(r"[^.]*\brestart[^.]*\.", student_readme)
    assert restarts, "the README says that no restart is needed"
    assert all("no need to restart" in sentence for sentence in restarts), restarts
    assert "run the check cell again" in student_readme
