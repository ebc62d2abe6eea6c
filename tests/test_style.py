"""The code follows the project's ruff settings (pyproject.toml): lint and formatting."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CHECKED = ["src", "tests", "solutions", "exercises", "autograder", "benchmarks"]


def ruff(*args: str) -> subprocess.CompletedProcess:
    if shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists():
        pytest.fail("ruff is not installed: pip install '.[test]' installs it")
    executable = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    return subprocess.run(
        [executable, *args, *CHECKED], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_finds_no_lint_errors():
    completed = ruff("check", "--output-format", "concise")
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_ruff_format_leaves_every_file_unchanged():
    completed = ruff("format", "--check")
    assert completed.returncode == 0, completed.stdout + completed.stderr
