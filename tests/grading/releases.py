"""The student part of a real release (what ``mnist-lab build`` hands out), built for a test."""

from __future__ import annotations

from pathlib import Path

from mnist_lab import build

STUDENT_STEPS = (
    build.write_student_stubs,
    build.write_data_sample,
    build.write_public_checks,
    build.write_student_notebook,
    build.write_quiz_files,
    build.write_student_readme,
    build.write_student_zip,
)


def write_student_release(folder: Path) -> Path:
    """``folder/student/`` and ``folder/student.zip`` as the build writes them (about 2 s)."""
    options = build.BuildOptions(execute_notebook=False)
    for step in STUDENT_STEPS:
        step(folder, options)
    return folder
