"""Remove whatever tree a submission left, however deep, without following a link out of it.

Used by the worker's zygote (wiping the scratch folder between two sessions) and by the grader
(removing a scratch folder after grading). Both run after every process of the submission is
dead, so nothing moves under them; each step up is still checked against the folder it came
from. The walk is iterative and holds one folder open at a time: a 3,000-deep chain of folders
(RecursionError in ``shutil.rmtree``, paths longer than PATH_MAX) is removed like any other.

Imports nothing from mnist_lab: the worker receives this source over its channel.
"""

from __future__ import annotations

import os
import stat

_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _identity(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino


def _open_child(parent: int, name: str) -> int:
    try:
        return os.open(name, _OPEN_DIR, dir_fd=parent)
    except PermissionError:  # a folder its owner made unreadable: the owner may fix that
        os.chmod(name, 0o700, dir_fd=parent)
        return os.open(name, _OPEN_DIR, dir_fd=parent)


def _unlink(parent: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=parent)
    except PermissionError:
        os.fchmod(parent, 0o700)
        os.unlink(name, dir_fd=parent)


def _first_subfolder(fd: int) -> str | None:
    """Remove the files (and links) directly in ``fd``; the name of one subfolder, if any."""
    try:
        names = os.listdir(fd)
    except PermissionError:
        os.fchmod(fd, 0o700)
        names = os.listdir(fd)
    for name in names:
        try:
            info = os.lstat(name, dir_fd=fd)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(info.st_mode):
            return name
        _unlink(fd, name)
    return None


def empty_folder(path: str | os.PathLike) -> None:
    """Remove everything inside ``path`` (the folder itself stays)."""
    fd = os.open(os.fspath(path), _OPEN_DIR)
    trail: list[tuple[str, tuple[int, int]]] = []  # (folder name, identity of its parent)
    try:
        while True:
            child = _first_subfolder(fd)
            if child is not None:
                parent_identity = _identity(fd)
                below = _open_child(fd, child)
                os.close(fd)
                fd = below
                trail.append((child, parent_identity))
                continue
            if not trail:
                return
            name, parent_identity = trail.pop()
            above = os.open("..", _OPEN_DIR, dir_fd=fd)
            os.close(fd)
            fd = above
            if _identity(fd) != parent_identity:
                raise OSError(f"a folder inside {os.fspath(path)} moved while it was removed")
            try:
                os.rmdir(name, dir_fd=fd)
            except PermissionError:
                os.fchmod(fd, 0o700)
                os.rmdir(name, dir_fd=fd)
    finally:
        os.close(fd)


def remove_folder(path: str | os.PathLike) -> None:
    """Remove ``path`` and everything in it; a missing folder is fine."""
    try:
        empty_folder(path)
    except FileNotFoundError:
        return
    os.rmdir(path)
