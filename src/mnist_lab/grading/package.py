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
    "templating.py",  # the gradebook's, which grading's input checks import
)
WHEEL_REQUIREMENTS = ("numpy", "tensorflow", "otter-grader[grading]", "jinja2")
# Pinned in the zip's requirements.txt at the versions installed where the zip is built (the
# environment the instructor's mnist-lab runs and was tested in).
PINNED_DISTRIBUTIONS = ("tensorflow", "keras", "numpy", "otter-grader[grading]")
# Gradescope unpacks the zip into /autograder/source and runs setup.sh there once, as root.
GRADESCOPE_SOURCE = "/autograder/source"
# A folder every user can reach: without namespaces the sandbox runs the worker's Python as a
# user of its own, who could not enter /root.
GRADESCOPE_VENV = "/opt/mnist-lab/venv"
# Debian/Ubuntu packages: Python and venv (pip comes with the venv), the CA certificates pip
# needs, and bubblewrap, which gives the sandbox namespaces where the container allows them.
SETUP_APT_PACKAGES = ("python3", "python3-venv", "ca-certificates", "bubblewrap")
# Replaced by the zip's own: otter's setup.sh downloads Miniforge and a browser, its
# environment.yml describes that conda environment and run_otter.py grades in otter's way.
OTTER_FILES_DROPPED = ("environment.yml", "run_otter.py")
SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image. Everything comes
# from package registries: Python, venv and bubblewrap from the system's apt (Debian/Ubuntu), the
# grader's Python packages from PyPI at the versions pinned in requirements.txt, and
# mnist-lab's grading wheel from files/.
set -euo pipefail
umask 022
SOURCE=@SOURCE@
VENV=@VENV@
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends @APT_PACKAGES@
rm -rf "$VENV"
python3 -m venv "$VENV"
if ! "$VENV/bin/python" -m pip install --no-cache-dir --disable-pip-version-check \\
    --progress-bar off -r "$SOURCE/requirements.txt"; then
    echo "setup.sh: pip could not install requirements.txt on $(python3 --version) (apt's" \\
        "python3 here); the pins were taken from mnist-lab's environment on @BUILT_ON@:" \\
        "choose a base image whose python3 those versions support, or rebuild the" \\
        "autograder zip with mnist-lab installed on this image's Python." >&2
    exit 1
fi
# The worker receives what it runs from the grader, so mnist-lab's installed files (the tests
# and the held-out fixture) are closed to every other user.
package=$("$VENV/bin/python" -c "import mnist_lab, os; print(os.path.dirname(mnist_lab.__file__))")
chmod -R go-rwx "$package"
apt-get clean
"""
RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this as root for each submission. It grades with mnist-lab's harness (student
# code in a sandboxed worker process, every verdict in the grader) and always writes
# /autograder/results/results.json; when grading itself failed, that file says so and the exit
# status is not 0.
set -euo pipefail
# Where the container forbids namespaces, only permissions keep the worker (a user of its own)
# from the hidden tests: this folder is the autograder's own, in a throwaway container.
chmod go-rwx @SOURCE@
export TF_CPP_MIN_LOG_LEVEL=2
exec @VENV@/bin/python -m mnist_lab.grading.gradescope
"""


def gradescope_scripts(*, built_on: str) -> dict[str, str]:
    """``{name: text}`` of the zip's ``setup.sh`` and ``run_autograder``."""
    values = {
        "@SOURCE@": GRADESCOPE_SOURCE,
        "@VENV@": GRADESCOPE_VENV,
        "@APT_PACKAGES@": " ".join(SETUP_APT_PACKAGES),
        "@BUILT_ON@": built_on,
    }
    scripts = {"setup.sh": SETUP_SH, "run_autograder": RUN_AUTOGRADER}
    for placeholder, value in values.items():
        scripts = {name: text.replace(placeholder, value) for name, text in scripts.items()}
    return scripts


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


def python_version() -> str:
    """``"3.11"``: the Python the zip's pins were taken from."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _requirements(wheel_name: str) -> str:
    """The zip's requirements.txt: pinned distributions, then the grading wheel."""
    from importlib import metadata

    lines = [f"# pinned from mnist-lab's environment on Python {python_version()}"]
    for requirement in PINNED_DISTRIBUTIONS:
        distribution = requirement.split("[", 1)[0]
        try:
            lines.append(f"{requirement}=={metadata.version(distribution)}")
        except metadata.PackageNotFoundError:
            lines.append(requirement)
    lines.append(f"{GRADESCOPE_SOURCE}/files/{wheel_name}")  # otter puts support files there
    return "\n".join(lines) + "\n"


def write_autograder(*, out_dir: Path, total_points: float | None = None) -> Path:
    """Build ``out_dir/autograder.zip`` for Gradescope with ``otter generate``.

    The zip holds the five test files, mnist-lab's grading wheel (with the fixture) in
    ``files/``, ``requirements.txt`` (pinned versions and the wheel), a ``setup.sh`` that
    installs them from package registries into a venv (apt's Python, PyPI), and a
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
        command = [
            sys.executable, "-m", "otter", "generate",
            "-t", "tests", "-o", "generated.zip", "--no-config", "--no-environment",
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
        _write_gradescope_zip(generated, final, wheel_name=wheel.name)
        out_dir.mkdir(parents=True, exist_ok=True)
        destination = out_dir / AUTOGRADER_ZIP
        shutil.copyfile(final, destination.with_suffix(".zip.partial"))
        os.replace(destination.with_suffix(".zip.partial"), destination)
    return destination


def _write_gradescope_zip(generated: Path, final: Path, *, wheel_name: str) -> None:
    """otter's zip with our setup.sh, run_autograder and requirements.txt in place of its own."""
    ours = gradescope_scripts(built_on=f"Python {python_version()}")
    ours["requirements.txt"] = _requirements(wheel_name)
    with (
        zipfile.ZipFile(generated) as source,
        zipfile.ZipFile(final, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            if info.filename in ours or info.filename in OTTER_FILES_DROPPED:
                continue
            data = source.read(info)
            info.date_time = FIXED_DATE  # otter stamps the build time; builds must repeat
            target.writestr(info, data)
        for name, text in ours.items():
            entry = zip_entry(name)
            if text.startswith("#!"):
                entry.external_attr = 0o755 << 16
            target.writestr(entry, text)
