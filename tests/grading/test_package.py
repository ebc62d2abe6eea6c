"""Packaging: the students' public tests (stand-alone, public cases only), the grading wheel and
autograder.zip, and `otter run -a autograder.zip` agreeing with `mnist-lab grade`."""

from __future__ import annotations

import ast
import json
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mnist_lab.assignment import cases_of_source
from mnist_lab.grading.package import write_autograder, write_grading_wheel
from mnist_lab.grading.testfiles import autograder_sources, write_public_tests

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "solutions" / "digits.py"
STUBS = REPO / "exercises" / "digits.py"
FUNCTIONS = ("normalize", "flatten", "build_model", "predict_digit", "confusion")


def hidden_material() -> dict[str, list[str]]:
    """Per test file: titles, names and source of hidden cases and of helpers only they use."""
    material: dict[str, list[str]] = {}
    for file_name, source in autograder_sources().items():
        tree = ast.parse(source)
        _, cases = cases_of_source(source, file_name)
        public_names = {case.test.test_func.__name__ for case in cases if not case.hidden}
        found = []
        for case in cases:
            if case.hidden:
                found += [case.title, case.test.test_func.__name__]
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        used = set(public_names)  # public cases and the helpers they use, transitively
        while True:
            text = "".join(ast.get_source_segment(source, functions[n]) for n in used)
            more = {n for n in functions if n not in used and n in text}
            if not more:
                break
            used |= more
        public_source = text
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name not in public_names:
                segment = ast.get_source_segment(source, node)
                if node.name.startswith("test_"):
                    found.append(segment)  # a hidden case's whole source
                elif node.name not in public_source:
                    found += [node.name, segment]  # a helper of hidden cases only
        material[file_name] = found
    return material


@pytest.fixture(scope="module")
def public_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("public")
    written = write_public_tests(out_dir=out)
    assert sorted(p.name for p in written) == sorted(f"{f}.py" for f in FUNCTIONS)
    return out


def test_public_tests_hold_no_hidden_case_or_expected_value(public_dir):
    material = hidden_material()
    for name in FUNCTIONS:
        text = (public_dir / f"{name}.py").read_text()
        for item in material[name]:
            assert item not in text, f"{name}.py reveals {item[:80]!r}"
        for secret in ("learn.npz", "fixtures", "LEARN_THRESHOLD", "hidden=True", "solutions"):
            assert secret not in text
        _, cases = cases_of_source(text, f"{name}.py")
        _, all_cases = cases_of_source(autograder_sources()[name], f"{name}.py")
        public = [c for c in all_cases if not c.hidden]
        assert [c.title for c in cases] == [c.title for c in public]
        assert [c.points for c in cases] == [c.points for c in public]
        assert all(not c.hidden for c in cases)


RUN_WITHOUT_MNIST_LAB = """
import importlib.util, json, sys
sys.modules["mnist_lab"] = None  # the student's environment: numpy, tensorflow, otter only
from otter.test_files import ExceptionTestFile
spec = importlib.util.spec_from_file_location("digits", sys.argv[2])
digits = importlib.util.module_from_spec(spec)
spec.loader.exec_module(digits)
scores = {}
for name in ("normalize", "flatten", "build_model", "predict_digit", "confusion"):
    test_file = ExceptionTestFile.from_file(f"{sys.argv[1]}/{name}.py")
    test_file.run(vars(digits))
    scores[name] = [r.passed for r in test_file.test_case_results]
print(json.dumps(scores))
"""


@pytest.mark.slow
def test_public_tests_run_without_mnist_lab(public_dir):
    outcomes = {}
    for submission in (REFERENCE, STUBS):
        completed = subprocess.run(
            [sys.executable, "-c", RUN_WITHOUT_MNIST_LAB, str(public_dir), str(submission)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr[-2000:]
        outcomes[submission.stem, submission.parent.name] = json.loads(
            completed.stdout.strip().splitlines()[-1]
        )
    reference = outcomes["digits", "solutions"]
    stubs = outcomes["digits", "exercises"]
    assert all(all(passed) for passed in reference.values()), reference
    assert not any(any(passed) for passed in stubs.values()), stubs
    assert sum(len(v) for v in reference.values()) == public_case_count()


def public_case_count() -> int:
    return sum(
        not case.hidden
        for name, source in autograder_sources().items()
        for case in cases_of_source(source, f"{name}.py")[1]
    )


def test_public_tests_refuse_a_file_as_output_folder(tmp_path):
    from mnist_lab.grading.testfiles import TestFilesError as PackageError

    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(PackageError, match="not a folder"):
        write_public_tests(out_dir=target)


def test_grading_wheel_holds_the_grader_and_no_solution(tmp_path):
    wheel = write_grading_wheel(out_dir=tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    for needed in (
        "mnist_lab/__init__.py",
        "mnist_lab/constants.py",
        "mnist_lab/errors.py",  # every grading error class derives from UserError
        "mnist_lab/grading/checks.py",
        "mnist_lab/grading/gradescope.py",
        "mnist_lab/autograder/fixtures/learn.npz",
        *(f"mnist_lab/autograder/tests/{f}.py" for f in FUNCTIONS),
    ):
        assert needed in names
    assert not [n for n in names if "solutions" in n or "exercises" in n or "__pycache__" in n]
    record = next(n for n in names if n.endswith(".dist-info/RECORD"))
    assert len(zipfile.ZipFile(wheel).read(record).decode().splitlines()) == len(names)


IMPORT_EVERY_MODULE = """
import importlib, json, pkgutil, sys
sys.path.insert(0, sys.argv[1])
sys.path += sys.argv[2:]  # the dependencies, without .pth files (an editable mnist_lab's)
import mnist_lab
assert mnist_lab.__file__.startswith(sys.argv[1]), mnist_lab.__file__
failed = {}
for module in pkgutil.walk_packages(mnist_lab.__path__, "mnist_lab."):
    try:
        importlib.import_module(module.name)
    except Exception as error:
        failed[module.name] = repr(error)
print(json.dumps(failed))
"""


def test_every_module_of_the_grading_wheel_imports_from_the_wheel_alone(tmp_path):
    """On Gradescope only the wheel's part of mnist_lab is installed: a grading module that
    imports a module the wheel lacks fails there (as gradebook's mnist_lab.templating did)."""
    wheel = write_grading_wheel(out_dir=tmp_path)
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    # -S: no site-packages and no .pth files, so an editable install's finder of mnist_lab
    # cannot supply what the wheel lacks; the dependencies' folders are added back, last.
    dirs = [folder for folder in site.getsitepackages() if Path(folder).is_dir()]
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", IMPORT_EVERY_MODULE, str(tmp_path / "site"), *dirs],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == {}


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    return write_autograder(out_dir=tmp_path_factory.mktemp("zip"))


@pytest.mark.slow
def test_autograder_zip_layout(autograder_zip):
    from importlib import metadata

    from mnist_lab.grading.package import GRADESCOPE_VENV

    archive = zipfile.ZipFile(autograder_zip)
    names = set(archive.namelist())
    assert {"run_autograder", "setup.sh", "requirements.txt", "otter_config.json"} <= names
    assert not names & {"environment.yml", "run_otter.py"}  # otter's conda setup is not used
    tests = sorted(n for n in names if n.startswith("tests/"))
    # No conftest, no helper; numbered so that they keep the assignment's order without it.
    assert tests == [f"tests/{n:02d}-{f}.py" for n, f in enumerate(FUNCTIONS, start=1)]
    for name in FUNCTIONS:
        number = FUNCTIONS.index(name) + 1
        assert archive.read(f"tests/{number:02d}-{name}.py").decode() == autograder_sources()[name]
    support = sorted(n for n in names if n.startswith("files/"))
    assert len(support) == 1
    assert support[0].endswith(".whl")  # a .py support file would break .py grading
    requirements = archive.read("requirements.txt").decode().splitlines()
    assert [line for line in requirements if not line.startswith("#")] == [
        f"tensorflow=={metadata.version('tensorflow')}",
        f"keras=={metadata.version('keras')}",
        f"numpy=={metadata.version('numpy')}",
        f"otter-grader[grading]=={metadata.version('otter-grader')}",
        f"/autograder/source/{support[0]}",
    ]
    setup = archive.read("setup.sh").decode()
    assert f"VENV={GRADESCOPE_VENV}\n" in setup
    assert not GRADESCOPE_VENV.startswith("/root")
    assert "pip install" in setup
    assert '-r "$SOURCE/requirements.txt"' in setup
    for download in ("wget", "curl", "miniforge", "mamba", "conda", "playwright install"):
        assert download not in setup.lower(), download  # registries only: apt and pip
    run_autograder = archive.read("run_autograder").decode()
    assert f"{GRADESCOPE_VENV}/bin/python -m mnist_lab.grading.gradescope" in run_autograder
    assert "chmod go-rwx /autograder/source" in run_autograder
    for script in ("setup.sh", "run_autograder"):
        assert archive.getinfo(script).external_attr >> 16 & 0o777 == 0o755


@pytest.mark.slow
def test_wheel_from_the_zip_grades_when_installed(autograder_zip, tmp_path):
    archive = zipfile.ZipFile(autograder_zip)
    wheel = next(n for n in archive.namelist() if n.endswith(".whl"))
    (tmp_path / "wheel.whl").write_bytes(archive.read(wheel))
    target = tmp_path / "site"
    zipfile.ZipFile(tmp_path / "wheel.whl").extractall(target)  # what pip install unpacks
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import mnist_lab, importlib.util\n"
        "assert mnist_lab.__file__.startswith(sys.argv[1]), mnist_lab.__file__\n"
        "from mnist_lab.grading.grade import grade_in_process\n"
        "spec = importlib.util.spec_from_file_location('digits', sys.argv[2])\n"
        "digits = importlib.util.module_from_spec(spec); spec.loader.exec_module(digits)\n"
        "print(grade_in_process(vars(digits)).score)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code, str(target), str(REFERENCE)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert float(completed.stdout.strip().splitlines()[-1]) == 80.0


def otter_run(zip_path: Path, submission: Path, work: Path) -> dict[str, float]:
    work.mkdir()
    (work / "digits.py").write_bytes(submission.read_bytes())
    subprocess.run(
        [sys.executable, "-m", "otter", "run", "-a", str(zip_path), "-o", str(work), "digits.py"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,  # otter exits 0 even when grading failed: the results file tells
    )
    results = json.loads((work / "results.json").read_text())
    return {t["name"]: float(t["score"]) for t in results["tests"] if "score" in t}


@pytest.mark.slow
@pytest.mark.parametrize("submission", [REFERENCE, STUBS], ids=["reference", "stubs"])
def test_otter_run_on_the_zip_agrees_with_mnist_lab_grade(autograder_zip, submission, tmp_path):
    from mnist_lab.grading.grade import grade_submission

    by_otter = otter_run(autograder_zip, submission, tmp_path / "otter")
    harness = grade_submission(submission=submission, time_limit=120.0)
    by_harness: dict[str, float] = {}
    for case in harness.tests:
        by_harness[case.function] = by_harness.get(case.function, 0.0) + case.score
    assert by_otter == by_harness
    assert sum(by_otter.values()) == (80.0 if submission == REFERENCE else 0.0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("submission", "expected"), [(REFERENCE, "All tests passed!"), (STUBS, "")]
)
def test_otter_check_runs_the_public_tests(public_dir, submission, expected, tmp_path):
    (tmp_path / "digits.py").write_bytes(submission.read_bytes())
    completed = subprocess.run(
        [sys.executable, "-m", "otter", "check", "digits.py", "-t", str(public_dir)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if expected:
        assert expected in completed.stdout, completed.stdout[-2000:] + completed.stderr[-2000:]
    else:
        assert "All tests passed!" not in completed.stdout
        # every public case fails and says why
        assert completed.stdout.count("not written yet") == public_case_count()


def test_public_test_files_read_as_code(tmp_path: Path) -> None:
    """Students open them (the walkthrough's N14: one 23,954-character line of helper source);
    the embedded helpers are one string per line, after a comment that says what they are."""
    for path in write_public_tests(out_dir=tmp_path):
        text = path.read_text(encoding="utf-8")
        assert max(len(line) for line in text.splitlines()) <= 120, path.name
        assert "# The checks' helpers, the same in every file" in text
        ast.parse(text)
