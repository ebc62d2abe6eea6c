"""Gradescope's autograder: ``autograder.zip`` and the grading wheel inside it.

``write_autograder`` builds ``autograder.zip`` with ``otter generate``: the test files (their
points scaled on request, named ``NN-<function>.py`` so that they keep the assignment's order
without the solution), the mnist-lab grading wheel and a ``run_autograder`` that grades with
mnist-lab's harness. ``otter run -a autograder.zip digits.py`` grades with the same test files in
otter's own in-process way.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

from mnist_lab.archives import FIXED_DATE, zip_entry
from mnist_lab.errors import UserError
from mnist_lab.grading.testfiles import autograder_sources, write_test_files


class PackageError(UserError):
    """The autograder could not be packaged (bad output folder, otter failed, ...)."""


# --- the Gradescope autograder zip ---------------------------------------------------------------

AUTOGRADER_ZIP = "autograder.zip"
# The parts of mnist_lab the grader needs (nothing a student could use as an answer beyond the
# reference normalize/flatten the harness needs; no solutions, notebook, quiz or templates).
WHEEL_PACKAGES = ("mnist_lab.grading", "mnist_lab.autograder")
WHEEL_TOP_LEVEL_FILES = (
    "__init__.py",
    "assignment.py",
    "archives.py",
    "constants.py",
    "errors.py",
    "files.py",
)
WHEEL_REQUIREMENTS = ("numpy", "tensorflow", "otter-grader[grading]")
PINNED_DISTRIBUTIONS = ("tensorflow", "keras", "numpy")
RUN_AUTOGRADER = """#!/bin/bash
# Grades with mnist-lab's harness (student code in a sandboxed worker process), not otter's
# in-process runner; writes /autograder/results/results.json.
export PATH=/root/miniforge3/bin:$PATH
eval "$(mamba shell hook --shell bash)"
mamba activate otter-env
export TF_CPP_MIN_LOG_LEVEL=2
python -m mnist_lab.grading.gradescope
"""


def _package_files(package: str) -> list[tuple[str, bytes]]:
    """``(path inside the wheel, bytes)`` of every file of an installed package (no caches)."""
    root = resources.files(package)
    prefix = package.replace(".", "/")
    found: list[tuple[str, bytes]] = []

    def walk(folder: Any, relative: str) -> None:
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name == "__pycache__" or entry.name.endswith((".pyc", ".pyo")):
                continue
            path = f"{relative}/{entry.name}" if relative else entry.name
            if entry.is_dir():
                walk(entry, path)
            else:
                found.append((f"{prefix}/{path}", entry.read_bytes()))

    walk(root, "")
    return found


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def write_grading_wheel(*, out_dir: Path) -> Path:
    """A wheel of the grading part of mnist-lab, built from the INSTALLED package.

    Works the same from an editable checkout and from a wheel install in CI: files are read with
    importlib.resources, never from the source tree.
    """
    from mnist_lab import __version__

    files: list[tuple[str, bytes]] = []
    top = resources.files("mnist_lab")
    for name in WHEEL_TOP_LEVEL_FILES:
        files.append((f"mnist_lab/{name}", top.joinpath(name).read_bytes()))
    for package in WHEEL_PACKAGES:
        files += _package_files(package)
    dist_info = f"mnist_lab-{__version__}.dist-info"
    metadata = "\n".join(
        ["Metadata-Version: 2.1", "Name: mnist-lab", f"Version: {__version__}"]
        + [f"Requires-Dist: {requirement}" for requirement in WHEEL_REQUIREMENTS]
        + ["Summary: mnist-lab's grading harness and autograder tests (grading subset)", ""]
    )
    wheel = "Wheel-Version: 1.0\nGenerator: mnist-lab\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files += [(f"{dist_info}/METADATA", metadata.encode()), (f"{dist_info}/WHEEL", wheel.encode())]
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files)
    record += f"{dist_info}/RECORD,,\n"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel_path = out_dir / f"mnist_lab-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files:
            archive.writestr(zip_entry(path), data)
        archive.writestr(zip_entry(f"{dist_info}/RECORD"), record)
    return wheel_path


def _requirements(wheel_name: str) -> str:
    from importlib import metadata

    lines = []
    for distribution in PINNED_DISTRIBUTIONS:
        try:
            lines.append(f"{distribution}=={metadata.version(distribution)}")
        except metadata.PackageNotFoundError:
            lines.append(distribution)
    # Gradescope unpacks the zip into /autograder/source; otter puts support files in files/.
    lines.append(f"/autograder/source/files/{wheel_name}")
    return "\n".join(lines) + "\n"


def write_autograder(*, out_dir: Path, total_points: float | None = None) -> Path:
    """Build ``out_dir/autograder.zip`` for Gradescope with ``otter generate``.

    The zip holds otter's setup (``setup.sh``, ``environment.yml`` with pinned requirements and
    the mnist-lab grading wheel), the five test files and the fixture (inside the wheel), and a
    ``run_autograder`` that grades with mnist-lab's harness. ``otter run -a autograder.zip
    digits.py`` grades with the same test files in otter's own in-process way.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise PackageError(f"--out {out_dir} exists and is not a folder")
    with tempfile.TemporaryDirectory(prefix="mnist-lab-autograder-") as temp:
        stage = Path(temp)
        tests = stage / "tests"
        tests.mkdir()
        write_test_files(autograder_sources(total_points=total_points), tests)
        wheel = write_grading_wheel(out_dir=stage)
        (stage / "requirements.txt").write_text(_requirements(wheel.name), encoding="utf-8")
        python_version = f"{sys.version_info.major}.{sys.version_info.minor}"
        command = [
            sys.executable, "-m", "otter", "generate",
            "-t", "tests", "-o", "generated.zip", "-r", "requirements.txt",
            "--no-config", "--no-environment", "--python-version", python_version,
            wheel.name,
        ]  # fmt: skip
        completed = subprocess.run(
            command, cwd=stage, capture_output=True, text=True, timeout=300, check=False
        )
        generated = stage / "generated.zip"
        if completed.returncode != 0 or not generated.is_file():
            detail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
            raise PackageError("otter generate failed: " + " | ".join(detail))
        final = stage / AUTOGRADER_ZIP
        with (
            zipfile.ZipFile(generated) as source,
            zipfile.ZipFile(final, "w", zipfile.ZIP_DEFLATED) as target,
        ):
            for info in source.infolist():
                data = source.read(info)
                if info.filename == "run_autograder":
                    data = RUN_AUTOGRADER.encode()
                info.date_time = FIXED_DATE  # otter stamps the build time; builds must repeat
                target.writestr(info, data)
        out_dir.mkdir(parents=True, exist_ok=True)
        destination = out_dir / AUTOGRADER_ZIP
        shutil.copyfile(final, destination.with_suffix(".zip.partial"))
        os.replace(destination.with_suffix(".zip.partial"), destination)
    return destination
