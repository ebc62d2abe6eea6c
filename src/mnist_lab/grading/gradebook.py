"""What a batch's grades become: files an instructor uploads to the LMS, pages students read.

``write_gradebooks`` turns the graded submissions of a course into

* ``gradebook.csv``: everything about every student, for the instructor;
* ``canvas.csv``: Canvas's gradebook import (Grades > Import);
* ``moodle.csv``: Moodle's assignment "offline grading worksheet" upload;
* ``feedback/<key>.html``: one self-contained page per student.

Every file is UTF-8 and written atomically (a temp file in the same folder, then a rename), and
all of them are rendered before the first is written, so bad input leaves nothing behind.

A student's page shows the points of each function (public and hidden checks together) and the
name and feedback of every failed VISIBLE check. Hidden checks appear only in aggregate, as
"n hidden checks: x of y points" per function; their names and outputs never reach a page.

The LMS layouts and what they were checked against:

Canvas (``canvas.csv``), from Canvas's own importer and exporter (instructure/canvas-lms,
``lib/gradebook_importer.rb`` and ``lib/gradebook_exporter.rb``):

* The header row must start with a column containing "Student" and one containing "ID"
  (``row_has_student_headers?``); "SIS User ID" followed by "SIS Login ID" are recognised as
  identity columns, and the last identity column must be "Section" (``header?``,
  ``update_column_count``). This is the exporter's header: Student, ID, SIS User ID,
  SIS Login ID, Section, then one column per assignment titled ``title_with_id``,
  ``"<title> (<id>)"``.
* An assignment column is matched by the id in ``"<title> (<digits>)"`` (``Assignment.
  title_and_id``: ``/\\A(.*)\\s\\((\\d+)\\)\\z/``), else by its exact title, else Canvas offers to
  create a new assignment.
* A student is matched by the Canvas user id in "ID", else by "SIS User ID"/"SIS Login ID",
  else by exact name (``process_student``); anyone else is shown as an unknown student that the
  instructor must resolve by hand. Rows without a Canvas id are therefore reported as unmatched.
* The "Points Possible" row is optional: a row is read as one only if its first cell contains
  "Points Possible" (``check_for_non_student_row``), and its values set the assignment's points
  (``process_pp``). It is left out here, so an import never changes the points of the
  instructor's assignment.
* Scores are plain numbers; a decimal comma is also read (``decimal_comma_to_period``); an empty
  cell is "no score" and changes nothing (``no_score?``), which is what an ungraded row gets.

Moodle (``moodle.csv``), from the importer of the "offline grading worksheet" (moodle/moodle,
``mod/assign/feedback/offline/importgradeslib.php`` and ``locallib.php``; strings from
``mod/assign/lang/en/assign.php``):

* The importer finds its columns by their (translated) header: "Identifier"
  (``recordid``), "Grade" (``gradenoun``; ``grade`` in older versions, also "Grade") and
  "Last modified (grade)" (``lastmodifiedgrade``) are required, else the upload fails
  (``invalidgradeimport``); a feedback plugin's column is found by its name ("Feedback
  comments"). Other columns (Full name, Email address, Status, Maximum Grade, Grade can be
  changed, Last modified (submission)) are what the downloaded worksheet has and are ignored.
  The headers are the ENGLISH strings: a Moodle whose user language is not English looks for
  translated headers.
* "Identifier" is ``"Participant <id>"``: the importer cuts the length of ``hiddenuser``
  ("Participant ") off the front and looks the rest up as the assignment's participant id
  (``get_user_id_for_uniqueid``); a row it cannot resolve is skipped.
* "Grade" is read with ``unformat_float`` (a plain number with a "." is read in any locale);
  an empty grade or one outside 0..the assignment's maximum is skipped.
* "Last modified (grade)" is read with PHP's ``strtotime``; unless the instructor ticks "ignore
  modified", a row is skipped when Moodle's grade is more than 60 s newer. It gets the time of
  grading in ISO 8601 (``2024-03-05T14:30:00+00:00``), which strtotime reads.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from mnist_lab import __version__
from mnist_lab.errors import UserError
from mnist_lab.files import write_text_atomically
from mnist_lab.grading.collect import Submission, readable_text
from mnist_lab.grading.grade import CaseResult, GradingResult
from mnist_lab.templating import (
    content_security_policy,
    environment,
    format_number,
    inline_asset,
)

GRADEBOOK_CSV = "gradebook.csv"
CANVAS_CSV = "canvas.csv"
MOODLE_CSV = "moodle.csv"
FEEDBACK_DIR = "feedback"
FEEDBACK_TEMPLATE = "feedback.html"
QUIZ_STYLE = ("mnist_lab.quiz", "quiz.css")
FEEDBACK_STYLE = ("mnist_lab.templates", "feedback.css")

IDENTITY_COLUMNS = ("key", "name", "lms", "lms_id", "sid", "email")
CANVAS_STUDENT_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_COLUMNS = (
    "Identifier",
    "Full name",
    "Email address",
    "Status",
    "Grade",
    "Maximum Grade",
    "Grade can be changed",
    "Last modified (submission)",
    "Last modified (grade)",
    "Feedback comments",
)
MOODLE_PARTICIPANT = "Participant "
GRADED = "graded"
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A key names feedback/<key>.html: one path component, no hidden file, no control character,
# valid Unicode (the gradebook's link to the page must name the file written).
KEY_PATTERN = re.compile(r"[^/\\\x00-\x1f\x7f\ud800-\udfff]{1,150}")


class GradebookError(UserError, ValueError):
    """The graded submissions cannot be written as gradebooks (duplicate keys, bad names...)."""


@dataclass(frozen=True)
class GradedSubmission:
    """A submission and what grading it gave."""

    submission: Submission
    result: GradingResult | None  # None: the grader could not grade it; ``error`` says why
    error: str | None = None


@dataclass(frozen=True)
class GradebookFiles:
    """What ``write_gradebooks`` wrote, and the rows an LMS will not match by id."""

    gradebook: Path
    canvas: Path
    moodle: Path
    feedback_dir: Path
    feedback: dict[str, Path]  # student key -> the student's page
    students: int = 0
    # Keys of students listed without a Canvas user id / Moodle participant id: the LMS cannot
    # match them by id (Canvas still tries SIS ids and the exact name; Moodle skips them).
    canvas_unmatched: tuple[str, ...] = ()
    moodle_unmatched: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # anything else worth a warning (different maximum scores)

    def warnings(self) -> list[str]:
        """What the instructor should know before uploading (for the CLI to print)."""
        warnings = list(self.notes)
        for lms, file, unmatched, consequence in (
            ("Canvas", self.canvas, self.canvas_unmatched, "Canvas can match them only by name"),
            ("Moodle", self.moodle, self.moodle_unmatched, "Moodle skips them"),
        ):
            # A course on one LMS has no ids of the other: warn only about a mix.
            if unmatched and len(unmatched) < self.students:
                shown = ", ".join(unmatched[:10]) + (", ..." if len(unmatched) > 10 else "")
                warnings.append(
                    f"{file.name}: {len(unmatched)} of {self.students} students have no {lms} "
                    f"id ({shown}); {consequence}"
                )
        if self.students and len(self.canvas_unmatched) == len(self.moodle_unmatched) == (
            self.students
        ):
            warnings.append(
                f"no student came from a Canvas or Moodle download: {self.canvas.name} can be "
                f"matched by name only and {self.moodle.name} not at all"
            )
        return warnings

    def to_dict(self) -> dict[str, Any]:
        return {
            "gradebook": str(self.gradebook),
            "canvas": str(self.canvas),
            "moodle": str(self.moodle),
            "feedback_dir": str(self.feedback_dir),
            "feedback": {key: str(path) for key, path in self.feedback.items()},
            "students": self.students,
            "canvas_unmatched": list(self.canvas_unmatched),
            "moodle_unmatched": list(self.moodle_unmatched),
            "warnings": self.warnings(),
        }


# --- one student's figures -------------------------------------------------------------------


@dataclass(frozen=True)
class _FunctionPoints:
    name: str
    score: float
    max_score: float
    hidden_count: int
    hidden_score: float
    hidden_max: float


@dataclass(frozen=True)
class _Row:
    """One student, as every output needs them."""

    graded: GradedSubmission
    status: str  # GRADED, or "not graded: ..." or the submission's problem
    kind: str  # "graded" | "problem" | "error"
    functions: dict[str, _FunctionPoints]

    @property
    def student(self):
        return self.graded.submission.student

    @property
    def result(self) -> GradingResult | None:
        return self.graded.result

    @property
    def display_name(self) -> str:
        return self.student.name.strip() or self.student.key

    @property
    def feedback_path(self) -> str:
        return f"{FEEDBACK_DIR}/{self.student.key}.html"


def _points(value: float) -> float:
    return round(float(value), 6)


def _function_points(tests: list[CaseResult]) -> dict[str, _FunctionPoints]:
    names = list(dict.fromkeys(case.function for case in tests))  # results keep the order
    points = {}
    for name in names:
        cases = [case for case in tests if case.function == name]
        hidden = [case for case in cases if case.hidden]
        points[name] = _FunctionPoints(
            name=name,
            score=_points(sum(case.score for case in cases)),
            max_score=_points(sum(case.max_score for case in cases)),
            hidden_count=len(hidden),
            hidden_score=_points(sum(case.score for case in hidden)),
            hidden_max=_points(sum(case.max_score for case in hidden)),
        )
    return points


def _row(graded: GradedSubmission) -> _Row:
    submission = graded.submission
    if graded.result is None:
        error = (graded.error or "").strip() or "the grader gave no result"
        return _Row(graded=graded, status=f"not graded: {error}", kind="error", functions={})
    if graded.error is not None:
        raise GradebookError(
            f"student {submission.student.key!r} has both a result and an error "
            f"({graded.error!r}): an error means there is no result"
        )
    functions = _function_points(graded.result.tests)
    if submission.problem:
        return _Row(graded=graded, status=submission.problem, kind="problem", functions=functions)
    return _Row(graded=graded, status=GRADED, kind="graded", functions=functions)


# --- checking the input ----------------------------------------------------------------------


def assignment_name_problem(assignment_name: object) -> str | None:
    """What is wrong with an assignment name for the gradebooks, or None."""
    if not isinstance(assignment_name, str) or not assignment_name.strip():
        return f"the assignment name must be non-empty text, got {assignment_name!r}"
    if any(ord(c) < 32 or ord(c) == 127 for c in assignment_name):
        return f"the assignment name contains a control character: {assignment_name!r}"
    return None


def canvas_assignment_id_problem(canvas_assignment_id: object) -> str | None:
    """What is wrong with a Canvas assignment id, or None (None itself is fine: no id)."""
    if canvas_assignment_id is not None and not re.fullmatch(r"[0-9]+", str(canvas_assignment_id)):
        # Canvas reads the id only as digits in "<name> (<id>)" (Assignment.title_and_id).
        return (
            "the Canvas assignment id must be digits (the number in the assignment's URL, "
            f".../assignments/1234), got {canvas_assignment_id!r}"
        )
    return None


def _check_inputs(
    graded: Sequence[GradedSubmission], assignment_name: str, canvas_assignment_id: str | None
) -> str:
    for problem in (
        assignment_name_problem(assignment_name),
        canvas_assignment_id_problem(canvas_assignment_id),
    ):
        if problem is not None:
            raise GradebookError(problem)
    seen: dict[str, str] = {}
    for item in graded:
        if not isinstance(item, GradedSubmission):
            raise GradebookError(f"expected GradedSubmission objects, got {type(item).__name__}")
        key = item.submission.student.key
        if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key) or key.startswith("."):
            raise GradebookError(
                f"student key {key!r} cannot name a file (it must be 1-150 characters of valid "
                f"Unicode without '/', '\\', control characters or a leading '.')"
            )
        folded = key.casefold()  # feedback/Ann.html and feedback/ann.html clash on macOS
        if folded in seen:
            raise GradebookError(
                f"two submissions have the student key {key!r}"
                + (f" (and {seen[folded]!r})" if seen[folded] != key else "")
                + ": each student must appear once"
            )
        seen[folded] = key
    return assignment_name.strip()


# --- CSV ---------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    """A CSV cell: numbers as written for people (80, not 80.0), text guarded against formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        raise TypeError("a CSV cell is never a bool")
    if isinstance(value, (int, float)):
        return format_number(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv(header: Sequence[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
    writer.writerow([_cell(column) for column in header])
    writer.writerows([[_cell(value) for value in row] for row in rows])
    return buffer.getvalue()


def _function_columns(rows: list[_Row]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [name for name in row.functions if name not in columns]
    return columns


def _gradebook_csv(rows: list[_Row]) -> str:
    functions = _function_columns(rows)
    header = [*IDENTITY_COLUMNS, "origin", "score", "max_score", *functions, "status", "feedback"]
    lines = []
    for row in rows:
        student, result = row.student, row.result
        lines.append(
            [
                *(getattr(student, column) for column in IDENTITY_COLUMNS),
                row.graded.submission.origin,
                result.score if result else None,
                result.max_score if result else None,
                *(
                    row.functions[name].score if name in row.functions else None
                    for name in functions
                ),
                row.status,
                row.feedback_path,
            ]
        )
    return _csv(header, lines)


def _canvas_id(row: _Row) -> str | None:
    student = row.student
    if student.lms == "canvas" and re.fullmatch(r"[0-9]+", student.lms_id.strip()):
        return student.lms_id.strip()
    return None


def _canvas_csv(rows: list[_Row], column: str) -> str:
    lines = []
    for row in rows:
        score = row.result.score if row.result else None  # empty: Canvas changes nothing
        lines.append([row.display_name, _canvas_id(row), None, None, None, score])
    return _csv([*CANVAS_STUDENT_COLUMNS, column], lines)


def _moodle_id(row: _Row) -> str | None:
    student = row.student
    if student.lms == "moodle" and re.fullmatch(r"[0-9]+", student.lms_id.strip()):
        return student.lms_id.strip()
    return None


def _comment(row: _Row) -> str:
    """The "Feedback comments" text: Moodle stores it as HTML, so it is escaped."""
    result = row.result
    if result is None:
        text = "Not graded yet: the grader failed on this submission."
    else:
        parts = [f"Score: {format_number(result.score)} of {format_number(result.max_score)}."]
        if row.kind == "problem":
            parts.insert(0, f"Your submission could not be graded: {row.status}")
        parts += [
            "Points per function: "
            + "; ".join(
                f"{f.name} {format_number(f.score)} of {format_number(f.max_score)}"
                for f in row.functions.values()
            )
            + "."
        ]
        text = " ".join(parts)
    return str(escape(text))


def _moodle_csv(rows: list[_Row], graded_at: str) -> str:
    lines = []
    for row in rows:
        participant = _moodle_id(row)
        result = row.result
        lines.append(
            [
                f"{MOODLE_PARTICIPANT}{participant}" if participant else None,
                row.display_name,
                row.student.email,
                "Graded" if row.kind != "error" else "Not graded",
                result.score if result else None,  # empty: Moodle skips the row's grade
                result.max_score if result else None,
                "Yes",
                None,
                graded_at,
                _comment(row),
            ]
        )
    return _csv(MOODLE_COLUMNS, lines)


# --- feedback pages ----------------------------------------------------------------------------


def _stylesheet() -> str:
    quiz = inline_asset(*QUIZ_STYLE, "</style")
    extra = inline_asset(*FEEDBACK_STYLE, "</style")
    return quiz.rstrip("\n") + "\n\n" + extra


def _feedback_page(row: _Row, assignment_name: str, style: str) -> str:
    result = row.result
    context: dict[str, Any] = {
        "page_title": f"{assignment_name}: feedback for {row.display_name}",
        "assignment": assignment_name,
        "student": row.display_name,
        "status": row.kind,
        "message": row.status.removeprefix("not graded: ") if row.kind != "graded" else "",
        "score": 0.0,
        "max_score": 0.0,
        "functions": list(row.functions.values()),
        "hidden_count": sum(f.hidden_count for f in row.functions.values()),
        "hidden_score": _points(sum(f.hidden_score for f in row.functions.values())),
        "hidden_max": _points(sum(f.hidden_max for f in row.functions.values())),
        # A VISIBLE failed case with its output; a hidden one by its title (what it checks) only:
        # a hidden case's output never reaches the template.
        "failed": [],
        "hidden_failed": [],
        "notes": [],
        "stylesheet": Markup(style),
        "csp": content_security_policy(script=None, style=style),
        "version": __version__,
    }
    if result is not None:
        context["score"] = result.score
        context["max_score"] = result.max_score
        context["failed"] = [
            {
                "name": case.name,
                "output": case.output,
                "score": case.score,
                "max_score": case.max_score,
            }
            for case in result.tests
            if not case.hidden and not case.passed
        ]
        context["hidden_failed"] = [
            {"name": case.name, "score": case.score, "max_score": case.max_score}
            for case in result.tests
            if case.hidden and not case.passed
        ]
        context["notes"] = [note for note in result.notes if note.strip() != row.status.strip()]
    return environment().get_template(FEEDBACK_TEMPLATE).render(**context)


# --- writing -----------------------------------------------------------------------------------


def _timestamp(graded_at: datetime | None) -> str:
    if graded_at is None:
        graded_at = datetime.now(timezone.utc)
    if graded_at.tzinfo is None or graded_at.utcoffset() is None:
        raise GradebookError("graded_at must be timezone-aware (the LMS compares it with its own)")
    return graded_at.astimezone(timezone.utc).isoformat(timespec="seconds")


def _shared_lms_ids(rows: list[_Row]) -> list[str]:
    """One student in two downloads gets two rows with one LMS id: the instructor must choose."""
    notes = []
    for lms, file, lms_id in (
        ("Canvas", CANVAS_CSV, _canvas_id),
        ("Moodle", MOODLE_CSV, _moodle_id),
    ):
        keys: dict[str, list[str]] = {}
        for row in rows:
            if (identifier := lms_id(row)) is not None:
                keys.setdefault(identifier, []).append(row.student.key)
        for identifier, shared in keys.items():
            if len(shared) > 1:
                notes.append(
                    f"{file}: {lms} id {identifier} is on {len(shared)} rows "
                    f"({', '.join(shared)}), one student handed in twice: keep one row before "
                    "uploading"
                )
    return notes


def write_gradebooks(
    *,
    out_dir: Path,
    graded: Sequence[GradedSubmission],
    assignment_name: str,
    canvas_assignment_id: str | None = None,
    graded_at: datetime | None = None,
) -> GradebookFiles:
    """Write gradebook.csv, canvas.csv, moodle.csv and feedback/<key>.html into ``out_dir``.

    ``canvas_assignment_id`` (the number in the Canvas assignment's URL) makes Canvas match the
    column by id; without it Canvas matches the assignment by its exact name. ``graded_at``
    (default: now) is Moodle's "Last modified (grade)". Raises ``GradebookError`` for bad input
    (duplicate or unusable keys, an empty assignment name, a non-numeric Canvas id) before
    anything is written.
    """
    graded = list(graded)
    name = _check_inputs(graded, assignment_name, canvas_assignment_id)
    timestamp = _timestamp(graded_at)
    rows = sorted((_row(item) for item in graded), key=lambda row: row.student.key)

    column = f"{name} ({canvas_assignment_id})" if canvas_assignment_id is not None else name
    style = _stylesheet()
    # Names, origins and outputs can hold what no UTF-8 file can (a file name's undecodable
    # bytes, a lone surrogate a student's code printed): every text is made valid Unicode.
    texts = {
        GRADEBOOK_CSV: readable_text(_gradebook_csv(rows)),
        CANVAS_CSV: readable_text(_canvas_csv(rows, column)),
        MOODLE_CSV: readable_text(_moodle_csv(rows, timestamp)),
    }
    pages = {row.student.key: readable_text(_feedback_page(row, name, style)) for row in rows}

    notes = []
    maxima = sorted({row.result.max_score for row in rows if row.result is not None})
    if len(maxima) > 1:
        notes.append(
            "the submissions were graded out of different maximum scores ("
            + ", ".join(format_number(m) for m in maxima)
            + "): an LMS assignment has one maximum"
        )
    notes += _shared_lms_ids(rows)

    out_dir = Path(out_dir)
    feedback_dir = out_dir / FEEDBACK_DIR
    feedback_dir.mkdir(parents=True, exist_ok=True)
    feedback = {}
    for key, page in pages.items():
        feedback[key] = feedback_dir / f"{key}.html"
        write_text_atomically(feedback[key], page, newline="")
    for file_name, text in texts.items():
        write_text_atomically(out_dir / file_name, text, newline="")
    return GradebookFiles(
        gradebook=out_dir / GRADEBOOK_CSV,
        canvas=out_dir / CANVAS_CSV,
        moodle=out_dir / MOODLE_CSV,
        feedback_dir=feedback_dir,
        feedback=feedback,
        students=len(rows),
        canvas_unmatched=tuple(row.student.key for row in rows if _canvas_id(row) is None),
        moodle_unmatched=tuple(row.student.key for row in rows if _moodle_id(row) is None),
        notes=tuple(notes),
    )


__all__ = [
    "CANVAS_CSV",
    "FEEDBACK_DIR",
    "GRADEBOOK_CSV",
    "MOODLE_CSV",
    "GradebookError",
    "GradebookFiles",
    "GradedSubmission",
    "write_gradebooks",
]
