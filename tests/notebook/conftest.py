"""Fixtures for the notebook tests: the public checks the notebook runs, and digits.py variants."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from mnist_lab.grading.testfiles import write_public_tests


@pytest.fixture(scope="session")
def public_tests_dir(tmp_path_factory) -> Path:
    """The student's tests/ folder: the public checks the build hands out."""
    out_dir = tmp_path_factory.mktemp("public") / "tests"
    write_public_tests(out_dir=out_dir)
    return out_dir


def solution_text() -> str:
    return resources.files("mnist_lab.solutions").joinpath("digits.py").read_text("utf-8")


def stubs_text() -> str:
    return resources.files("mnist_lab.exercises").joinpath("digits.py").read_text("utf-8")


@pytest.fixture
def digits_folder(tmp_path: Path):
    """Write a digits.py into a fresh folder and return the folder."""

    def write(text: str) -> Path:
        folder = tmp_path / "digits"
        folder.mkdir()
        (folder / "digits.py").write_text(text, "utf-8")
        return folder

    return write
