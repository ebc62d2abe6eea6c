"""Removing what a submission left: everything but the interpreter bound inside a private /tmp."""

from __future__ import annotations

import os
from pathlib import Path

from mnist_lab.grading import cleanup


def tree(root: Path) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(folder, name), root)
        for folder, folders, files in os.walk(root)
        for name in folders + files
    )


def plant(root: Path, folders: list[str], files: list[str]) -> None:
    for folder in folders:
        (root / folder).mkdir(parents=True)
    for file in files:
        (root / file).write_text("x", encoding="utf-8")


def test_empty_folder_removes_everything_but_the_folder(tmp_path: Path) -> None:
    plant(tmp_path, ["a/b", "c"], ["a/b/f", "a/g", "h"])
    os.symlink("/", tmp_path / "c" / "out")  # a link is removed, never followed
    cleanup.empty_folder(tmp_path)
    assert tree(tmp_path) == []


def test_empty_folder_keeps_the_named_folders_and_empties_the_ones_on_their_way(
    tmp_path: Path,
) -> None:
    """A clone under /tmp: its venv is bound inside the worker's private /tmp; wiping /tmp
    between sessions leaves it (and the folders leading to it) and removes the rest."""
    plant(
        tmp_path,
        ["tmp.1/main/.venv/lib", "tmp.1/other", "student"],
        ["tmp.1/main/.venv/lib/site.py", "tmp.1/main/planted", "tmp.1/planted", "student/f"],
    )
    cleanup.empty_folder(tmp_path, keep=["tmp.1/main/.venv"])
    assert tree(tmp_path) == [
        "tmp.1",
        "tmp.1/main",
        "tmp.1/main/.venv",
        "tmp.1/main/.venv/lib",
        "tmp.1/main/.venv/lib/site.py",
    ]
