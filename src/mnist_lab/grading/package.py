"""The autograder's files: the training fixture, Gradescope's autograder.zip, the public tests.

- ``write_learning_fixture`` makes ``autograder/fixtures/learn.npz`` (deterministic: the first
  2,000 training images of the sample, and 500 held-out MNIST test images students never get).
- ``write_autograder`` builds ``autograder.zip`` with ``otter generate``; on Gradescope its
  ``run_autograder`` calls our harness, and ``otter run -a autograder.zip digits.py`` grades with
  the same test files in otter's own way.
- ``write_public_tests`` writes the students' public tests: the public cases only, stand-alone
  (no mnist_lab needed), for ``otter check`` and ``grader.check``.
- ``run_cases_in_process`` runs the test files on functions in this process (otter's way,
  without otter's notebook machinery), for the project's own tests.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from mnist_lab.archives import FIXED_DATE, zip_entry
from mnist_lab.errors import UserError

TEST_FILE_NAMES = ("normalize", "flatten", "build_model", "predict_digit", "confusion")
FIXTURE_NAME = "learn.npz"
FIXTURE_TRAIN_IMAGES = 2_000
FIXTURE_TEST_IMAGES = 500


class PackageError(UserError):
    """The autograder could not be packaged (bad output folder, otter failed, ...)."""


# --- the fixture ---------------------------------------------------------------------------------


def write_learning_fixture(*, out_path: Path, mnist_path: Path) -> Path:
    """Write the "model really learns" fixture from the full MNIST file (deterministic).

    Training images: the first 2,000 of the embedded sample (students have them; training on
    them reveals nothing). Held-out images: MNIST test images 9,500 to 9,999, which are in
    nothing students receive (the sample holds the first 2,000 test images) and never reach the
    student's process: the grader scores them from the trained weights. Made once by a
    developer with ``../shared/data/mnist.npz``; the product never needs that file.
    """
    from mnist_lab.data import load_sample, read_mnist_npz

    (x_train, y_train), _ = load_sample()
    _, (x_test, y_test) = read_mnist_npz(Path(mnist_path))
    held_out = slice(len(x_test) - FIXTURE_TEST_IMAGES, len(x_test))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        x_train=x_train[:FIXTURE_TRAIN_IMAGES],
        y_train=y_train[:FIXTURE_TRAIN_IMAGES],
        x_test=x_test[held_out],
        y_test=y_test[held_out],
    )
    out_path.write_bytes(buffer.getvalue())
    return out_path


# --- the test files ------------------------------------------------------------------------------


def autograder_sources(*, total_points: float | None = None) -> dict[str, str]:
    """``{name: source}`` of the five autograder test files, read from the installed package.

    With ``total_points``, every ``points`` value (each case's and each file's) is scaled so the
    cases add up to ``total_points``: an instructor's assignment may be worth 100 points, and the
    same scaled files go to Gradescope, to ``otter run`` and to the students' public checks, so
    every grader reports the same points.
    """
    folder = resources.files("mnist_lab.autograder").joinpath("tests")
    sources = {name: folder.joinpath(f"{name}.py").read_text("utf-8") for name in TEST_FILE_NAMES}
    if total_points is None:
        return sources
    if not (math.isfinite(total_points) and total_points > 0):
        raise PackageError(f"--points must be a positive number, got {total_points}")
    current = sum(
        float(case.points)
        for name, source in sources.items()
        for case in load_cases(source, name)[1]
    )
    factor = total_points / current
    return {name: _scaled_points(source, factor) for name, source in sources.items()}


def _scaled_points(source: str, factor: float) -> str:
    """``source`` with every literal ``points`` (``test_case(points=...)`` and the module's
    ``points = ...``) multiplied by ``factor``; edited in place so nothing else changes."""
    values: list[ast.Constant] = []
    tree = ast.parse(source)
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(target, "id", None) for target in node.targets] == ["points"]
            and isinstance(node.value, ast.Constant)
        ):
            values.append(node.value)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "test_case":
            for keyword in node.keywords:
                if keyword.arg == "points" and isinstance(keyword.value, ast.Constant):
                    values.append(keyword.value)
    lines = source.splitlines(keepends=True)
    for value in sorted(values, key=lambda v: (v.lineno, v.col_offset), reverse=True):
        line = lines[value.lineno - 1]
        scaled = repr(round(float(value.value) * factor, 6))
        lines[value.lineno - 1] = line[: value.col_offset] + scaled + line[value.end_col_offset :]
    return "".join(lines)


@dataclass
class CaseResult:
    """One case's outcome."""

    name: str  # "normalize: values are x / 255"
    points: float
    score: float
    hidden: bool
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.score == self.points

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "points": self.points,
            "score": self.score,
            "hidden": self.hidden,
            "message": self.message,
        }


@dataclass
class CaseRun:
    """All cases' outcomes, in test-file order."""

    cases: list[CaseResult] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(case.score for case in self.cases)

    @property
    def max_score(self) -> float:
        return sum(case.points for case in self.cases)

    def by_function(self) -> dict[str, float]:
        scores: dict[str, float] = {}
        for case in self.cases:
            function = case.name.split(":", 1)[0]
            scores[function] = scores.get(function, 0.0) + case.score
        return scores

    def failed(self) -> set[str]:
        return {case.name for case in self.cases if not case.passed}

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "max_score": self.max_score,
            "cases": [case.to_dict() for case in self.cases],
        }


def load_cases(source: str, path: str = "<test file>") -> tuple[str, list[Any]]:
    """Execute a test file; ``(name, [test_case, ...])`` in definition order."""
    from otter.test_files import test_case

    namespace: dict[str, Any] = {"__name__": f"mnist_lab_autograder_{Path(path).stem}"}
    exec(compile(source, path, "exec"), namespace)
    cases = [value for value in namespace.values() if isinstance(value, test_case)]
    return str(namespace["name"]), cases


def case_title(case: Any) -> str:
    """The first line of the case function's docstring."""
    doc = (case.test_func.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else case.test_func.__name__


def run_cases_in_process(
    functions: dict[str, Any], *, sources: dict[str, str] | None = None
) -> CaseRun:
    """Run every case with ``functions`` (name -> callable) as otter would, in this process."""
    sources = sources if sources is not None else autograder_sources()
    run = CaseRun()
    for file_name, source in sources.items():
        name, cases = load_cases(source, f"{file_name}.py")
        for case in cases:
            try:
                case.call_func(functions)
            except Exception as error:  # a failed case: its message is the feedback
                score, message = 0.0, f"{type(error).__name__}: {error}"
            else:
                score, message = float(case.points), ""
            run.cases.append(
                CaseResult(
                    f"{name}: {case_title(case)}", float(case.points), score, case.hidden, message
                )
            )
    return run


# --- the students' public tests ------------------------------------------------------------------

CHECKS_IMPORT_BLOCK = re.compile(
    r"^# --- mnist_lab imports.*?^# --- end of mnist_lab imports ---\n", re.S | re.M
)
# What the stand-alone checks need from mnist_lab.grading.protocol, for real functions only.
STANDALONE_DEFINITIONS = '''
import types as _types
from dataclasses import dataclass as _dataclass

modeldata = _types.ModuleType("modeldata")
exec(compile(MODELDATA_SOURCE, "modeldata.py", "exec"), modeldata.__dict__)


class StudentError(Exception):
    """Never raised here: student code runs in this process when students check themselves."""

    type_names: list = []
    message = ""
    type_name = "Exception"


class WorkerFailure(Exception):
    """Never raised here (no worker process)."""


@_dataclass(frozen=True)
class Opaque:
    type_name: str
    repr_text: str


@_dataclass
class ModelSpec:
    """A stack of Dense layers on ``input_dim`` inputs, as data (built with modeldata)."""

    layers: list
    input_dim: int


REFERENCE_HELPERS = None  # students' own normalize/flatten are used when they check themselves
'''


def standalone_checks_source() -> str:
    """checks.py with its mnist_lab imports replaced by self-contained definitions."""
    grading = resources.files("mnist_lab.grading")
    checks_source = grading.joinpath("checks.py").read_text("utf-8")
    modeldata_source = grading.joinpath("modeldata.py").read_text("utf-8")
    if not CHECKS_IMPORT_BLOCK.search(checks_source):
        raise PackageError("checks.py lacks its marked block of mnist_lab imports")
    replacement = f"MODELDATA_SOURCE = {modeldata_source!r}\n{STANDALONE_DEFINITIONS}"
    return CHECKS_IMPORT_BLOCK.sub(lambda _: replacement, checks_source, count=1)


def _is_case(node: ast.stmt) -> bool:
    return isinstance(node, ast.FunctionDef) and any(
        isinstance(d, ast.Call) and getattr(d.func, "id", None) == "test_case"
        for d in node.decorator_list
    )


def _case_is_hidden(node: ast.FunctionDef) -> bool:
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == "test_case":
            for keyword in decorator.keywords:
                if keyword.arg == "hidden":
                    return bool(ast.literal_eval(keyword.value))
    return False


def _defined_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def public_test_source(source: str) -> tuple[str, float]:
    """One test file reduced to its public cases and what they use; ``(source, points)``.

    Kept: the module docstring, ``OK_FORMAT``, ``name``, the imports (checks becomes the
    stand-alone copy), the public cases, and the module-level helpers they use (transitively).
    Everything else (hidden cases, their helpers and data) is left out.
    """
    tree = ast.parse(source)
    definitions: dict[str, ast.stmt] = {}
    for node in tree.body:
        if not _is_case(node):
            for defined in _defined_names(node):
                definitions[defined] = node
    public = [n for n in tree.body if _is_case(n) and not _case_is_hidden(n)]
    needed: set[str] = set()
    pending = [public_node for public_node in public]
    while pending:
        node = pending.pop()
        for child in ast.walk(node):
            if isinstance(child, ast.Name) and child.id in definitions and child.id not in needed:
                needed.add(child.id)
                pending.append(definitions[child.id])
    points = 0.0
    for node in public:
        for decorator in node.decorator_list:
            for keyword in getattr(decorator, "keywords", []):
                if keyword.arg == "points":
                    points += float(ast.literal_eval(keyword.value))
    kept: list[str] = []
    for node in tree.body:
        segment = ast.get_source_segment(source, node, padded=False) or ""
        if isinstance(node, ast.FunctionDef) and node.decorator_list:
            first = node.decorator_list[0]
            segment = "@" + (ast.get_source_segment(source, first) or "") + "\n" + segment
        if node is tree.body[0] and isinstance(node, ast.Expr):
            continue  # the module docstring describes the hidden cases too
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.ImportFrom) and node.module == "mnist_lab.grading":
                kept.append(_STANDALONE_CHECKS_LOADER)
            else:
                kept.append(segment)
        elif _defined_names(node) and _defined_names(node)[0] in ("OK_FORMAT", "name"):
            kept.append(segment)
        elif _defined_names(node) and _defined_names(node)[0] == "points":
            kept.append(f"points = {points:g}")
        elif node in public or any(n in needed for n in _defined_names(node)):
            kept.append(segment)
    text = ""
    for segment in kept:
        spacing = "\n\n\n" if segment.startswith(("def ", "@", "class ")) else "\n"
        text += (spacing if text else "") + segment
    return text + "\n", points


_STANDALONE_CHECKS_LOADER = """import sys as _sys
import types as _types

# The helpers the checks use (mnist_lab's checks.py, made stand-alone): loaded as a module.
checks = _sys.modules.get("mnist_lab_public_checks")
if checks is None:
    checks = _types.ModuleType("mnist_lab_public_checks")
    _sys.modules[checks.__name__] = checks  # dataclasses look their module up there
    exec(compile(CHECKS_SOURCE, "checks.py", "exec"), checks.__dict__)"""


def write_public_tests(*, out_dir: Path, total_points: float | None = None) -> list[Path]:
    """Write the students' public tests (public cases only, stand-alone) into ``out_dir``.

    Each file needs only numpy, tensorflow and otter-grader: ``otter check`` and
    ``grader.check`` run them in the student's environment, without mnist_lab.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise PackageError(f"{out_dir} exists and is not a folder")
    checks_source = standalone_checks_source()
    outputs: dict[Path, str] = {}
    for name, source in autograder_sources(total_points=total_points).items():
        reduced, _ = public_test_source(source)
        header = (
            f'"""Public checks of {name}(), generated by mnist-lab from the autograder.\n\n'
            "Run them with otter check or grader.check. They are the public cases only: the\n"
            'autograder runs more (hidden) cases on your submission."""\n\n'
        )
        loader_at = reduced.index(_STANDALONE_CHECKS_LOADER)
        reduced = (
            reduced[:loader_at] + f"CHECKS_SOURCE = {checks_source!r}\n\n" + reduced[loader_at:]
        )
        outputs[out_dir / f"{name}.py"] = header + reduced
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
    return sorted(outputs)


# --- the Gradescope autograder zip ---------------------------------------------------------------

AUTOGRADER_ZIP = "autograder.zip"
# The parts of mnist_lab the grader needs (nothing a student could use as an answer beyond the
# reference normalize/flatten the harness needs; no solutions, notebook, quiz or templates).
WHEEL_PACKAGES = ("mnist_lab.grading", "mnist_lab.autograder")
WHEEL_TOP_LEVEL_FILES = (
    "__init__.py",
    "constants.py",
    "archives.py",
    "files.py",
    "errors.py",
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
        for name, source in autograder_sources(total_points=total_points).items():
            (tests / f"{name}.py").write_text(source, encoding="utf-8")
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
