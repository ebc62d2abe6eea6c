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
from collections.abc import Iterable

_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _parents(relative: str) -> list[str]:
    parents = []
    while (relative := os.path.dirname(relative)) not in ("", "/"):
        parents.append(relative)
    return parents


def _kept_names(kept: set[str], here: str) -> set[str]:
    """The names of the kept folders directly in folder ``here``."""
    return {os.path.basename(name) for name in kept if os.path.dirname(name) == here}


def _identity(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino


def _open_child(parent: int, name: str) -> int:
    try:
        return os.open(name, _OPEN_DIR, dir_fd=parent)
    except PermissionError:  # a folder its owner made unreadable: the owner may fix that
        os.chmod(name, 0o700, dir_fd=parent)
        return os.open(name, _OPEN_DIR, dir_fd=parent)


def _remove(parent: int, name: str, *, remove=os.unlink) -> None:
    """``remove`` (os.unlink, or os.rmdir for an emptied folder) ``name`` in ``parent``, which
    its owner may have made read-only."""
    try:
        remove(name, dir_fd=parent)
    except PermissionError:
        os.fchmod(parent, 0o700)
        remove(name, dir_fd=parent)


def _first_subfolder(fd: int, skip: set[str]) -> str | None:
    """Remove the files (and links) directly in ``fd``; the name of one subfolder not in
    ``skip``, if any."""
    try:
        names = os.listdir(fd)
    except PermissionError:
        os.fchmod(fd, 0o700)
        names = os.listdir(fd)
    for name in names:
        if name in skip:
            continue
        try:
            info = os.lstat(name, dir_fd=fd)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(info.st_mode):
            return name
        _remove(fd, name)
    return None


def empty_folder(path: str | os.PathLike, *, keep: Iterable[str] = ()) -> None:
    """Remove everything inside ``path`` (the folder itself stays) but the folders ``keep``
    names (relative paths: the interpreter bound inside a private /tmp) and those on their way."""
    kept = {os.path.normpath(name) for name in keep}
    on_the_way = {parent for name in kept for parent in _parents(name)}
    fd = os.open(os.fspath(path), _OPEN_DIR)
    here = ""  # the open folder, relative to path
    skip = _kept_names(kept, here)  # its subfolders not to descend (again)
    trail: list[tuple[str, tuple[int, int], set[str]]] = []  # (name, parent identity, its skip)
    try:
        while True:
            child = _first_subfolder(fd, skip)
            if child is not None:
                trail.append((child, _identity(fd), skip))
                below = _open_child(fd, child)
                os.close(fd)
                fd = below
                here = os.path.join(here, child)
                skip = _kept_names(kept, here)
                continue
            if not trail:
                return
            name, parent_identity, skip = trail.pop()
            above = os.open("..", _OPEN_DIR, dir_fd=fd)
            os.close(fd)
            fd = above
            if _identity(fd) != parent_identity:
                raise OSError(f"a folder inside {os.fspath(path)} moved while it was removed")
            if here in on_the_way:
                skip.add(name)  # emptied, but it holds a kept folder
            else:
                _remove(fd, name, remove=os.rmdir)
            here = os.path.dirname(here)
    finally:
        os.close(fd)


def remove_folder(path: str | os.PathLike) -> None:
    """Remove ``path`` and everything in it; a missing folder is fine."""
    try:
        empty_folder(path)
    except FileNotFoundError:
        return
    os.rmdir(path)
