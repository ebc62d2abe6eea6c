"""The autograder's test files as text: read in the assignment's order, points scaled, and
reduced to the students' stand-alone public checks.

- ``autograder_sources`` gives ``{function: source}`` (points scaled to a total on request: the
  same scaled files go to Gradescope, to ``otter run`` and to the students' public checks);
- ``write_public_tests`` writes the students' public checks: the public cases only, stand-alone
  (no mnist_lab needed), for ``otter check`` and ``grader.check``.
"""

from __future__ import annotations

import ast
import math
import re
import tempfile
from importlib import resources
from pathlib import Path

from mnist_lab import assignment
from mnist_lab.errors import UserError


class TestFilesError(UserError):
    """The test files cannot be prepared as asked (a bad point total, an output folder...)."""


def source_points(source: str) -> float:
    """The sum of a test file's case points, read from its ``@test_case(points=...)`` literals."""
    total = 0.0
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "test_case":
            for keyword in node.keywords:
                if keyword.arg == "points":
                    total += float(ast.literal_eval(keyword.value))
    return total


def autograder_sources(*, total_points: float | None = None) -> dict[str, str]:
    """``{function: source}`` of the autograder's test files, in the assignment's order.

    With ``total_points``, every ``points`` value (each case's and each file's) is scaled so the
    cases add up to ``total_points``: an instructor's assignment may be worth 100 points, and the
    same scaled files go to Gradescope, to ``otter run`` and to the students' public checks, so
    every grader reports the same points.
    """
    folder = resources.files("mnist_lab.autograder").joinpath("tests")
    names = assignment.load_assignment().names
    sources = {name: folder.joinpath(f"{name}.py").read_text("utf-8") for name in names}
    if total_points is None:
        return sources
    if not (math.isfinite(total_points) and total_points > 0):
        raise TestFilesError(f"--points must be a positive number, got {total_points}")
    current = sum(source_points(source) for source in sources.values())
    factor = total_points / current
    return {name: _scaled_points(source, factor) for name, source in sources.items()}


def write_test_files(sources: dict[str, str], folder: Path) -> list[Path]:
    """Write ``sources`` as ``NN-<function>.py`` (the names keep the assignment's order)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, (name, source) in enumerate(sources.items(), start=1):
        paths.append(folder / f"{number:02d}-{name}.py")
        paths[-1].write_text(source, encoding="utf-8")
    return paths


def built_assignment(*, total_points: float | None = None) -> assignment.Assignment:
    """The assignment as a build with ``total_points`` grades it (points scaled)."""
    with tempfile.TemporaryDirectory(prefix="mnist-lab-tests-") as folder:
        write_test_files(autograder_sources(total_points=total_points), Path(folder))
        return assignment.load_assignment(tests_dir=Path(folder))


def _scaled_points(source: str, factor: float) -> str:
    """``source`` with every case's literal ``points`` multiplied by ``factor`` (rounded to 6
    places) and the module's ``points`` set to their exact sum; edited in place so nothing else
    changes."""
    tree = ast.parse(source)
    cases: list[ast.Constant] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "test_case":
            for keyword in node.keywords:
                if keyword.arg == "points" and isinstance(keyword.value, ast.Constant):
                    cases.append(keyword.value)
    cases.sort(key=lambda v: (v.lineno, v.col_offset))
    new = {id(value): round(float(value.value) * factor, 6) for value in cases}
    total = 0.0
    for value in cases:  # the order otter adds them in: the total never exceeds their sum
        total += new[id(value)]
    values = list(cases)
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(target, "id", None) for target in node.targets] == ["points"]
            and isinstance(node.value, ast.Constant)
        ):
            values.append(node.value)
            new[id(node.value)] = total
    lines = source.splitlines(keepends=True)
    for value in sorted(values, key=lambda v: (v.lineno, v.col_offset), reverse=True):
        line = lines[value.lineno - 1]
        replaced = repr(new[id(value)])
        lines[value.lineno - 1] = line[: value.col_offset] + replaced + line[value.end_col_offset :]
    return "".join(lines)


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
        raise TestFilesError("checks.py lacks its marked block of mnist_lab imports")
    replacement = f"MODELDATA_SOURCE = {_lines_literal(modeldata_source)}\n{STANDALONE_DEFINITIONS}"
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
            segment = _named_decorator(source, node) + "\n" + segment
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


def _named_decorator(source: str, node: ast.FunctionDef) -> str:
    """The case's decorator with ``name="<its title>"``, so ``otter check`` names each case by
    what it checks instead of "flatten - 1"."""
    first = node.decorator_list[0]
    text = "@" + (ast.get_source_segment(source, first) or "")
    doc = (ast.get_docstring(node) or "").strip()
    if not (_is_case(node) and doc) or "name=" in text:
        return text
    title = doc.splitlines()[0].strip()
    return text[:-1] + f", name={title!r})" if text.endswith(")") else text


_STANDALONE_CHECKS_LOADER = """import sys as _sys
import types as _types

# The helpers the checks use (mnist_lab's checks.py, made stand-alone): loaded as a module.
checks = _sys.modules.get("mnist_lab_public_checks")
if checks is None:
    checks = _types.ModuleType("mnist_lab_public_checks")
    _sys.modules[checks.__name__] = checks  # dataclasses look their module up there
    exec(compile(CHECKS_SOURCE, "checks.py", "exec"), checks.__dict__)"""


def _lines_literal(source: str) -> str:
    """``source`` as a Python literal of one string per line, so a file that embeds it reads as
    code (one 20,000-character line was what students saw before)."""
    lines = "".join(f"    {line!r}\n" for line in source.splitlines(keepends=True))
    return f"(\n{lines})"


def _embedded_source(source: str) -> str:
    return (
        "# The checks' helpers, the same in every file (you need not read them).\n"
        f"CHECKS_SOURCE = {_lines_literal(source)}\n\n"
    )


def write_public_tests(*, out_dir: Path, total_points: float | None = None) -> list[Path]:
    """Write the students' public tests (public cases only, stand-alone) into ``out_dir``.

    Each file needs only numpy, tensorflow and otter-grader: ``otter check`` and
    ``grader.check`` run them in the student's environment, without mnist_lab.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise TestFilesError(f"{out_dir} exists and is not a folder")
    checks_source = standalone_checks_source()
    outputs: dict[Path, str] = {}
    for name, source in autograder_sources(total_points=total_points).items():
        reduced, _ = public_test_source(source)
        header = (
            f'"""Public checks of {name}(), generated by mnist-lab from the autograder.\n\n'
            "Run them with otter check or grader.check. They are the public cases only: the\n"
            'autograder runs more (hidden) cases on your submission."""\n\n'
        )
        loader_at = reduced.find(_STANDALONE_CHECKS_LOADER)
        if loader_at >= 0:  # a test file written with plain asserts needs no helpers
            embedded = _embedded_source(checks_source)
            reduced = reduced[:loader_at] + embedded + reduced[loader_at:]
        outputs[out_dir / f"{name}.py"] = header + reduced
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
    return sorted(outputs)
