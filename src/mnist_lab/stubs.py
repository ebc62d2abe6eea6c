"""Turn the reference solution into the student stubs, mechanically (nbgrader style).

In ``solutions/digits.py`` every answer sits between two marker comments::

    # BEGIN SOLUTION | hint: one line that helps the student start
    ...the answer...
    # END SOLUTION

The stub keeps everything outside the regions and replaces each region with a
``# YOUR CODE HERE`` comment and ``raise NotImplementedError("<hint>")`` at the marker's
indentation (never ``pass``, which would quietly return None). The markers are the single
source of truth: the committed ``exercises/digits.py`` must equal what :func:`generate_stubs`
gives, which the test suite checks (``mnist-lab stubs --check`` does the same by hand).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mnist_lab.constants import STUDENT_MODULE
from mnist_lab.errors import UserError

BEGIN_MARKER = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION \| hint: (?P<hint>\S.*?)\s*$")
END_MARKER = re.compile(r"^(?P<indent>[ \t]*)# END SOLUTION\s*$")
# Anything that looks like an attempt at a marker; lines matching this but not the exact
# forms above are malformed (a typo must never leak an answer into the stubs).
MARKER_LIKE = re.compile(r"^\s*#+\s*(BEGIN|END)\b.*\bSOL", re.IGNORECASE)

LINE_LENGTH = 100  # the project's ruff line length: stubs are formatted as ruff would


class MarkerError(UserError, ValueError):
    """The solution file's answer markers are malformed or unbalanced."""

    def __init__(self, source: str, line: int, problem: str) -> None:
        self.source = source
        self.line = line
        self.problem = problem
        super().__init__(f"{source}, line {line}: {problem}")


@dataclass(frozen=True)
class DriftReport:
    """Whether the committed stubs match what generation gives."""

    stubs_path: Path
    up_to_date: bool
    first_difference: int | None  # 1-based line number, None when identical

    def to_dict(self) -> dict:
        return {
            "stubs_path": str(self.stubs_path),
            "up_to_date": self.up_to_date,
            "first_difference": self.first_difference,
        }


def generate_stubs(solution_text: str, *, source: str = "solutions/digits.py") -> str:
    """Return the stub module text for ``solution_text``.

    Raises :class:`MarkerError` naming ``source`` and the line for a marker that is malformed,
    nested, unclosed, unopened, empty, or whose END is not at its BEGIN's indentation.
    """
    output: list[str] = []
    open_region: tuple[int, str, str] | None = None  # (line number, indent, hint)
    region_has_code = False
    regions = 0
    for number, line in enumerate(solution_text.splitlines(keepends=True), start=1):
        begin = BEGIN_MARKER.match(line)
        end = END_MARKER.match(line)
        if begin:
            if open_region is not None:
                raise MarkerError(
                    source,
                    number,
                    f"BEGIN SOLUTION inside the region opened on line "
                    f"{open_region[0]} (regions cannot nest; close it with # END SOLUTION first)",
                )
            open_region = (number, begin["indent"], begin["hint"])
            region_has_code = False
        elif end:
            if open_region is None:
                raise MarkerError(source, number, "END SOLUTION without a BEGIN SOLUTION before it")
            opened_at, indent, hint = open_region
            if end["indent"] != indent:
                raise MarkerError(
                    source,
                    number,
                    f"END SOLUTION is indented differently from the BEGIN "
                    f"SOLUTION on line {opened_at}",
                )
            if not region_has_code:
                raise MarkerError(source, opened_at, "empty solution region")
            output.append(f"{indent}# YOUR CODE HERE\n")
            output.append(_raise_line(indent, hint))
            open_region = None
            regions += 1
        elif MARKER_LIKE.match(line):
            raise MarkerError(
                source,
                number,
                "malformed marker: write '# BEGIN SOLUTION | hint: <text>' "
                f"or '# END SOLUTION', got {line.strip()!r}",
            )
        elif open_region is not None:
            region_has_code = region_has_code or bool(line.strip())
        else:
            output.append(line)
    if open_region is not None:
        raise MarkerError(
            source, open_region[0], "BEGIN SOLUTION is never closed by # END SOLUTION"
        )
    if regions == 0:
        raise MarkerError(source, 1, "no solution regions: nothing would be hidden from students")
    return "".join(output)


def _raise_line(indent: str, hint: str) -> str:
    """``raise NotImplementedError("<hint>")``, its argument on a line of its own when long."""
    literal = _string_literal(hint)
    line = f"{indent}raise NotImplementedError({literal})\n"
    if len(line) - 1 <= LINE_LENGTH:
        return line
    return f"{indent}raise NotImplementedError(\n{indent}    {literal}\n{indent})\n"


def _string_literal(text: str) -> str:
    """``text`` as a Python literal, double-quoted as the formatter writes it where it can."""
    if '"' in text or "\\" in text or not text.isprintable():
        return repr(text)
    return f'"{text}"'


def solution_source() -> str:
    """The reference solution shipped with the package."""
    return resources.files("mnist_lab.solutions").joinpath(STUDENT_MODULE).read_text("utf-8")


def committed_stubs() -> str:
    """The stubs shipped with the package (``exercises/digits.py``)."""
    return resources.files("mnist_lab.exercises").joinpath(STUDENT_MODULE).read_text("utf-8")


def check_stubs(*, solution_path: Path, stubs_path: Path) -> DriftReport:
    """Compare the stubs file on disk with what generation gives from the solution file."""
    expected = generate_stubs(solution_path.read_text("utf-8"), source=str(solution_path))
    actual = stubs_path.read_text("utf-8") if stubs_path.exists() else ""
    if expected == actual:
        return DriftReport(stubs_path, True, None)
    pairs = zip(expected.splitlines(), actual.splitlines(), strict=False)
    first = next((n for n, (a, b) in enumerate(pairs, start=1) if a != b), None)
    if first is None:  # one is a prefix of the other
        first = min(len(expected.splitlines()), len(actual.splitlines())) + 1
    return DriftReport(stubs_path, False, first)


def write_stubs(*, solution_path: Path, stubs_path: Path) -> Path:
    """Regenerate ``stubs_path`` from ``solution_path`` (nothing is written on a marker error)."""
    text = generate_stubs(solution_path.read_text("utf-8"), source=str(solution_path))
    stubs_path.write_text(text, "utf-8")
    return stubs_path
