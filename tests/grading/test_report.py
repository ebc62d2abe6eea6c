"""The course report (``report.html``) of a batch.

A synthetic course is built from real ``GradingResult`` objects (public and hidden cases of three
functions; students who pass, make the same mistake, hit each limit, do not import, cannot be
graded, meet a grader error) and every figure of the report is checked against the numbers
worked out by hand below. Edge cases: no students, nobody gradable, one student, hostile names
and outputs. A real batch writes the report (fast: only ungradable submissions; slow: a real mixed
course). The page is opened in headless Chromium: no request, axe finds no violation in either
colour scheme, the plots have alt text and data tables, everything is reachable by keyboard.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import pytest

from mnist_lab import files as atomic_files
from mnist_lab.grading import grade, sandbox
from mnist_lab.grading.batch import StudentOutcome, grade_batch
from mnist_lab.grading.collect import Student, Submission
from mnist_lab.grading.config import GradingConfig
from mnist_lab.grading.grade import CaseResult, GradingResult
from mnist_lab.grading.gradebook import GradebookError, GradedSubmission
from mnist_lab.grading.report import REPORT_HTML, CourseReport, write_report

from .mistake_patches import mistake_source

ASSIGNMENT = "Lab 3: digits"
GENERATED_AT = datetime(2024, 3, 5, 15, 30, tzinfo=timezone(timedelta(hours=1)))
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_OUTPUT = "<script>alert('x')</script>"

N1 = ("normalize: values are x / 255", "normalize", 2.0, False)
N2 = ("normalize: HIDDEN works for any shape", "normalize", 2.0, True)
F1 = ("flatten: one row per image", "flatten", 3.0, False)
F2 = ("flatten: HIDDEN pixels are read row by row", "flatten", 1.0, True)
C1 = ("confusion: counts pairs", "confusion", 2.0, False)
CASES = (N1, N2, F1, F2, C1)  # 10 points
CASE_OBJECTS = [
    grade.Case(name, function, points, hidden, None, [], None, None)
    for name, function, points, hidden in CASES
]

# What the grader writes (autograder/tests/flatten.py); the hidden case words its lead differently
# and adds a failure message on a second line: both count as the same mistake.
HINT = "order='F' or a transposed image; use NumPy's default row-major order (reshape(n, 784))."
COLUMN_MAJOR = f"Failed: flatten(images) read each image column by column. Hint: {HINT}"
COLUMN_MAJOR_HIDDEN = (
    f"Failed: flatten(batch)  read each image column by column. Hint:  {HINT}\nsee the slides"
)
# What the sandbox and the session write when a limit stops a call (sandbox.py, session.py).
TIMED_OUT = "Failed: calling normalize: timed out after 20 s"
OUT_OF_MEMORY = "Failed: calling normalize: " + sandbox.Sandbox.memory_message(
    SimpleNamespace(limits=GradingConfig(memory_bytes=2048 * 2**20))
)
BUDGET = "Failed: Not run: the time budget for grading was used up."
# A submission that does not import: the grader notes why, and every case fails with it (a
# hidden case, in a fresh worker, words it as a restart).
SYNTAX = "Your code has a syntax error at line 3: invalid syntax"
SYNTAX_FAILURES = {
    case: f"Failed: calling {case[1]}: the worker was restarted and the submission no longer "
    f"imports: {SYNTAX}"
    if case[3]
    else f"Failed: {SYNTAX}"
    for case in CASES
}
FULL = {"level": "full", "namespaces": True, "cgroup": "v2", "separate_user": True, "missing": []}
PARTIAL = {**FULL, "level": "partial", "cgroup": "", "missing": ["control group: not root"]}


def submission(key: str, *, name: str = "", problem: str | None = None) -> Submission:
    student = Student(key=key, name=name)
    path = None if problem else Path(f"/staging/{key}/digits.py")
    return Submission(student=student, origin=f"course.zip: {key}", path=path, problem=problem)


def result(
    failures: dict[tuple, str], *, protections=FULL, peak: int = 0, notes=()
) -> GradingResult:
    """Every case of CASES, passed unless ``failures`` gives its output."""
    tests = [
        CaseResult(
            name,
            function,
            0.0 if (name, function, points, hidden) in failures else points,
            points,
            (name, function, points, hidden) not in failures,
            hidden,
            failures.get((name, function, points, hidden), "Passed."),
        )
        for name, function, points, hidden in CASES
    ]
    return GradingResult(
        "digits.py", tests, 5.0, list(notes), protections=protections, peak_memory_bytes=peak
    )


def ungradable(key: str, message: str, *, problem: str | None = None) -> GradedSubmission:
    """What the grader writes for a submission it cannot grade (grade.failed_result)."""
    failed = grade.failed_result(
        CASE_OBJECTS,
        message=f"Your submission could not be graded: {message}.",
        submission="digits.py",
        started=0.0,
    )
    return GradedSubmission(submission(key, problem=problem), failed)


@pytest.fixture
def course() -> list[GradedSubmission]:
    mb = 2**20
    return [
        GradedSubmission(submission("ann", name="Ann Smith"), result({}, peak=500 * mb)),
        GradedSubmission(
            submission("bob"),
            result(
                {F1: COLUMN_MAJOR, F2: COLUMN_MAJOR_HIDDEN, C1: "Failed: returned a list"},
                peak=700 * mb,
            ),
        ),
        GradedSubmission(
            submission("cat"), result({F1: COLUMN_MAJOR, N2: TIMED_OUT}, peak=600 * mb)
        ),
        GradedSubmission(
            submission("dan"),
            result({N1: OUT_OF_MEMORY, C1: BUDGET}, protections=PARTIAL, peak=2100 * mb),
        ),
        GradedSubmission(submission("eve"), result(SYNTAX_FAILURES, notes=[SYNTAX])),
        ungradable("fay", "no .py or .ipynb file in fay.zip", problem="no .py or .ipynb file"),
        ungradable("gus", "the notebook is not valid JSON"),
        GradedSubmission(submission("hal"), None, error="grader error: a malformed reply"),
        GradedSubmission(
            submission("ivy", name=HOSTILE_NAME),
            result({N1: f"Failed: {HOSTILE_OUTPUT} Hint: <b>bold</b> move"}),
        ),
        GradedSubmission(
            submission("jon"),
            grade.grader_error_result(why="the check crashed", submission="x.py", started=0.0),
        ),
    ]


def outcomes() -> list[StudentOutcome]:
    seconds = {"ann": 10, "bob": 30, "cat": 50, "dan": 70, "eve": 4, "fay": 0.5, "gus": 1}
    seconds |= {"hal": 2, "ivy": 20, "jon": 3}
    return [
        StudentOutcome(key, "reused" if key in ("ann", "bob") else "graded", None, None, time)
        for key, time in seconds.items()
    ]


def write(tmp_path: Path, graded, **options) -> CourseReport:
    options.setdefault("assignment_name", ASSIGNMENT)
    options.setdefault("generated_at", GENERATED_AT)
    return write_report(out_dir=tmp_path / "out", graded=graded, **options)


def page_of(tmp_path: Path) -> str:
    return (tmp_path / "out" / REPORT_HTML).read_text("utf-8")


# --- the figures ---------------------------------------------------------------------------------


def test_scores_cover_every_student_with_a_score_and_fill_the_histogram(tmp_path, course):
    scores = write(tmp_path, course).scores
    # ann 100 %, bob 40, cat 50, dan 60, eve 0, fay 0, gus 0 (ungradable), ivy 80; hal and jon
    # met grader errors and have no score.
    assert scores.students == 8
    assert scores.ungradable_included == 2
    assert scores.max_scores == (10.0,)
    assert [item.students for item in scores.histogram] == [3, 0, 0, 0, 1, 1, 1, 0, 1, 1]
    assert [item.label for item in scores.histogram[:1] + scores.histogram[-1:]] == [
        "0 to under 10 %",
        "90 to 100 %",
    ]
    assert scores.mean_percent == pytest.approx(41.25, abs=0.05)
    assert scores.median_percent == 45.0
    assert (scores.min_percent, scores.max_percent) == (0.0, 100.0)
    assert (scores.full_marks, scores.zero) == (1, 3)
    assert scores.points(45.0) == 4.5


def test_pass_rates_per_case_and_points_per_function_count_the_graded_submissions(tmp_path, course):
    report = write(tmp_path, course)
    assert report.graded == 6  # ann, bob, cat, dan, eve, ivy: not the ungradable, not errors
    rates = {
        case.name: (case.hidden, case.passed, case.students, case.rate) for case in report.cases
    }
    assert rates == {
        N1[0]: (False, 3, 6, 50.0),  # dan (memory), eve, ivy failed
        N2[0]: (True, 4, 6, 66.7),  # cat (timed out), eve
        F1[0]: (False, 3, 6, 50.0),  # bob, cat, eve
        F2[0]: (True, 4, 6, 66.7),  # bob, eve
        C1[0]: (False, 3, 6, 50.0),  # bob, dan (budget), eve
    }
    functions = {
        f.name: (f.max_points, f.mean_points, f.rate, f.full_marks, f.students)
        for f in report.functions
    }
    assert list(functions) == ["normalize", "flatten", "confusion"]  # the contract's order
    assert functions == {
        "normalize": (4.0, 2.33, 58.3, 2, 6),  # 4 + 4 + 2 + 2 + 0 + 2 = 14 of 24
        "flatten": (4.0, 2.17, 54.2, 3, 6),  # 4 + 0 + 1 + 4 + 0 + 4 = 13 of 24
        "confusion": (2.0, 1.0, 50.0, 3, 6),  # 2 + 0 + 2 + 0 + 0 + 2 = 6 of 12
    }
    assert [case.name for case in report.hardest_cases] == [N1[0], F1[0], C1[0]]


def test_mistakes_are_grouped_by_hint_counted_per_student_most_common_first(tmp_path, course):
    mistakes = [(m.kind, m.text, m.students, m.cases) for m in write(tmp_path, course).mistakes]
    assert mistakes == [
        # bob failed both flatten cases with this hint: one student, two cases.
        ("hint", HINT, ("bob", "cat"), (F1[0], F2[0])),
        ("hint", "<b>bold</b> move", ("ivy",), (N1[0],)),
        # eve's every check failed with one message: once, not five times.
        ("load", "Your code has a syntax error", ("eve",), ("every check",)),
        ("check", C1[0], ("bob",), (C1[0],)),  # no hint: the case's title
    ]  # limits (cat, dan) are not mistakes; ungradable and grader errors are not graded


def test_submissions_that_did_not_import_count_once_under_what_stopped_them(tmp_path):
    def not_importing(key: str, note: str) -> GradedSubmission:
        failures = dict.fromkeys(CASES, f"Failed: {note}")
        return GradedSubmission(submission(key), result(failures, notes=[note]))

    graded = [
        not_importing("a", "Your code has a syntax error at line 3: invalid syntax"),
        not_importing("b", "Your code has a syntax error at line 90: unexpected indent"),
        not_importing("c", "Importing your code raised NameError at line 7: name 'np' ..."),
        not_importing("d", "Your code called sys.exit() while being imported (at line 12)."),
        # Every case failed, each for its own reason: these are separate mistakes.
        GradedSubmission(submission("e"), result(dict.fromkeys(CASES, "Failed: wrong"))),
    ]
    mistakes = [(m.kind, m.text, m.students) for m in write(tmp_path, graded).mistakes]
    assert mistakes[:3] == [
        ("load", "Your code has a syntax error", ("a", "b")),
        ("load", "Importing your code raised NameError", ("c",)),
        ("load", "Your code called sys.exit() while being imported", ("d",)),
    ]
    assert sorted(mistakes[3:]) == sorted(("check", case[0], ("e",)) for case in CASES)


def test_limits_ungradable_submissions_and_grader_errors_are_listed_with_why(tmp_path, course):
    report = write(tmp_path, course)
    assert [(h.student.key, h.limits, h.cases, h.detail) for h in report.limits] == [
        ("cat", ("time limit",), 1, "calling normalize: timed out after 20 s"),
        (
            "dan",
            ("memory limit", "time budget"),
            2,
            "calling normalize: used more than the 2048 MB memory limit",
        ),
    ]
    assert [(p.student.key, p.reason) for p in report.ungradable] == [
        ("fay", "no .py or .ipynb file"),  # the collector's reason, as in the gradebooks
        ("gus", "the notebook is not valid JSON"),
    ]
    assert [(p.student.key, p.reason) for p in report.grader_errors] == [
        ("hal", "grader error: a malformed reply"),
        ("jon", "the check crashed"),
    ]


def test_timing_and_the_sandbox_level(tmp_path, course):
    report = write(tmp_path, course, outcomes=outcomes(), seconds=120.0, jobs=2)
    timing = report.timing
    assert (timing.seconds, timing.jobs, timing.graded_now, timing.reused) == (120.0, 2, 8, 2)
    assert timing.per_minute == 4.0  # 8 graded in 2 minutes
    assert timing.median_seconds == 7.0  # 0.5 1 2 3 (4 10) 20 30 50 70
    assert (timing.max_seconds, timing.slowest.key) == (70.0, "dan")
    assert timing.median_peak_memory_bytes == 650 * 2**20
    assert timing.max_peak_memory_bytes == 2100 * 2**20
    sandbox_level = report.sandbox
    assert sandbox_level.level == "mixed"
    assert sandbox_level.levels == (("full", 5), ("partial", 1))  # ungradable, errors: none
    assert sandbox_level.missing == ("control group: not root",)
    # Without the batch's outcomes (a direct call), each result's own time is used.
    alone = write(tmp_path, course).timing
    assert (alone.graded_now, alone.reused, alone.seconds, alone.jobs) == (None, None, None, None)
    assert alone.median_seconds == 5.0


def test_to_dict_holds_every_figure_and_is_json(tmp_path, course):
    report = write(tmp_path, course, outcomes=outcomes(), seconds=120.0, jobs=2)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["assignment"] == ASSIGNMENT
    assert data["generated_at"] == "2024-03-05T14:30:00+00:00"
    assert (data["students"], data["graded"]) == (10, 6)
    assert [b["students"] for b in data["scores"]["histogram"]] == [3, 0, 0, 0, 1, 1, 1, 0, 1, 1]
    assert data["functions"][0]["cases"][1] == {
        "function": "normalize",
        "name": N2[0],
        "hidden": True,
        "points": 2.0,
        "passed": 4,
        "students": 6,
        "rate_percent": 66.7,
    }
    assert data["mistakes"][0]["count"] == 2
    assert data["limits"][1]["limits"] == ["memory limit", "time budget"]
    assert data["ungradable"][0] == {
        "student": {"key": "fay", "name": "fay"},
        "reason": "no .py or .ipynb file",
    }
    assert data["timing"]["per_minute"] == 4.0
    assert data["sandbox"] == {
        "level": "mixed",
        "levels": {"full": 5, "partial": 1},
        "missing": ["control group: not root"],
    }


# --- the page ------------------------------------------------------------------------------------


def test_the_page_shows_the_figures_and_their_text_alternatives(tmp_path, course):
    write(tmp_path, course, outcomes=outcomes(), seconds=120.0, jobs=2)
    page = page_of(tmp_path)
    assert "<title>Lab 3: digits: course report</title>" in page
    assert "do not give it to students" in page
    # Two plots, each a PNG per colour scheme inside the page, with alt text and a data table.
    assert page.count('<source srcset="data:image/png;base64,') == 2
    assert page.count('<img src="data:image/png;base64,') == 2
    alts = re.findall(r'<img src="data:image/png;base64,[^"]*" alt="([^"]*)"', page)
    assert alts[0].startswith("Histogram of the scores of 8 students")
    assert "0 to under 10 %: 3;" in alts[0]
    assert "90 to 100 %: 1." in alts[0]
    assert "normalize: 58.3 %; flatten: 54.2 %; confusion: 50 %." in alts[1]
    assert "<caption>Students per score range</caption>" in page
    assert '<th scope="row">0 to under 10 %</th><td>0 to under 1</td><td class="number">3</td>' in (
        page
    )
    assert '<td class="number">3 of 6</td><td class="number">50 %</td>' in page
    # Hidden case titles are shown to the instructor; mistakes, limits, problems, timing too.
    assert N2[0] in page
    assert F2[0] in page
    assert f"Hint: {HINT}".replace("'", "&#39;") in page
    assert "Every check failed: Your code has a syntax error" in page
    assert "memory limit, time budget" in page
    assert "the notebook is not valid JSON" in page
    assert "the check crashed" in page
    assert "120.0 s with 2 jobs (4 submissions a minute)" in page
    assert "median 7.0 s, longest 70.0 s (dan)" in page
    assert "median 650 MB, most 2100 MB" in page
    assert "mixed (full: 5, partial: 1 submissions)" in page
    # Each listed student links to their feedback page.
    assert '<a href="feedback/cat.html">cat</a>' in page
    assert 'http-equiv="Content-Security-Policy"' in page
    assert "<script" not in page  # no script at all


def test_hostile_names_and_outputs_are_text_never_markup(tmp_path, course):
    evil_key = "x\"'><svg onload=alert(1)>#?"
    stopped = f"Failed: calling confusion: {HOSTILE_OUTPUT} timed out after 20 s"
    graded = [
        *course,
        GradedSubmission(submission(evil_key, name=HOSTILE_NAME), result({C1: stopped})),
    ]
    write(tmp_path, graded)
    page = page_of(tmp_path)
    for raw in (HOSTILE_NAME, HOSTILE_OUTPUT, "<b>bold</b>", "<svg", evil_key):
        assert raw not in page
    assert "&lt;img src=x onerror=alert(1)&gt;</a>" in page  # the name, in the limits table
    assert "Hint: &lt;b&gt;bold&lt;/b&gt; move" in page  # a hint a student's output forged
    assert "calling confusion: &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; timed out" in page
    # The link to the feedback page names the file, quoted for a URL.
    assert 'href="feedback/x%22%27%3E%3Csvg%20onload%3Dalert%281%29%3E%23%3F.html"' in page


def test_an_empty_course_gets_a_report_that_says_so(tmp_path):
    report = write(tmp_path, [])
    assert (report.students, report.graded, report.scores.students) == (0, 0, 0)
    assert [item.students for item in report.scores.histogram] == [0] * 10
    assert report.scores.mean_percent is None
    assert (report.functions, report.mistakes, report.limits) == ((), (), ())
    assert report.timing.median_seconds is None
    assert report.sandbox.level == "not recorded"
    page = page_of(tmp_path)
    assert "The batch had no submissions." in page
    assert "<img" not in page  # nothing to plot
    assert "No submission was graded, so there are no pass rates." in page


def test_a_course_nobody_could_grade_has_scores_but_no_pass_rates(tmp_path):
    graded = [ungradable(key, "the notebook is not valid JSON") for key in ("a", "b", "c")]
    report = write(tmp_path, graded)
    assert (report.students, report.graded) == (3, 0)
    assert [item.students for item in report.scores.histogram] == [3] + [0] * 9
    assert report.scores.ungradable_included == 3
    assert report.functions == ()
    assert report.mistakes == ()  # every case failed, but nothing was graded
    assert [p.student.key for p in report.ungradable] == ["a", "b", "c"]
    page = page_of(tmp_path)
    assert page.count("<img") == 1  # the histogram only
    assert "No submission was graded, so there are no pass rates." in page


def test_one_student_is_a_course_too(tmp_path):
    graded = [GradedSubmission(submission("solo"), result({F1: COLUMN_MAJOR}))]
    report = write(tmp_path, graded, outcomes=[StudentOutcome("solo", "graded", 7, 10, 12.5)])
    assert report.scores.median_percent == report.scores.mean_percent == 70.0
    assert [item.students for item in report.scores.histogram][7] == 1
    assert [(m.text, m.students) for m in report.mistakes] == [(HINT, ("solo",))]
    assert (report.timing.median_seconds, report.timing.slowest.key) == (12.5, "solo")
    assert "1 student;" in page_of(tmp_path)


def test_bad_input_is_refused_before_anything_is_written(tmp_path, course):
    with pytest.raises(GradebookError, match="non-empty"):
        write(tmp_path, course, assignment_name=" ")
    with pytest.raises(GradebookError, match="timezone-aware"):
        write(tmp_path, course, generated_at=datetime(2024, 3, 5))
    assert not (tmp_path / "out").exists()


def test_the_report_is_replaced_whole(tmp_path, course, monkeypatch):
    write(tmp_path, course)
    before = page_of(tmp_path)
    real_replace = os.replace

    def failing_replace(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(atomic_files.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write(tmp_path, course[:2])
    monkeypatch.setattr(atomic_files.os, "replace", real_replace)
    assert page_of(tmp_path) == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [REPORT_HTML]


# --- written by a batch --------------------------------------------------------------------------


def test_a_batch_writes_the_report_and_says_so(tmp_path):
    """Only submissions that cannot be graded (no worker starts), graded by the real batch."""
    course_dir = tmp_path / "course"
    (course_dir / "frank").mkdir(parents=True)
    (course_dir / "frank" / "notes.txt").write_text("I could not do it\n")
    (course_dir / "gina").mkdir()
    (course_dir / "gina" / "digits.ipynb").write_text("this is not a notebook")
    out = tmp_path / "grades"
    result_ = grade_batch(inputs=[course_dir], out_dir=out, jobs=1, assignment_name=ASSIGNMENT)
    assert f"wrote {out}/: report.html, gradebook.csv" in result_.summary()
    page = (out / REPORT_HTML).read_text("utf-8")
    assert "<title>Lab 3: digits: course report</title>" in page
    rows = re.findall(r'"feedback/(\w+)\.html">\w+</a></th><td class="output">([^<]*)', page)
    assert rows == [
        ("frank", "no .py or .ipynb file (found: notes.txt)"),
        ("gina", "the notebook is not valid JSON (Expecting value: line 1 column 1 (char 0))"),
    ]
    for key, _ in rows:  # each link names the page the batch wrote
        assert (out / "feedback" / f"{key}.html").is_file()
    assert "2 students have a score (2 of them could not be graded" in page
    assert "with 1 job" in page
    # The real case titles (hidden ones included) are on the page, never the tests' source.
    assert "No submission was graded" in page
    tests_source = "".join(
        path.read_text("utf-8") for path in grade.default_tests_dir().glob("*.py")
    )
    for line in {line.strip() for line in tests_source.splitlines()}:
        if len(line) > 25 and not line.startswith(("#", '"""')):
            assert line not in page, line
    # A rerun reuses both and rewrites the report.
    again = grade_batch(inputs=[course_dir], out_dir=out, jobs=1, assignment_name=ASSIGNMENT)
    assert again.count("reused") == 2
    assert "Graded in this run</dt><dd>0; 2 reused" in (out / REPORT_HTML).read_text("utf-8")


def reference_source() -> str:
    return resources.files("mnist_lab.solutions").joinpath("digits.py").read_text("utf-8")


@pytest.mark.slow
def test_a_real_course_gives_the_report_its_figures(tmp_path):
    """Real grading: full marks, one mistake made twice, a time limit, a syntax error, no file."""
    hostile = Path(__file__).parent / "hostile"
    sources = {
        "alice": reference_source(),
        "bob": mistake_source("confusion_transposed"),
        "carol": mistake_source("confusion_transposed"),
        "dave": reference_source() + "\n" + (hostile / "infinite_loop.py").read_text("utf-8"),
        "erin": reference_source() + "\n" + (hostile / "syntax_error.py").read_text("utf-8"),
    }
    course_dir = tmp_path / "course"
    for key, source in sources.items():
        (course_dir / key).mkdir(parents=True)
        (course_dir / key / "digits.py").write_text(source, encoding="utf-8")
    (course_dir / "frank").mkdir()
    (course_dir / "frank" / "notes.txt").write_text("I could not do it\n")
    out = tmp_path / "grades"
    # One job: on a shared machine, two TensorFlow imports at once can outlast the import limit.
    batch = grade_batch(inputs=[course_dir], out_dir=out, jobs=1, assignment_name=ASSIGNMENT)
    assert batch.count("graded") == 5
    graded = [
        GradedSubmission(
            submission(key),
            GradingResult.from_dict(
                json.loads((out / "results" / f"{key}.json").read_text("utf-8")),
                submission="digits.py",
            ),
        )
        for key in ("alice", "bob", "carol", "dave", "erin")
    ]
    report = write(tmp_path, graded)  # the same figures, recomputed from the results files
    assert (report.scores.full_marks, report.scores.zero) == (1, 1)
    hint = next(m for m in report.mistakes if m.text.startswith("rows and columns are swapped"))
    assert (hint.kind, hint.students) == ("hint", ("bob", "carol"))
    assert report.mistakes[0] == hint  # the most common
    load = [m for m in report.mistakes if m.kind == "load"]
    assert [(m.text, m.students) for m in load] == [("Your code has a syntax error", ("erin",))]
    assert [(h.student.key, h.limits) for h in report.limits] == [("dave", ("time limit",))]
    assert report.sandbox.level == sandbox.protections().level
    # The batch's own report shows the same, with the ungradable student and the timing.
    page = (out / REPORT_HTML).read_text("utf-8")
    assert "Hint: rows and columns are swapped" in page
    assert '<a href="feedback/dave.html">dave</a></th><td>time limit</td>' in page
    assert '<a href="feedback/frank.html">frank</a>' in page
    assert "with 1 job" in page
    assert f"<dt>Sandbox</dt><dd>{report.sandbox.level}</dd>" in page


# --- in a browser --------------------------------------------------------------------------------

SCHEMES = ("light", "dark")
FOCUSABLE = "a[href], summary, button, input, select, textarea, [tabindex]"


def browser_course(course) -> list[GradedSubmission]:
    """The course, a student with a hostile name who hit a limit (so the name is shown), and one
    whose hint came in three cases (so the cases are listed in a disclosure)."""
    stopped = GradedSubmission(submission("zed", name=HOSTILE_NAME), result({C1: TIMED_OUT}))
    thrice = GradedSubmission(submission("kim"), result(dict.fromkeys((N1, F1, F2), COLUMN_MAJOR)))
    return [*course, stopped, thrice]


def open_offline(browser, url: str, scheme: str):
    """A page of ``url`` in which every request but the page itself fails and is recorded."""
    context = browser.new_context(color_scheme=scheme)
    refused: list[str] = []

    def only_the_page(route) -> None:
        if route.request.url == url:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_page)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text))  # e.g. a CSP violation
    page.goto(url)
    return context, page, refused, errors


@pytest.mark.slow
@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_report_renders_offline_and_axe_finds_no_violation(
    browser, axe_source, tmp_path, course, scheme
):
    write(tmp_path, browser_course(course), outcomes=outcomes(), seconds=120.0, jobs=2)
    url = (tmp_path / "out" / REPORT_HTML).as_uri()
    context, page, refused, errors = open_offline(browser, url, scheme)
    assert page.locator("h1").inner_text() == "Lab 3: digits (course report)"
    # Each plot is drawn (its PNG decoded under the page's CSP) in the reader's colour scheme,
    # has alt text, and the table of its figures follows it.
    images = page.evaluate(
        """() => Array.from(document.querySelectorAll('figure img')).map(image => ({
            alt: image.alt, width: image.naturalWidth, dark: image.currentSrc !== image.src,
            table: image.closest('figure').nextElementSibling.tagName}))"""
    )
    assert [image["alt"].split(" ")[:2] for image in images] == [
        ["Histogram", "of"],
        ["Bar", "chart"],
    ]
    assert all(image["width"] > 0 and image["table"] == "TABLE" for image in images)
    assert {image["dark"] for image in images} == {scheme == "dark"}
    # A hostile name is shown as text; the stylesheet applied.
    assert page.get_by_role("link", name=HOSTILE_NAME).get_attribute("href") == "feedback/zed.html"
    assert page.evaluate("() => document.querySelectorAll('script, [onerror]').length") == 0
    assert (
        page.evaluate("() => getComputedStyle(document.querySelector('.glance')).display") == "grid"
    )
    assert refused == []
    assert errors == []
    context.close()

    context = browser.new_context(bypass_csp=True, color_scheme=scheme)  # lets axe be injected
    page = context.new_page()
    page.goto(url)
    page.add_script_tag(content=axe_source)
    outcome = page.evaluate("async () => await axe.run(document)")
    context.close()
    violations = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in outcome["violations"]
    ]
    assert violations == [], f"{scheme} scheme:\n" + "\n".join(violations)
    assert len(outcome["passes"]) > 15  # axe really ran its rules


@pytest.mark.slow
def test_every_link_and_disclosure_is_reachable_by_keyboard(browser, tmp_path, course):
    write(tmp_path, browser_course(course), outcomes=outcomes(), seconds=120.0, jobs=2)
    context, page, refused, errors = open_offline(
        browser, (tmp_path / "out" / REPORT_HTML).as_uri(), "light"
    )
    describe = "element => element.outerHTML.slice(0, 120)"
    focusable = page.eval_on_selector_all(
        FOCUSABLE, f"elements => elements.filter(e => e.tabIndex >= 0).map({describe})"
    )
    assert page.eval_on_selector_all("[tabindex]", "elements => elements.length") == 0
    assert len(focusable) > 15  # the skip link, the contents, the students, the case lists
    reached = []
    for index in range(len(focusable)):
        page.keyboard.press("Tab")
        if index == 0:  # the skip link, shown when focused
            assert page.evaluate("() => document.activeElement.className") == "skip-link"
            assert page.evaluate("() => document.activeElement.getBoundingClientRect().top") >= 0
        reached.append(page.evaluate(f"() => ({describe})(document.activeElement)"))
        # Where the focus is, it shows (the stylesheet's :focus-visible outline).
        assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != (
            "none"
        )
    assert reached == focusable  # every one, in reading order
    # A list of cases opens from the keyboard.
    page.locator("summary").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.querySelector('details').open") is True
    assert refused == []
    assert errors == []
    context.close()
