"""Find the submissions of a whole course: files, folders, and LMS bulk downloads.

``collect_submissions`` turns what an instructor hands to ``mnist-lab grade`` (files, folders,
zips as Gradescope, Canvas and Moodle bulk downloads name and nest them) into one ``Submission``
per student, with the student's identity taken from those names. The files to grade are copied
into a staging folder, so a batch grades exactly the bytes it recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class CollectError(Exception):
    """The inputs as a whole cannot be used (missing path, unreadable zip, clashing students)."""


@dataclass(frozen=True)
class Student:
    """Who a submission belongs to, as far as the LMS's names tell."""

    key: str  # unique in a batch, safe as a file name: names results/<key>.json
    name: str = ""  # display name ("" when unknown)
    lms: str = "files"  # "gradescope" | "canvas" | "moodle" | "files"
    lms_id: str = ""  # Canvas user id, Moodle participant id, Gradescope submission id
    sid: str = ""  # the student's own id when the LMS tells it (Gradescope's sid)
    email: str = ""


@dataclass(frozen=True)
class Submission:
    """One student's submission: the file to grade, or why there is none."""

    student: Student
    origin: str  # where it came from, for people: "canvas.zip: smithjohn_123_456_digits.py"
    path: Path | None  # the staged .py / .ipynb to grade; None when ``problem`` is set
    problem: str | None = None  # why it cannot be graded ("no .py or .ipynb file", ...)
