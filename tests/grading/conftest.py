"""Fixtures shared by the grading tests."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from mnist_lab.grading import sandbox


class FileModes:
    """Permission bits as they are outside any grading run, and the check that a run restored
    them (the sandbox hides folders from the worker only while it grades)."""

    @staticmethod
    def outside_grading(paths: list[Path]) -> dict[Path, int]:
        recorded = {}
        if sandbox.STATE_FILE.exists():  # another grading run on this machine holds them now
            recorded = json.loads(sandbox.STATE_FILE.read_text()).get("modes", {})
        return {
            path: recorded.get(str(path), stat.S_IMODE(os.stat(path).st_mode)) for path in paths
        }

    @staticmethod
    def assert_restored(originals: dict[Path, int]) -> None:
        if sandbox.STATE_FILE.exists():  # another grading run still holds them
            return
        assert {path: stat.S_IMODE(os.stat(path).st_mode) for path in originals} == originals


@pytest.fixture
def file_modes() -> FileModes:
    return FileModes()
