"""The course report: what a batch's results say about the whole course, read at a glance.

``write_report`` computes a ``CourseReport`` from the graded submissions of a batch and writes it
as ``report.html``: one self-contained page (the project's base template, its stylesheets
inlined, plots as data-URI PNGs, a Content-Security-Policy that forbids every request). It shows

* the scores: a histogram (percent of the maximum, in tenths) with a data table, and figures;
* points per function and the pass rate of every case, public and hidden (the instructor may
  see hidden case titles; no test source is ever read);
* the most common mistakes: each failed case counts under the "Hint: ..." sentence its output
  gave, else under its title; a submission that did not import (the grader's note of why is in
  every case's output) counts once, under the start of that note ("Your code has a syntax
  error"); each mistake says how many students made it;
* the submissions that hit a limit (time limit, memory limit, the run's time budget, as the
  sandbox words them in a case's output), could not be graded, or met a grader error;
* timing and the sandbox's level.

Who is counted where (also said on the page): scores cover every student with a score, an
ungradable submission's 0 included as in the gradebooks; pass rates and mistakes cover the
submissions that were graded (ran); failures caused by a limit are listed under the limits, not
as mistakes. A grader error has no score and appears only in its own list.

The page names hidden checks: it is for instructors and sits beside the gradebooks, never in
``feedback/``. Names and outputs are students' text: the template escapes all of it.
"""

from __future__ import annotations

import base64
import io
import math
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from mnist_lab import __version__
from mnist_lab.constants import ASSIGNMENT_NAME
from mnist_lab.files import write_text_atomically
from mnist_lab.grading.collect import readable_text
from mnist_lab.grading.grade import CaseResult, GradingResult
from mnist_lab.grading.gradebook import (
    FEEDBACK_DIR,
    GradebookError,
    GradedSubmission,
    assignment_name_problem,
)
from mnist_lab.templating import content_security_policy, environment, inline_asset

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from mnist_lab.grading.batch import StudentOutcome

REPORT_HTML = "report.html"
REPORT_TEMPLATE = "report.html"
STYLESHEETS = (
    ("mnist_lab.quiz", "quiz.css"),
    ("mnist_lab.templates", "feedback.css"),
    ("mnist_lab.templates", "report.css"),
)
HISTOGRAM_BINS = 10  # tenths of the maximum score; the last bin holds full marks too
# What a failed case's output says when a limit stopped it: the sandbox's "timed out after 20 s"
# and "used more than the 2048 MB memory limit", the session's "the time budget ... used up".
LIMITS = (
    ("time limit", re.compile(r"timed out after [0-9.]+ s")),
    ("memory limit", re.compile(r"used more than the [0-9]+ MB memory limit")),
    ("time budget", re.compile(r"the time budget (for grading )?was used up")),
)
# Every case of a submission that cannot be graded says why (grade.failed_result, as the batch
# and grade_submission word it).
UNGRADABLE_OUTPUT = "Failed: Your submission could not be graded: "
HINT = re.compile(r"\bHint:\s*(\S.*)")
# Where a whole-submission failure's message stops being the same for everyone: "Your code has a
# syntax error at digits.py, line 3: ...", "Importing your code raised NameError at ...".
MESSAGE_DETAILS = re.compile(r" at |: | \(at ")
CHART_LABEL_CHARS = 24


# --- the report's figures --------------------------------------------------------------------


@dataclass(frozen=True)
class StudentRef:
    """A student as the report names them: the key (files) and the name people read."""

    key: str
    name: str

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "name": self.name}


@dataclass(frozen=True)
class HistogramBin:
    """Students whose score is at least ``low`` and below ``high`` percent of the maximum (the
    last bin includes ``high``, full marks)."""

    low: float
    high: float
    students: int
    last: bool = False

    @property
    def label(self) -> str:
        return (
            f"{self.low:g} to {self.high:g} %"
            if self.last
            else f"{self.low:g} to under {self.high:g} %"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "students": self.students, "label": self.label}


@dataclass(frozen=True)
class ScoreSummary:
    """The scores of every student who has one (ungradable submissions at 0 included)."""

    students: int
    ungradable_included: int
    max_scores: tuple[float, ...]  # normally one; several when runs used different tests
    mean_percent: float | None
    median_percent: float | None
    min_percent: float | None
    max_percent: float | None
    full_marks: int
    zero: int
    histogram: tuple[HistogramBin, ...]

    @property
    def max_score(self) -> float | None:
        """The one maximum score, or None when there are none or several."""
        return self.max_scores[0] if len(self.max_scores) == 1 else None

    def points(self, percent: float | None) -> float | None:
        """``percent`` of the one maximum score, in points."""
        if percent is None or self.max_score is None:
            return None
        return round(percent * self.max_score / 100, 2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "students": self.students,
            "ungradable_included": self.ungradable_included,
            "max_scores": list(self.max_scores),
            "mean_percent": self.mean_percent,
            "median_percent": self.median_percent,
            "min_percent": self.min_percent,
            "max_percent": self.max_percent,
            "full_marks": self.full_marks,
            "zero": self.zero,
            "histogram": [item.to_dict() for item in self.histogram],
        }


def _percent(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


@dataclass(frozen=True)
class CaseRate:
    """How many graded submissions passed one case."""

    function: str
    name: str
    hidden: bool
    points: float
    passed: int
    students: int

    @property
    def rate(self) -> float:
        return _percent(self.passed, self.students)

    def to_dict(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "name": self.name,
            "hidden": self.hidden,
            "points": self.points,
            "passed": self.passed,
            "students": self.students,
            "rate_percent": self.rate,
        }


@dataclass(frozen=True)
class FunctionRate:
    """The points graded submissions earned on one function, and its cases."""

    name: str
    max_points: float
    earned: float  # the points of every graded submission on it, added up
    possible: float  # the most they could have earned together
    full_marks: int
    students: int
    cases: tuple[CaseRate, ...]

    @property
    def mean_points(self) -> float:
        return round(self.earned / self.students, 2) if self.students else 0.0

    @property
    def rate(self) -> float:
        return _percent(self.earned, self.possible)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "max_points": self.max_points,
            "earned": self.earned,
            "possible": self.possible,
            "mean_points": self.mean_points,
            "rate_percent": self.rate,
            "full_marks": self.full_marks,
            "students": self.students,
            "cases": [case.to_dict() for case in self.cases],
        }


@dataclass(frozen=True)
class Mistake:
    """One mistake and the students who made it."""

    text: str
    kind: str  # "hint" (the case's hint) | "check" (no hint: the case's title) | "load"
    students: tuple[str, ...]  # keys, sorted
    cases: tuple[str, ...]  # the cases that failed this way ("every check" for "load")

    @property
    def count(self) -> int:
        return len(self.students)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "kind": self.kind,
            "count": self.count,
            "students": list(self.students),
            "cases": list(self.cases),
        }


@dataclass(frozen=True)
class LimitHit:
    """A graded submission stopped by a limit in ``cases`` of its cases."""

    student: StudentRef
    limits: tuple[str, ...]  # names from LIMITS, in that order
    cases: int
    detail: str  # the first such failure, as the case's output says it

    def to_dict(self) -> dict[str, Any]:
        return {
            "student": self.student.to_dict(),
            "limits": list(self.limits),
            "cases": self.cases,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class StudentProblem:
    """A student who could not be graded, or whose grading failed, and why."""

    student: StudentRef
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"student": self.student.to_dict(), "reason": self.reason}


@dataclass(frozen=True)
class Timing:
    """How long the batch and its submissions took (None: not known here)."""

    seconds: float | None  # the whole batch
    jobs: int | None
    graded_now: int | None
    reused: int | None
    median_seconds: float | None  # per submission
    max_seconds: float | None
    slowest: StudentRef | None
    median_peak_memory_bytes: int | None
    max_peak_memory_bytes: int | None

    @property
    def per_minute(self) -> float | None:
        """Submissions graded per minute in this run."""
        if not self.seconds or not self.graded_now:
            return None
        return round(60.0 * self.graded_now / self.seconds, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "jobs": self.jobs,
            "graded_now": self.graded_now,
            "reused": self.reused,
            "per_minute": self.per_minute,
            "median_seconds": self.median_seconds,
            "max_seconds": self.max_seconds,
            "slowest": None if self.slowest is None else self.slowest.to_dict(),
            "median_peak_memory_bytes": self.median_peak_memory_bytes,
            "max_peak_memory_bytes": self.max_peak_memory_bytes,
        }


@dataclass(frozen=True)
class SandboxSummary:
    """The sandbox levels the results record (``extra_data.mnist_lab.sandbox``)."""

    levels: tuple[tuple[str, int], ...]  # (level, submissions), most common first
    missing: tuple[str, ...]  # why a protection was missing, as the results say

    @property
    def level(self) -> str:
        if not self.levels:
            return "not recorded"
        return self.levels[0][0] if len(self.levels) == 1 else "mixed"

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "levels": dict(self.levels), "missing": list(self.missing)}


@dataclass(frozen=True)
class CourseReport:
    """Everything ``report.html`` shows, computed from the graded submissions."""

    assignment: str
    generated_at: str  # ISO 8601, UTC
    students: int
    graded: int  # graded submissions (they ran): the pass rates' and mistakes' population
    scores: ScoreSummary
    functions: tuple[FunctionRate, ...]
    mistakes: tuple[Mistake, ...]  # most common first
    limits: tuple[LimitHit, ...]
    ungradable: tuple[StudentProblem, ...]
    grader_errors: tuple[StudentProblem, ...]
    timing: Timing
    sandbox: SandboxSummary

    @property
    def cases(self) -> tuple[CaseRate, ...]:
        return tuple(case for function in self.functions for case in function.cases)

    @property
    def hardest_cases(self) -> tuple[CaseRate, ...]:
        """The (at most three) cases the fewest graded submissions passed, below 100 %."""
        cases = sorted(self.cases, key=lambda case: case.rate)
        return tuple(case for case in cases if case.rate < 100)[:3]

    def share_of_graded(self, count: int) -> float:
        """``count`` as a percentage of the graded submissions."""
        return _percent(count, self.graded)

    def to_dict(self) -> dict[str, Any]:
        return {
            "assignment": self.assignment,
            "generated_at": self.generated_at,
            "students": self.students,
            "graded": self.graded,
            "scores": self.scores.to_dict(),
            "functions": [function.to_dict() for function in self.functions],
            "mistakes": [mistake.to_dict() for mistake in self.mistakes],
            "limits": [hit.to_dict() for hit in self.limits],
            "ungradable": [item.to_dict() for item in self.ungradable],
            "grader_errors": [item.to_dict() for item in self.grader_errors],
            "timing": self.timing.to_dict(),
            "sandbox": self.sandbox.to_dict(),
        }


# --- computing it ------------------------------------------------------------------------------


def _ref(item: GradedSubmission) -> StudentRef:
    student = item.submission.student
    return StudentRef(key=student.key, name=student.name.strip() or student.key)


def _ungradable_reason(item: GradedSubmission) -> str | None:
    """Why the submission could not be graded, or None when it was."""
    if item.submission.problem:
        return item.submission.problem
    tests = item.result.tests if item.result is not None else []
    if tests and all(case.output.startswith(UNGRADABLE_OUTPUT) for case in tests):
        return tests[0].output.removeprefix(UNGRADABLE_OUTPUT).splitlines()[0].removesuffix(".")
    return None


def _scores(scored: list[tuple[GradingResult, bool]]) -> ScoreSummary:
    """``scored``: each result with a score, and whether it is an ungradable submission's."""
    # (score, max, ungradable), each result's properties read once (they add up its cases).
    totals = [(r.score, r.max_score, ungradable) for r, ungradable in scored]
    totals = [total for total in totals if total[1] > 0]
    percents = [round(100.0 * score / most, 6) for score, most, _ in totals]
    counts = [0] * HISTOGRAM_BINS
    width = 100.0 / HISTOGRAM_BINS
    for percent in percents:
        counts[min(max(math.floor(percent / width), 0), HISTOGRAM_BINS - 1)] += 1
    histogram = tuple(
        HistogramBin(
            low=round(index * width, 6),
            high=round((index + 1) * width, 6),
            students=count,
            last=index == HISTOGRAM_BINS - 1,
        )
        for index, count in enumerate(counts)
    )

    def stat(function: Callable[[list[float]], float]) -> float | None:
        return round(function(percents), 1) if percents else None

    return ScoreSummary(
        students=len(totals),
        ungradable_included=sum(ungradable for _, _, ungradable in totals),
        max_scores=tuple(sorted({most for _, most, _ in totals})),
        mean_percent=stat(statistics.fmean),
        median_percent=stat(statistics.median),
        min_percent=stat(min),
        max_percent=stat(max),
        full_marks=sum(score >= most for score, most, _ in totals),
        zero=sum(score <= 0 for score, _, _ in totals),
        histogram=histogram,
    )


def _functions(results: list[GradingResult]) -> tuple[FunctionRate, ...]:
    # One pass over every case: who passed each case, each submission's points per function.
    cases: dict[tuple[str, str, bool], list[CaseResult]] = {}
    points: dict[str, list[tuple[float, float]]] = {}
    for result in results:
        own: dict[str, list[float]] = {}
        for case in result.tests:
            cases.setdefault((case.function, case.name, case.hidden), []).append(case)
            earned = own.setdefault(case.function, [0.0, 0.0])
            earned[0] += case.score
            earned[1] += case.max_score
        for function, (score, most) in own.items():
            points.setdefault(function, []).append((round(score, 6), round(most, 6)))
    names = list(points)  # results list their cases in the assignment's order
    return tuple(
        FunctionRate(
            name=name,
            max_points=max(most for _, most in points[name]),
            earned=round(sum(score for score, _ in points[name]), 6),
            possible=round(sum(most for _, most in points[name]), 6),
            full_marks=sum(score >= most for score, most in points[name]),
            students=len(points[name]),
            cases=tuple(
                CaseRate(
                    function=name,
                    name=case_name,
                    hidden=hidden,
                    points=max(case.max_score for case in seen),
                    passed=sum(case.passed for case in seen),
                    students=len(seen),
                )
                for (function, case_name, hidden), seen in cases.items()
                if function == name
            ),
        )
        for name in names
    )


def _limits_in(output: str) -> list[str]:
    return [name for name, pattern in LIMITS if pattern.search(output)]


def _detail(output: str) -> str:
    return output.removeprefix("Failed: ").splitlines()[0] if output.strip() else ""


def _hint(output: str) -> str | None:
    found = HINT.search(output)
    return " ".join(found.group(1).split()) if found else None


def _load_failure(result: GradingResult, failed: list[CaseResult]) -> str | None:
    """What stopped the submission from importing, when that failed every case: the grader
    notes it (the session's load error) and every case's output repeats it."""
    if len(failed) < 2 or len(failed) != len(result.tests):
        return None
    for note in result.notes:
        if note.strip() and all(note.strip() in case.output for case in failed):
            return note.strip()
    return None


def _mistakes_of(result: GradingResult) -> list[tuple[str, str, str]]:
    """(kind, text, case) for each mistake in ``result``; failures from a limit are not."""
    failed = [c for c in result.tests if not c.passed and not _limits_in(c.output)]
    load = _load_failure(result, failed)
    if load is not None:  # it did not import: one mistake, not one per case
        lead = MESSAGE_DETAILS.split(load, maxsplit=1)[0].removesuffix(".")
        return [("load", lead, "every check")]
    mistakes = []
    for case in failed:
        hint = _hint(case.output)
        mistakes.append(("hint", hint, case.name) if hint else ("check", case.name, case.name))
    return mistakes


def _mistakes(graded: list[tuple[StudentRef, GradingResult]]) -> tuple[Mistake, ...]:
    students: dict[tuple[str, str], set[str]] = {}
    cases: dict[tuple[str, str], dict[str, None]] = {}
    for student, result in graded:
        for kind, text, case in _mistakes_of(result):
            students.setdefault((kind, text), set()).add(student.key)
            cases.setdefault((kind, text), {})[case] = None
    mistakes = [
        Mistake(text=text, kind=kind, students=tuple(sorted(keys)), cases=tuple(cases[kind, text]))
        for (kind, text), keys in students.items()
    ]
    return tuple(sorted(mistakes, key=lambda m: (-m.count, m.text, m.kind)))


def _limit_hits(graded: list[tuple[StudentRef, GradingResult]]) -> tuple[LimitHit, ...]:
    hits = []
    for student, result in graded:
        stopped = [c for c in result.tests if not c.passed and _limits_in(c.output)]
        if stopped:
            found = {name for case in stopped for name in _limits_in(case.output)}
            hits.append(
                LimitHit(
                    student=student,
                    limits=tuple(name for name, _ in LIMITS if name in found),
                    cases=len(stopped),
                    detail=_detail(stopped[0].output),
                )
            )
    return tuple(sorted(hits, key=lambda hit: hit.student.key))


def _timing(
    items: list[GradedSubmission],
    outcomes: Sequence[StudentOutcome],
    seconds: float | None,
    jobs: int | None,
) -> Timing:
    refs = {item.submission.student.key: _ref(item) for item in items}
    if outcomes:  # the batch's wall-clock time per student (a reused one: its earlier run's)
        times = {o.key: float(o.seconds) for o in outcomes}
        graded_now = sum(o.status != "reused" for o in outcomes)
        reused: int | None = len(outcomes) - graded_now
    else:
        times = {k: r.execution_time for k, r in _results(items).items()}
        graded_now = reused = None
    slowest = max(times, key=lambda key: (times[key], key), default=None)
    peaks = sorted(r.peak_memory_bytes for r in _results(items).values() if r.peak_memory_bytes)
    return Timing(
        seconds=None if seconds is None else round(seconds, 2),
        jobs=jobs,
        graded_now=graded_now,
        reused=reused,
        median_seconds=None if not times else round(statistics.median(times.values()), 2),
        max_seconds=None if slowest is None else round(times[slowest], 2),
        slowest=None if slowest is None else refs.get(slowest, StudentRef(slowest, slowest)),
        median_peak_memory_bytes=None if not peaks else int(statistics.median(peaks)),
        max_peak_memory_bytes=peaks[-1] if peaks else None,
    )


def _results(items: list[GradedSubmission]) -> dict[str, GradingResult]:
    return {i.submission.student.key: i.result for i in items if i.result is not None}


def _sandbox(results: list[GradingResult]) -> SandboxSummary:
    levels: dict[str, int] = {}
    missing: dict[str, None] = {}
    for result in results:
        protections = result.protections if isinstance(result.protections, dict) else {}
        if "level" in protections:
            level = str(protections["level"])
            levels[level] = levels.get(level, 0) + 1
        missing.update(dict.fromkeys(str(why) for why in protections.get("missing") or ()))
    ordered = tuple(sorted(levels.items(), key=lambda item: (-item[1], item[0])))
    return SandboxSummary(levels=ordered, missing=tuple(missing))


def course_report(
    *,
    graded: Sequence[GradedSubmission],
    outcomes: Sequence[StudentOutcome] = (),
    assignment_name: str = ASSIGNMENT_NAME,
    seconds: float | None = None,
    jobs: int | None = None,
    generated_at: datetime | None = None,
) -> CourseReport:
    """The report's figures for ``graded`` (and the batch's ``outcomes``, for timing)."""
    items = sorted(graded, key=lambda item: item.submission.student.key)
    scored: list[tuple[GradingResult, bool]] = []
    ran: list[tuple[StudentRef, GradingResult]] = []
    ungradable, errors = [], []
    for item in items:
        result = item.result
        if result is None or result.grader_error is not None:
            why = item.error if result is None else result.grader_error
            errors.append(StudentProblem(_ref(item), (why or "").strip() or "no result"))
        elif (reason := _ungradable_reason(item)) is not None:
            ungradable.append(StudentProblem(_ref(item), reason))
            scored.append((result, True))
        else:
            ran.append((_ref(item), result))
            scored.append((result, False))
    when = generated_at or datetime.now(timezone.utc)
    if when.tzinfo is None or when.utcoffset() is None:
        raise GradebookError("generated_at must be timezone-aware")
    ran_results = [result for _, result in ran]
    return CourseReport(
        assignment=assignment_name.strip(),
        generated_at=when.astimezone(timezone.utc).isoformat(timespec="seconds"),
        students=len(items),
        graded=len(ran),
        scores=_scores(scored),
        functions=_functions(ran_results),
        mistakes=_mistakes(ran),
        limits=_limit_hits(ran),
        ungradable=tuple(ungradable),
        grader_errors=tuple(errors),
        timing=_timing(items, outcomes, seconds, jobs),
        sandbox=_sandbox([item.result for item in items if item.result is not None]),
    )


# --- the plots ---------------------------------------------------------------------------------


@cache
def _stylesheet() -> str:
    return "\n\n".join(inline_asset(*asset, "</style").rstrip("\n") for asset in STYLESHEETS) + "\n"


@cache
def _palettes() -> dict[str, dict[str, str]]:
    """The plots' colours for the light and the dark scheme: quiz.css's variables, so a plot
    matches the page around it (one definition)."""
    css = inline_asset("mnist_lab.quiz", "quiz.css", "</style")
    light = re.search(r":root\s*\{([^}]*)\}", css)
    dark = re.search(r"prefers-color-scheme:\s*dark\)\s*\{\s*:root\s*\{([^}]*)\}", css)
    palettes = {}
    for scheme, block in (("light", light), ("dark", dark)):
        found = dict(
            re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;", block.group(1) if block else "")
        )
        needed = ("card", "fg", "muted", "border", "accent")
        if any(name not in found for name in needed):
            raise RuntimeError(f"quiz.css has no {scheme} colours for {needed} (see _palettes)")
        palettes[scheme] = found
    return palettes


def _png(width: float, height: float, draw: Callable[[Axes, dict[str, str]], None]) -> dict:
    """The plot ``draw`` makes, as a PNG data URI per colour scheme, and its size in pixels.

    Matplotlib's object API with the Agg canvas: no pyplot, so no global backend is set.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    images = {}
    for scheme, colours in _palettes().items():
        figure = Figure(figsize=(width, height), dpi=100, facecolor=colours["card"])
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        axes.set_facecolor(colours["card"])
        for spine in axes.spines.values():
            spine.set_color(colours["border"])
        axes.tick_params(colors=colours["fg"], labelsize=9)
        draw(axes, colours)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", metadata={"Software": None})
        images[scheme] = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {**images, "width": round(width * 100), "height": round(height * 100)}


def _histogram_plot(scores: ScoreSummary) -> dict:
    def draw(axes: Axes, colours: dict[str, str]) -> None:
        bins = scores.histogram
        axes.bar(
            [item.low for item in bins],
            [item.students for item in bins],
            width=100.0 / HISTOGRAM_BINS,
            align="edge",
            color=colours["accent"],
            edgecolor=colours["card"],
        )
        axes.set_xlim(0, 100)
        axes.set_xticks([item.low for item in bins] + [100])
        axes.set_xlabel("score (% of the maximum)", color=colours["fg"])
        axes.set_ylabel("students", color=colours["fg"])
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.grid(axis="y", color=colours["border"], linewidth=0.6)
        axes.set_axisbelow(True)
        axes.figure.subplots_adjust(left=0.09, right=0.98, top=0.95, bottom=0.18)

    return _png(7.2, 3.0, draw)


def _functions_plot(functions: tuple[FunctionRate, ...]) -> dict:
    height = 0.9 + 0.38 * len(functions)

    def draw(axes: Axes, colours: dict[str, str]) -> None:
        rows = list(range(len(functions)))
        rates = [function.rate for function in functions]
        axes.barh(rows, rates, color=colours["accent"], height=0.6)
        for row, rate in zip(rows, rates, strict=True):  # the value, not only the bar's length
            axes.text(rate + 1, row, f"{rate:g} %", va="center", color=colours["fg"], fontsize=9)
        axes.set_yticks(rows, [_short(function.name) for function in functions])
        axes.invert_yaxis()
        axes.set_xlim(0, 112)
        axes.set_xticks(range(0, 101, 20))
        axes.set_xlabel("share of the points earned (%)", color=colours["fg"])
        axes.grid(axis="x", color=colours["border"], linewidth=0.6)
        axes.set_axisbelow(True)
        axes.figure.subplots_adjust(
            left=0.2, right=0.97, top=1 - 0.15 / height, bottom=0.6 / height
        )

    return _png(7.2, height, draw)


def _short(text: str) -> str:
    return text if len(text) <= CHART_LABEL_CHARS else text[: CHART_LABEL_CHARS - 1] + "…"


# --- the page ----------------------------------------------------------------------------------


def _alt_histogram(scores: ScoreSummary) -> str:
    counts = "; ".join(f"{item.label}: {item.students}" for item in scores.histogram)
    return (
        f"Histogram of the scores of {scores.students} students, in tenths of the maximum "
        f"score: {counts}."
    )


def _alt_functions(functions: tuple[FunctionRate, ...]) -> str:
    rates = "; ".join(f"{function.name}: {function.rate:g} %" for function in functions)
    return (
        f"Bar chart of the share of the points the graded submissions earned per function: {rates}."
    )


def render_report(report: CourseReport, *, top_mistakes: int = 20) -> str:
    """``report`` as the page ``report.html``."""
    style = _stylesheet()
    histogram = _histogram_plot(report.scores) if report.scores.students else None
    functions = _functions_plot(report.functions) if report.functions else None
    context = {
        "page_title": f"{report.assignment}: course report",
        "report": report,
        "histogram": histogram,
        "histogram_alt": _alt_histogram(report.scores),
        "functions_plot": functions,
        "functions_alt": _alt_functions(report.functions),
        "mistakes": report.mistakes[:top_mistakes],
        "feedback_dir": FEEDBACK_DIR,
        "stylesheet": Markup(style),
        "csp": content_security_policy(script=None, style=style),
        "version": __version__,
    }
    return readable_text(environment().get_template(REPORT_TEMPLATE).render(**context))


def write_report(
    *,
    out_dir: Path,
    graded: Sequence[GradedSubmission],
    outcomes: Sequence[StudentOutcome] = (),
    assignment_name: str = ASSIGNMENT_NAME,
    seconds: float | None = None,
    jobs: int | None = None,
    generated_at: datetime | None = None,
) -> CourseReport:
    """Compute the course report of ``graded`` and write it to ``out_dir/report.html``.

    ``outcomes`` (the batch's, one per student) give each submission's time and whether it was
    graded now or reused; ``seconds`` and ``jobs`` are the batch's. ``generated_at`` defaults to
    now. The page is written atomically; the returned ``CourseReport`` is what it shows.
    """
    problem = assignment_name_problem(assignment_name)
    if problem is not None:
        raise GradebookError(problem)
    report = course_report(
        graded=graded,
        outcomes=outcomes,
        assignment_name=assignment_name,
        seconds=seconds,
        jobs=jobs,
        generated_at=generated_at,
    )
    page = render_report(report)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomically(out_dir / REPORT_HTML, page, newline="")
    return report


__all__ = ["REPORT_HTML", "CourseReport", "course_report", "write_report"]
