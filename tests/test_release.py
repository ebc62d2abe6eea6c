"""A real `mnist-lab build`: every part is there, nothing students get reveals an answer, and a
second build gives the same bytes."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mnist_lab.assignment import cases_of_source, load_assignment
from mnist_lab.build import MANIFEST, BuildOptions, build_release
from mnist_lab.grading.testfiles import autograder_sources
from mnist_lab.quiz.bank import load_bank
from mnist_lab.quiz.variants import bank_with_variants
from mnist_lab.stubs import BEGIN_MARKER, END_MARKER, solution_source

pytestmark = pytest.mark.slow

EXPECTED_FILES = {
    "student/digits.py",
    "student/mnist_digits.ipynb",
    "student/notebook_helpers.py",
    "student/README.md",
    "student/quiz.html",
    "student/data/mnist_sample.npz",
    "student/data/NOTICE.md",
    *(f"student/tests/{name}.py" for name in autograder_sources()),
    "student.zip",
    "instructor/solutions/digits.py",
    "instructor/mnist_digits_solution.ipynb",
    "instructor/answer-key.html",
    "instructor/grading-guide.md",
    "autograder/autograder.zip",
    "lms/quiz-qti.zip",
    "lms/quiz-moodle.xml",
    "lms/quiz.gift",
}


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("build") / "release"
    build_release(out=out, options=BuildOptions(assignment_name="Digits & Friends"))
    return out


def student_texts(release: Path) -> dict[str, str]:
    """Every file students receive, from the folder and from student.zip, as text."""
    texts = {}
    for path in sorted((release / "student").rglob("*")):
        if path.is_file() and path.suffix != ".npz":
            texts[path.relative_to(release).as_posix()] = path.read_text("utf-8")
    with zipfile.ZipFile(release / "student.zip") as archive:
        for name in archive.namelist():
            if not name.endswith(".npz"):
                texts[f"student.zip:{name}"] = archive.read(name).decode("utf-8")
    return texts


def solution_answer_lines() -> list[str]:
    """The substantial lines inside the reference solution's answer regions."""
    lines, inside = [], False
    for line in solution_source().splitlines():
        if BEGIN_MARKER.match(line):
            inside = True
        elif END_MARKER.match(line):
            inside = False
        elif inside and len(line.strip()) >= 20 and not line.strip().endswith(("(", "[")):
            # whole statements, not an opening like "model.compile(" that prose also uses
            lines.append(line.strip())
    return lines


def hidden_cases() -> list[tuple[str, str, str, list[str]]]:
    """(file, case function name, title, substantial source lines) of every hidden case."""
    found = []
    for file_name, source in autograder_sources().items():
        _, cases = cases_of_source(source, f"{file_name}.py")
        hidden = {case.test.test_func.__name__: case for case in cases if case.hidden}
        bodies = {
            node.name: ast.get_source_segment(source, node).splitlines()[1:]
            for node in ast.parse(source).body
            if isinstance(node, ast.FunctionDef)
        }
        # Lines public cases and helpers share with hidden ones reveal nothing hidden.
        shared = {
            line.strip() for name, body in bodies.items() if name not in hidden for line in body
        }
        for name, case in hidden.items():
            lines = [
                line.strip()
                for line in bodies[name]
                if len(line.strip()) >= 30 and line.strip() not in shared
            ]
            title = case.title
            found.append((file_name, name, title, lines))
    return found


def test_the_release_has_every_part(release):
    files = {p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()}
    assert files - {MANIFEST} == EXPECTED_FILES
    manifest = json.loads((release / MANIFEST).read_text())
    assert set(manifest["files"]) == EXPECTED_FILES
    assert manifest["options"]["assignment_name"] == "Digits & Friends"
    assert "Digits & Friends" in (release / "student" / "README.md").read_text()
    assert "Digits & Friends" in (release / "instructor" / "grading-guide.md").read_text()


def test_student_zip_holds_exactly_the_student_folder(release):
    with zipfile.ZipFile(release / "student.zip") as archive:
        zipped = {name: archive.read(name) for name in archive.namelist()}
    folder = {
        f"student/{p.relative_to(release / 'student').as_posix()}": p.read_bytes()
        for p in (release / "student").rglob("*")
        if p.is_file()
    }
    assert zipped == folder


def test_nothing_students_get_contains_solution_code(release):
    answers = solution_answer_lines()
    assert len(answers) > 15
    for name, text in student_texts(release).items():
        assert "BEGIN SOLUTION" not in text, name
        for line in answers:
            assert line not in text, f"{name} contains the answer line {line!r}"


def test_nothing_students_get_contains_a_hidden_case(release):
    hidden = hidden_cases()
    assert len(hidden) >= 10
    assert sum(len(lines) for *_, lines in hidden) > 30
    texts = student_texts(release)
    for name, text in texts.items():
        for file_name, function_name, _title, lines in hidden:
            assert function_name not in text, f"{name} has hidden case {file_name}.{function_name}"
            for line in lines:
                assert line not in text, f"{name} has code of hidden case {function_name}: {line}"
    # Titles restate the contract (the docstrings say the same), but the public tests must not
    # even list the hidden cases.
    public_tests = {name: text for name, text in texts.items() if "tests/" in name}
    assert len(public_tests) == 10  # five files, in the folder and in student.zip
    for name, text in public_tests.items():
        for _file, _function, title, _lines in hidden:
            assert title not in text, f"{name} lists hidden case {title!r}"
    for path in (release / "student" / "tests").glob("*.py"):
        tree = ast.parse(path.read_text())
        hidden_flags = [
            keyword
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            for keyword in node.keywords
            if keyword.arg == "hidden" and getattr(keyword.value, "value", False) is True
        ]
        assert hidden_flags == [], path.name


def test_nothing_students_get_contains_a_reference_answer_or_correct_marker(release):
    bank = load_bank()
    for name, text in student_texts(release).items():
        for question in bank.questions:
            assert question.reference_answer not in text, f"{name}: {question.id}"
        assert not re.search(r"""["']?correct["']?\s*[:=]\s*(true|True|1)\b""", text), name
        assert 'class="correct"' not in text, name


def test_the_built_quiz_page_holds_no_answer_of_the_built_bank(release):
    """The quiz tests' full answer search (accepted and numeric answers, feedback, reference
    sentences; the stems and options students must read removed first), on the page this build
    wrote, with this build's variants."""
    quiz_tests = importlib.util.spec_from_file_location(
        "quiz_page_checks", Path(__file__).parent / "quiz" / "test_html.py"
    )
    checks = importlib.util.module_from_spec(quiz_tests)
    quiz_tests.loader.exec_module(checks)
    bank = bank_with_variants(load_bank(), seed=0, variants=3)
    assert len(bank.questions) > len(load_bank().questions)
    page = (release / "student" / "quiz.html").read_text()
    with zipfile.ZipFile(release / "student.zip") as archive:
        assert archive.read("student/quiz.html").decode() == page
    assert checks.occurrences(page, bank) == []
    key = (release / "instructor" / "answer-key.html").read_text()
    assert len(checks.occurrences(key, bank, strip_displayed=False)) > 50  # the search works


def test_the_instructor_gets_what_students_must_not(release):
    assert (release / "instructor" / "solutions" / "digits.py").read_text() == solution_source()
    key = (release / "instructor" / "answer-key.html").read_text()
    bank = load_bank()
    slide_question = next(q for q in bank.questions if q.source == "slides")
    assert slide_question.reference_answer.split(".")[0] in key
    guide = (release / "instructor" / "grading-guide.md").read_text()
    total = load_assignment().points
    assert f"**{total:g}**" in guide


def test_the_solution_notebook_was_run_with_its_plots(release):
    notebook = json.loads((release / "instructor" / "mnist_digits_solution.ipynb").read_text())
    outputs = [o for cell in notebook["cells"] for o in cell.get("outputs", [])]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 6
    assert not [o for o in outputs if o.get("output_type") == "error"]
    student = json.loads((release / "student" / "mnist_digits.ipynb").read_text())
    assert all(not cell.get("outputs") for cell in student["cells"])


def test_public_checks_run_with_otter_in_the_release(release, tmp_path):
    """What the student README says: `otter check digits.py -t tests` in the student folder."""
    student = tmp_path / "student"
    with zipfile.ZipFile(release / "student.zip") as archive:
        archive.extractall(tmp_path)
    (student / "digits.py").write_text(solution_source())
    completed = subprocess.run(
        [sys.executable, "-m", "otter", "check", "digits.py", "-t", "tests"],
        cwd=student, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "All tests passed" in completed.stdout or "100" in completed.stdout, completed.stdout


def test_a_second_build_gives_the_same_bytes(release, tmp_path):
    again = tmp_path / "again"
    build_release(
        out=again,
        options=BuildOptions(assignment_name="Digits & Friends", execute_notebook=False),
    )
    for name in sorted(EXPECTED_FILES - {"instructor/mnist_digits_solution.ipynb"}):
        assert (again / name).read_bytes() == (release / name).read_bytes(), name
