"""The import direction docs/architecture.md draws: each layer imports only layers below it.

Every ``import`` of a mnist_lab module, at module level or inside a function, is checked.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mnist_lab"

# Layer of each module, lowest first; a module may import its own layer and the ones below,
# except the worker side, which is sent alone into the sandbox and imports only itself and base.
LAYERS = {
    "base": ["errors", "constants", "files", "archives", "templating"],
    "worker": [
        "grading.protocol",
        "grading.cleanup",
        "grading.modeldata",
        "grading.isolation",
        "grading.worker",
        "grading.reference",
    ],
    "domain": ["assignment", "data", "data.make_sample", "stubs", "readme_table", "train"],
    "grading": [
        "grading.config",
        "grading.cgroups",
        "grading.blas",
        "grading.sandbox",
        "grading.forkserver",
        "grading.submission",
        "grading.session",
        "grading.checks",
        "grading.modelcheck",
        "grading.modelprobe",
        "grading.grade",
        "grading.testfiles",
        "grading.fixture",
        "grading.package",
        "grading.gradescope",
        "grading.doctor",
    ],
    "course": [
        "grading.collect",
        "grading.inputs",
        "grading.gradebook",
        "grading.report",
        "grading.cluster",
        "grading.batch",
    ],
    "quiz": ["quiz"],
    "notebook": ["notebook"],
    "release": ["build"],
    "cli": ["cli", "__main__"],
}
ORDER = list(LAYERS)
# What each layer may import, beyond its own layer and "base".
ALLOWED = {
    "base": set(),
    "worker": set(),
    "domain": set(),
    "grading": {"worker", "domain"},
    "course": {"worker", "domain", "grading"},
    "quiz": set(),
    "notebook": {"domain", "grading"},  # it runs the public checks the grading layer writes
    "release": {"worker", "domain", "grading", "quiz", "notebook"},
    "cli": {"worker", "domain", "grading", "course", "quiz", "notebook", "release"},
}
PACKAGES_OF_FILES = {"solutions", "exercises", "autograder", "templates"}


def layer_of(module: str) -> str | None:
    for layer, names in LAYERS.items():
        for name in names:
            if module == name or module.startswith(name + "."):
                return layer
    return None


def modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC).with_suffix("")
        parts = [p for p in relative.parts if p != "__init__"]
        found[".".join(parts)] = path
    return found


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    prefix = "mnist_lab."
    return {name[len(prefix) :] for name in names if name.startswith(prefix)}


PACKAGE_INITS = {"grading"}  # empty __init__ files of packages whose modules have layers


def test_every_module_has_a_layer() -> None:
    unplaced = [name for name in modules() if name not in ("", *PACKAGE_INITS)]
    unplaced = [name for name in unplaced if layer_of(name) is None]
    assert unplaced == []


@pytest.mark.parametrize(
    "module", sorted(name for name in modules() if name and name not in PACKAGE_INITS)
)
def test_imports_go_down_the_layers(module: str) -> None:
    own = layer_of(module)
    allowed = {own, "base", *ALLOWED[own]}
    known = modules()
    wrong = []
    for imported in imports_of(known[module]):
        if imported.split(".")[0] in PACKAGES_OF_FILES:
            continue  # data packages (the solution, the tests), not code layers
        target = layer_of(imported)
        if target is None and imported not in known:
            continue  # a name imported from a module, e.g. grading.checks (a module: known)
        if target is not None and target not in allowed:
            wrong.append(f"{imported} ({target})")
    assert wrong == [], f"{module} ({own}) imports upwards: {wrong}"
