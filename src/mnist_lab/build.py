"""Write the assignment release (``mnist-lab build``): everything into a folder, atomically.

The release is assembled in a hidden staging folder next to ``--out`` and moved into place only
when every part has been written, so a failure leaves the previous state untouched. ``--out``
must be absent, empty, or a previous build (recognised by its manifest); anything else is refused
before a byte is written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from mnist_lab import __version__
from mnist_lab.data import SAMPLE_RESOURCE
from mnist_lab.stubs import STUDENT_MODULE, generate_stubs, solution_source

MANIFEST = ".mnist-lab-build.json"
DEFAULT_OUT = Path("mnist-lab-release")


class BuildError(RuntimeError):
    """The release cannot be written where it was asked to go."""


@dataclass(frozen=True)
class BuildOptions:
    """What an instructor can choose about the release."""

    assignment_name: str = "MNIST digit recognition"


@dataclass
class BuildResult:
    """What a build wrote."""

    out: Path
    files: list[str] = field(default_factory=list)  # relative to out, sorted

    def to_dict(self) -> dict:
        return {"out": str(self.out), "files": self.files}


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


STEPS: list[tuple[str, Step]] = [
    ("student stubs (digits.py)", write_student_stubs),
    ("MNIST sample for offline use", write_data_sample),
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
    parent = out.resolve().parent
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
        manifest = {"mnist_lab_version": __version__, "files": files}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        _replace_folder(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildResult(out=out, files=files)


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
