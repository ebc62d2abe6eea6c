"""The README's table of the assignment's functions, generated from the assignment.

Between two marker comments in ``README.md`` stands a table with one row per function of the
assignment (``mnist_lab.assignment``): its signature and the first line of its docstring in the
solution, what it raises (the docstring's ``Raises`` section), and its points. ``mnist-lab stubs
--write`` rewrites it with the stubs; ``mnist-lab stubs`` (and the test suite) report drift.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mnist_lab.assignment import Assignment
from mnist_lab.errors import UserError

BEGIN = (
    "<!-- functions: generated from solutions/digits.py and autograder/tests by "
    "`mnist-lab stubs --write` -->"
)
END = "<!-- end of the generated functions -->"
_RAISES = re.compile(r"^Raises\n-+\n(?P<body>.*?)(?:\n\n|\Z)", re.S | re.M)


class ReadmeError(UserError):
    """The README has no (or a broken) generated table to rewrite."""


def _raises(docstring: str) -> str:
    match = _RAISES.search(docstring)
    if not match:
        return ""
    lines = [line.strip() for line in match["body"].splitlines() if line.strip()]
    kinds = [line for line in lines if re.fullmatch(r"[A-Za-z_]\w*(Error|Exception)", line)]
    return ", ".join(f"`{kind}`" for kind in kinds)


def function_table(solution_text: str, assignment: Assignment) -> str:
    """The markdown table: one row per function of ``assignment``, in its order."""
    tree = ast.parse(solution_text)
    defined = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    rows = [
        "| function | does | raises | points (public + hidden) |",
        "|---|---|---|---:|",
    ]
    for function in assignment.functions:
        node = defined[function.name]
        docstring = ast.get_docstring(node) or ""
        summary = docstring.strip().splitlines()[0] if docstring.strip() else ""
        signature = f"`{function.name}({ast.unparse(node.args)})`"
        points = f"{function.points:g} ({function.public_points:g} + {function.hidden_points:g})"
        rows.append(f"| {signature} | {summary} | {_raises(docstring)} | {points} |")
    rows.append(f"| | | **total** | **{assignment.points:g}** |")
    return "\n".join(rows)


def with_table(readme_text: str, table: str, *, where: str = "README.md") -> str:
    """``readme_text`` with the generated block replaced by ``table``."""
    if readme_text.count(BEGIN) != 1 or readme_text.count(END) != 1:
        raise ReadmeError(f"{where}: expected one generated block between {BEGIN} and {END}")
    head, rest = readme_text.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def readme_drift(readme: Path, solution: Path, assignment: Assignment) -> bool:
    """Whether ``readme``'s table differs from what the assignment gives."""
    text = readme.read_text(encoding="utf-8")
    wanted = with_table(text, function_table(solution.read_text("utf-8"), assignment))
    return wanted != text


def write_readme_table(readme: Path, solution: Path, assignment: Assignment) -> Path:
    text = readme.read_text(encoding="utf-8")
    table = function_table(solution.read_text("utf-8"), assignment)
    readme.write_text(with_table(text, table, where=str(readme)), encoding="utf-8")
    return readme
