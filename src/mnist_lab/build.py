"""Write the assignment release (``mnist-lab build``): everything into a folder, atomically.

The release is assembled in a hidden staging folder next to ``--out`` and moved into place only
when every part has been written, so a failure leaves the previous state untouched. ``--out``
must be absent, empty, or a previous build (recognised by its manifest); anything else is refused
before a byte is written.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from mnist_lab import __version__
from mnist_lab.archives import ArchiveDateError, archive_date, deterministic_zip
from mnist_lab.constants import ASSIGNMENT_NAME, MANIFEST, NOTEBOOK_NAME
from mnist_lab.data import SAMPLE_RESOURCE
from mnist_lab.errors import UserError
from mnist_lab.quiz.build import DEFAULT_VARIANTS
from mnist_lab.quiz.variants import MAX_VARIANTS
from mnist_lab.stubs import STUDENT_MODULE, generate_stubs, solution_source

DEFAULT_OUT = Path("mnist-lab-release")


class BuildError(UserError, RuntimeError):
    """The release cannot be written where it was asked to go."""


@dataclass(frozen=True)
class BuildOptions:
    """What an instructor can choose about the release."""

    assignment_name: str = ASSIGNMENT_NAME
    total_points: float | None = None  # None: the autograder's own 80 points
    quiz_seed: int = 0
    quiz_variants: int = DEFAULT_VARIANTS
    execute_notebook: bool = True  # the instructor's solution notebook with all its outputs
    # A practice-only release: the quiz page shows each model answer after a right response
    # (free text: after any attempt). Off by default: then no model answer is in student/.
    practice_quiz: bool = False

    def __post_init__(self) -> None:
        if not self.assignment_name.strip():
            raise BuildError("--name must not be empty")
        if "\n" in self.assignment_name or len(self.assignment_name) > 200:
            raise BuildError("--name must be one line of at most 200 characters")
        if self.total_points is not None and not (
            math.isfinite(self.total_points) and 0 < self.total_points <= 10_000
        ):
            raise BuildError(f"--points must be between 0 and 10000, got {self.total_points}")
        if self.quiz_seed < 0:
            raise BuildError(f"--quiz-seed must be 0 or more, got {self.quiz_seed}")
        if not 0 <= self.quiz_variants <= MAX_VARIANTS:
            raise BuildError(
                f"--variants must be between 0 and {MAX_VARIANTS}, got {self.quiz_variants}"
            )

    def to_dict(self) -> dict:
        return {
            "assignment_name": self.assignment_name,
            "total_points": self.total_points,
            "quiz_seed": self.quiz_seed,
            "quiz_variants": self.quiz_variants,
            "execute_notebook": self.execute_notebook,
            "practice_quiz": self.practice_quiz,
        }


@dataclass
class BuildResult:
    """What a build wrote."""

    out: Path
    options: BuildOptions
    files: list[str] = field(default_factory=list)  # relative to out, sorted
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "out": str(self.out),
            "options": self.options.to_dict(),
            "files": self.files,
            "seconds": self.seconds,
        }

    def summary(self) -> str:
        """What an instructor reads at the end of a build: where each part went."""
        sizes = {name: (self.out / name).stat().st_size for name in self.files}
        lines = [f"wrote {len(self.files)} files to {self.out}/ in {self.seconds:.0f} s:"]
        for folder, purpose in RELEASE_PARTS.items():
            inside = [name for name in self.files if name.split("/", 1)[0] == folder]
            if inside:
                total = sum(sizes[name] for name in inside)
                lines.append(
                    f"  {folder:<11} {len(inside):>3} file(s) {total / 1e6:7.2f} MB  {purpose}"
                )
        return "\n".join(lines)


RELEASE_PARTS = {
    "student": "hand out to students (student.zip holds the same files)",
    "student.zip": "the student folder as one download",
    "instructor": "keep: solutions, executed notebook, answer key, grading guide",
    "autograder": "upload autograder.zip to Gradescope (or: otter run -a ...)",
    "lms": "import into your LMS: QTI (Canvas, ...), Moodle XML, GIFT",
}
SOLUTION_NOTEBOOK_NAME = "mnist_digits_solution.ipynb"
QUIZ_STAGING = "_quiz"


Step = Callable[[Path, BuildOptions], None]


def write_student_stubs(staging: Path, options: BuildOptions) -> None:
    """student/digits.py: generated from the reference solution, never copied from it."""
    student = staging / "student"
    student.mkdir(parents=True, exist_ok=True)
    (student / STUDENT_MODULE).write_text(generate_stubs(solution_source()), "utf-8")


def write_data_sample(staging: Path, options: BuildOptions) -> None:
    """student/data/: the embedded MNIST sample and its licence notice, for offline work."""
    data = staging / "student" / "data"
    data.mkdir(parents=True, exist_ok=True)
    package_data = resources.files("mnist_lab.data")
    for name in (SAMPLE_RESOURCE, "NOTICE.md"):
        (data / name).write_bytes(package_data.joinpath(name).read_bytes())


def write_public_checks(staging: Path, options: BuildOptions) -> None:
    """student/tests/: the public cases only, runnable without mnist-lab."""
    from mnist_lab.grading.testfiles import write_public_tests

    write_public_tests(out_dir=staging / "student" / "tests", total_points=options.total_points)


def write_student_notebook(staging: Path, options: BuildOptions) -> None:
    """student/mnist_digits.ipynb (no outputs) and notebook_helpers.py, which it imports."""
    from mnist_lab.notebook import write_helpers, write_notebook

    write_notebook(out_path=staging / "student" / NOTEBOOK_NAME)
    write_helpers(out_dir=staging / "student")


def write_quiz_files(staging: Path, options: BuildOptions) -> None:
    """The quiz page to student/, the answer key to instructor/, the LMS files to lms/."""
    from mnist_lab.quiz.build import ANSWER_KEY, STUDENT_PAGE, write_quiz

    quiz = staging / QUIZ_STAGING
    result = write_quiz(
        out_dir=quiz,
        seed=options.quiz_seed,
        variants=options.quiz_variants,
        model_answers=options.practice_quiz,
    )
    destinations = {STUDENT_PAGE: "student", ANSWER_KEY: "instructor"}
    for name in result.files:
        folder = staging / destinations.get(name, "lms")
        folder.mkdir(parents=True, exist_ok=True)
        (quiz / name).rename(folder / name)
    quiz.rmdir()


def _render_markdown(template: str, **context) -> str:
    from mnist_lab.quiz.html import environment

    return environment().get_template(template).render(**context)


def grading_table(options: BuildOptions) -> list[dict]:
    """Every autograder case: ``{"function", "name", "points", "hidden"}``, in file order."""
    from mnist_lab.grading.testfiles import built_assignment

    return [
        {"function": case.function, "name": case.name, "points": case.points, "hidden": case.hidden}
        for case in built_assignment(total_points=options.total_points).cases
    ]


def _points(value: float) -> str:
    return f"{round(value, 4):g}"


def write_student_readme(staging: Path, options: BuildOptions) -> None:
    """student/README.md: what to do, how to check, what to hand in."""
    total = sum(row["points"] for row in grading_table(options))
    text = _render_markdown(
        "student_README.md.j2",
        assignment_name=options.assignment_name,
        notebook_name=NOTEBOOK_NAME,
        total_points=_points(total),
    )
    (staging / "student" / "README.md").write_text(text, "utf-8")


def _table_cell(text: str) -> str:
    """``text`` safe in a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _rubric_rows(question) -> dict:
    """A free-text question for the grading guide, its rubric as Markdown table cells."""
    return {
        "id": question.id,
        "points": question.points,
        "stem": question.stem,
        "reference_answer": question.reference_answer,
        "rubric": [
            {
                "points": _points(item.points),
                "criterion": _table_cell(item.criterion),
                "check": _table_cell(item.check),
            }
            for item in question.rubric
        ],
    }


def write_instructor_files(staging: Path, options: BuildOptions) -> None:
    """instructor/: the reference solution and the grading guide (points per case, and the
    rubric of every free-text quiz question)."""
    from mnist_lab.quiz.bank import load_bank

    instructor = staging / "instructor"
    (instructor / "solutions").mkdir(parents=True, exist_ok=True)
    (instructor / "solutions" / STUDENT_MODULE).write_text(solution_source(), "utf-8")
    rows = grading_table(options)
    functions = []
    for function in dict.fromkeys(row["function"] for row in rows):
        mine = [row for row in rows if row["function"] == function]
        functions.append(
            {
                "function": function,
                "points": _points(sum(r["points"] for r in mine)),
                "public": _points(sum(r["points"] for r in mine if not r["hidden"])),
                "hidden": _points(sum(r["points"] for r in mine if r["hidden"])),
            }
        )
    text = _render_markdown(
        "grading_guide.md.j2",
        assignment_name=options.assignment_name,
        cases=[{**row, "points": _points(row["points"])} for row in rows],
        functions=functions,
        total_points=_points(sum(r["points"] for r in rows)),
        public_points=_points(sum(r["points"] for r in rows if not r["hidden"])),
        hidden_points=_points(sum(r["points"] for r in rows if r["hidden"])),
        free_text_questions=[
            _rubric_rows(question) for question in load_bank().questions if question.type == "text"
        ],
        practice_quiz=options.practice_quiz,
    )
    (instructor / "grading-guide.md").write_text(text, "utf-8")


def write_solution_notebook(staging: Path, options: BuildOptions) -> None:
    """instructor/mnist_digits_solution.ipynb: run top to bottom with the reference solution."""
    from mnist_lab.notebook import write_notebook

    write_notebook(
        out_path=staging / "instructor" / SOLUTION_NOTEBOOK_NAME,
        executed=options.execute_notebook,
        tests_dir=staging / "student" / "tests",
    )


def write_autograder_zip(staging: Path, options: BuildOptions) -> None:
    """autograder/autograder.zip, for Gradescope and for otter run."""
    from mnist_lab.grading.package import write_autograder

    write_autograder(out_dir=staging / "autograder", total_points=options.total_points)


def write_student_zip(staging: Path, options: BuildOptions) -> None:
    """student.zip: the student folder, every file dated the release date (repeatable)."""
    folder = staging / "student"
    files = {
        f"student/{path.relative_to(folder).as_posix()}": path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file()
    }
    (staging / "student.zip").write_bytes(deterministic_zip(files, date=archive_date()))


STEPS: list[tuple[str, Step]] = [
    ("student stubs (digits.py)", write_student_stubs),
    ("MNIST sample for offline use", write_data_sample),
    ("public checks", write_public_checks),
    ("student notebook and its helpers", write_student_notebook),
    ("quiz page, answer key and LMS exports", write_quiz_files),
    ("student README", write_student_readme),
    ("solutions and grading guide", write_instructor_files),
    ("solution notebook (runs it with the reference, about a minute)", write_solution_notebook),
    ("autograder.zip", write_autograder_zip),
    ("student.zip", write_student_zip),
]


def check_out_dir(out: Path) -> None:
    """Refuse an ``out`` that is a file, or a non-empty folder that is not a previous build."""
    if out.exists() and not out.is_dir():
        raise BuildError(f"--out {out}: is a file, expected a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise BuildError(
            f"--out {out}: folder is not empty and is not a previous mnist-lab build "
            f"(no {MANIFEST}); choose an empty or new folder"
        )
    parent = out.resolve().parent
    if not parent.is_dir():
        raise BuildError(f"--out {out}: parent folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BuildError(f"--out {out}: cannot write in {parent} (permission denied)")


def build_release(
    *,
    out: Path = DEFAULT_OUT,
    options: BuildOptions | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> BuildResult:
    """Write the whole release to ``out`` and return what was written."""
    options = options or BuildOptions()
    out = Path(out)
    check_out_dir(out)
    try:
        archive_date()  # a bad SOURCE_DATE_EPOCH is refused before anything is written
    except ArchiveDateError as error:
        raise BuildError(str(error)) from None
    parent = out.resolve().parent
    started = time.perf_counter()
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=parent))
    except OSError as error:  # e.g. a read-only file system, where even root cannot write
        raise BuildError(f"--out {out}: cannot write in {parent} ({error.strerror})") from None
    try:
        for number, (label, step) in enumerate(STEPS, start=1):
            progress(f"[{number}/{len(STEPS)}] {label}")
            step(staging, options)
        files = sorted(
            path.relative_to(staging).as_posix() for path in staging.rglob("*") if path.is_file()
        )
        manifest = {
            "mnist_lab_version": __version__,
            "options": options.to_dict(),
            "files": files,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        _replace_folder(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildResult(out=out, options=options, files=files, seconds=time.perf_counter() - started)


def _replace_folder(staging: Path, out: Path) -> None:
    """Move ``staging`` to ``out``, replacing a previous build only once the new one is whole."""
    if out.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.resolve().parent))
        retired.rmdir()
        out.rename(retired)
        try:
            staging.rename(out)
        except BaseException:
            retired.rename(out)
            raise
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(out)
    out.chmod(0o755)  # mkdtemp makes 0700 folders; a release is meant to be shared
