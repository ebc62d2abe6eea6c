"""The gradebooks of a batch: gradebook.csv, canvas.csv, moodle.csv and the feedback pages.

Results are built by hand (public and hidden cases of several functions, a submission with a
problem, one the grader could not grade). Every CSV is parsed back with ``csv``; the feedback
pages are searched for anything a hidden case must never reveal, for unescaped student text, and
one is opened in headless Chromium (no request but itself, axe-core finds no violation).
"""

from __future__ import annotations

import csv
import os
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mnist_lab import files as atomic_files
from mnist_lab.grading import gradebook
from mnist_lab.grading.collect import Student, Submission
from mnist_lab.grading.grade import CaseResult, GradingResult
from mnist_lab.grading.gradebook import (
    GradebookError,
    GradebookFiles,
    GradedSubmission,
    write_gradebooks,
)

ASSIGNMENT = "Lab 3: digits"
GRADED_AT = datetime(2024, 3, 5, 15, 30, tzinfo=timezone(timedelta(hours=1)))
HIDDEN_NAMES = ("flatten: HIDDEN-NAME-ONE", "normalize: HIDDEN-NAME-TWO")
HIDDEN_OUTPUTS = ("HIDDEN-OUTPUT-ONE expected 784", "HIDDEN-OUTPUT-TWO")
HOSTILE = "<script>alert('x')</script>"
PROBLEM = "no .py or .ipynb file in cat.zip"


CASES = [  # name, function, points, hidden: every function, two of them with a hidden case
    ("normalize: scales pixels to [0, 1]", "normalize", 2.0, False),
    (HIDDEN_NAMES[1], "normalize", 1.0, True),
    ("flatten: one row per image", "flatten", 2.0, False),
    (HIDDEN_NAMES[0], "flatten", 1.5, True),
    ("build_model: compiles", "build_model", 2.5, False),
    ("predict_digit: predicts a digit", "predict_digit", 2.0, False),
    ("confusion: counts pairs", "confusion", 1.0, False),
]


def full_tests(scores: dict[str, float], outputs: dict[str, str] | None = None) -> list:
    """Every case of CASES, at full points unless ``scores`` says otherwise."""
    outputs = outputs or {}
    hidden_outputs = dict(zip(HIDDEN_NAMES, HIDDEN_OUTPUTS, strict=True))
    tests = []
    for name, function, points, hidden in CASES:
        score = scores.get(name, points)
        if score == points:
            output = "Passed."
        elif hidden:
            output = f"Failed: {hidden_outputs[name]}"
        else:
            output = outputs.get(name, "Failed: wrong")
        tests.append(CaseResult(name, function, score, points, score == points, hidden, output))
    return tests


def submission(key, *, name="", lms="files", lms_id="", sid="", email="", problem=None):
    student = Student(key=key, name=name, lms=lms, lms_id=lms_id, sid=sid, email=email)
    path = None if problem else Path(f"/staging/{key}/digits.py")
    return Submission(student=student, origin=f"course.zip: {key}", path=path, problem=problem)


@pytest.fixture
def course() -> list[GradedSubmission]:
    ann = GradedSubmission(
        submission(
            "smith_ann-101", name="Ann Smith", lms="canvas", lms_id="101", email="ann@x.edu"
        ),
        GradingResult(
            submission="digits.py",
            tests=full_tests(
                {
                    "flatten: one row per image": 0.0,
                    HIDDEN_NAMES[0]: 0.0,
                    "confusion: counts pairs": 0.0,
                },
                {"flatten: one row per image": "Failed: flatten returned shape (28, 28)"},
            ),
            execution_time=3.0,
            notes=["Your code printed 123,456 bytes of output."],
        ),
    )
    bob = GradedSubmission(
        submission(
            "bob-57",
            name=HOSTILE,
            lms="moodle",
            lms_id="57",
            sid="=cmd|' /C calc'!A0",
            email="+bob@x.edu",
        ),
        GradingResult(
            submission="digits.ipynb",
            tests=full_tests(
                {"predict_digit: predicts a digit": 0.0, HIDDEN_NAMES[1]: 0.0},
                {"predict_digit: predicts a digit": f"Failed: your code raised {HOSTILE}"},
            ),
            execution_time=4.0,
            notes=[f"A notebook cell failed and was skipped: {HOSTILE}"],
        ),
    )
    cat = GradedSubmission(
        submission("cat", name="-Cat", problem=PROBLEM),
        GradingResult(
            submission="cat.zip",
            tests=[
                CaseResult(name, function, 0.0, points, False, hidden, f"Failed: {PROBLEM}")
                for name, function, points, hidden in CASES
            ],
            execution_time=0.0,
            notes=[PROBLEM],
        ),
    )
    dan = GradedSubmission(
        submission("dan-9", name="Dan", lms="gradescope", lms_id="9", sid="s9"),
        None,
        error="the worker could not start",
    )
    return [dan, bob, cat, ann]  # not in key order: the outputs sort by key


def write(tmp_path: Path, graded, **options) -> GradebookFiles:
    options.setdefault("assignment_name", ASSIGNMENT)
    options.setdefault("graded_at", GRADED_AT)
    return write_gradebooks(out_dir=tmp_path / "out", graded=graded, **options)


def read_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")  # no BOM: Moodle matches "Identifier" exactly
    assert raw.count(b"\r\n") == raw.count(b"\n")  # RFC 4180 line ends
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.reader(stream))


def pages(files: GradebookFiles) -> dict[str, str]:
    return {key: path.read_text("utf-8") for key, path in files.feedback.items()}


# --- the CSV files ----------------------------------------------------------------------------


def test_gradebook_csv_has_every_student_with_identity_points_and_status(tmp_path, course):
    files = write(tmp_path, course)
    rows = read_csv(files.gradebook)
    assert rows[0] == [
        "key", "name", "lms", "lms_id", "sid", "email", "origin", "score", "max_score",
        "normalize", "flatten", "build_model", "predict_digit", "confusion", "status", "feedback",
    ]  # fmt: skip
    assert rows[1:] == [
        [
            "bob-57", HOSTILE, "moodle", "57", "'=cmd|' /C calc'!A0", "'+bob@x.edu",
            "course.zip: bob-57", "9", "12", "2", "3.5", "2.5", "0", "1", "graded",
            "feedback/bob-57.html",
        ],
        [
            "cat", "'-Cat", "files", "", "", "", "course.zip: cat", "0", "12",
            "0", "0", "0", "0", "0", PROBLEM, "feedback/cat.html",
        ],
        [
            "dan-9", "Dan", "gradescope", "9", "s9", "", "course.zip: dan-9", "", "",
            "", "", "", "", "", "not graded: the worker could not start", "feedback/dan-9.html",
        ],
        [
            "smith_ann-101", "Ann Smith", "canvas", "101", "", "ann@x.edu",
            "course.zip: smith_ann-101", "7.5", "12", "3", "0", "2.5", "2", "0", "graded",
            "feedback/smith_ann-101.html",
        ],
    ]  # fmt: skip
    for row in rows[1:]:  # the feedback column names the page that was written
        assert (files.gradebook.parent / row[-1]).is_file()


def test_canvas_csv_is_what_canvas_imports_and_says_who_it_cannot_match(tmp_path, course):
    files = write(tmp_path, course, canvas_assignment_id="4711")
    assert read_csv(files.canvas) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Lab 3: digits (4711)"],
        [HOSTILE, "", "", "", "", "9"],
        ["'-Cat", "", "", "", "", "0"],
        ["Dan", "", "", "", "", ""],  # not graded: an empty cell changes nothing in Canvas
        ["Ann Smith", "101", "", "", "", "7.5"],
    ]
    assert files.canvas_unmatched == ("bob-57", "cat", "dan-9")
    warnings = files.warnings()
    assert any(
        w.startswith("canvas.csv: 3 of 4 students have no Canvas id (bob-57, cat, dan-9)")
        for w in warnings
    ), warnings
    # Without an id the column is the assignment's name, which Canvas matches by exact title.
    files = write(tmp_path, course)
    assert read_csv(files.canvas)[0][-1] == ASSIGNMENT


def test_moodle_csv_is_the_offline_grading_worksheet(tmp_path, course):
    files = write(tmp_path, course)
    rows = read_csv(files.moodle)
    assert rows[0] == [
        "Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
        "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
        "Feedback comments",
    ]  # fmt: skip
    stamp = "2024-03-05T14:30:00+00:00"  # the grading time in UTC, which PHP's strtotime reads
    assert [row[:9] for row in rows[1:]] == [
        ["Participant 57", HOSTILE, "'+bob@x.edu", "Graded", "9", "12", "Yes", "", stamp],
        ["", "'-Cat", "", "Graded", "0", "12", "Yes", "", stamp],
        ["", "Dan", "", "Not graded", "", "", "Yes", "", stamp],  # empty grade: Moodle skips
        ["", "Ann Smith", "ann@x.edu", "Graded", "7.5", "12", "Yes", "", stamp],
    ]
    comments = {row[1]: row[9] for row in rows[1:]}
    assert comments[HOSTILE] == (
        "Score: 9 of 12. Points per function: normalize 2 of 3; flatten 3.5 of 3.5; "
        "build_model 2.5 of 2.5; predict_digit 0 of 2; confusion 1 of 1."
    )
    assert comments["'-Cat"].startswith(f"Your submission could not be graded: {PROBLEM} Score: 0")
    assert comments["Dan"] == "Not graded yet: the grader failed on this submission."
    assert files.moodle_unmatched == ("cat", "dan-9", "smith_ann-101")


def test_numbers_are_written_as_people_write_them_and_only_text_is_guarded(tmp_path, course):
    files = write(tmp_path, course)
    cells = [cell for path in (files.gradebook, files.canvas, files.moodle) for row in
             read_csv(path) for cell in row]  # fmt: skip
    assert not any(cell.endswith(".0") for cell in cells)
    assert "7.5" in cells
    assert "'7.5" not in cells
    for cell in cells:  # nothing a spreadsheet would run as a formula
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    guarded = {
        "=1+1": "'=1+1",
        "+1": "'+1",
        "-1": "'-1",
        "@SUM(A1)": "'@SUM(A1)",
        "\tx": "'\tx",
        "\rx": "'\rx",
        "a=b": "a=b",
    }
    assert {text: gradebook._cell(text) for text in guarded} == guarded
    assert [gradebook._cell(v) for v in (80.0, 80, 2.5, -1.0, 0.1 + 0.2, None)] == [
        "80",
        "80",
        "2.5",
        "-1",
        "0.30000000000000004",
        "",
    ]


# --- the feedback pages ------------------------------------------------------------------------


def test_hidden_cases_show_their_title_when_failed_and_never_their_output(tmp_path, course):
    files = write(tmp_path, course)
    written = pages(files)
    assert sorted(written) == ["bob-57", "cat", "dan-9", "smith_ann-101"]
    texts = {**written, **{p.name: p.read_text("utf-8") for p in (files.canvas, files.moodle)}}
    for name, text in texts.items():  # the Moodle feedback comments reach students too
        for secret in HIDDEN_OUTPUTS:
            assert secret not in text, (name, secret)
    ann = written["smith_ann-101"]
    # Ann failed flatten's hidden check: its title says what it checks; normalize's passed.
    assert "<h2>Hidden checks that failed</h2>" in ann
    assert f"<li>{HIDDEN_NAMES[0]} <span" in ann
    assert HIDDEN_NAMES[1] not in ann
    assert "HIDDEN-NAME" not in texts["moodle.csv"] + texts["canvas.csv"]
    # flatten: 0 of 3.5 in all, of which the hidden check is 0 of 1.5; normalize's hidden passed.
    assert "<td>0 of 3.5</td>" in ann
    assert "<td>1 hidden check: 0 of 1.5 points</td>" in ann
    assert "<td>1 hidden check: 1 of 1 point</td>" in ann
    assert "<td>2 hidden checks: 1 of 2.5 points</td>" in ann  # the total row
    assert "Score: <strong>7.5 of 12 points</strong>" in ann


def test_a_page_names_each_failed_visible_check_with_its_feedback_and_the_notes(tmp_path, course):
    files = write(tmp_path, course)
    ann = pages(files)["smith_ann-101"]
    assert "<title>Lab 3: digits: feedback for Ann Smith</title>" in ann
    assert "<h1>Lab 3: digits</h1>" in ann
    assert "Feedback for <strong>Ann Smith</strong>" in ann
    assert "flatten: one row per image" in ann
    assert "Failed: flatten returned shape (28, 28)" in ann
    assert "confusion: counts pairs" in ann
    assert "normalize: scales pixels to [0, 1]" not in ann  # passed: not listed
    assert "Your code printed 123,456 bytes of output." in ann
    assert "Skip to your feedback" in ann
    assert 'http-equiv="Content-Security-Policy"' in ann
    assert "default-src &#39;none&#39;" in ann  # attribute-escaped, as on the quiz pages
    assert "<script" not in ann  # no script at all: the page only shows


def test_problems_and_grader_errors_are_said_plainly(tmp_path, course):
    written = pages(write(tmp_path, course))
    cat = written["cat"]
    assert "Your submission could not be graded" in cat
    assert PROBLEM in cat
    assert cat.count(PROBLEM) == 1  # not repeated for every check, nor as a note
    assert "Every check scored 0 points." in cat
    assert "Score: <strong>0 of 12 points</strong>" in cat
    assert "Visible checks that failed" not in cat
    dan = written["dan-9"]
    assert "Not graded yet" in dan
    assert "the grader failed: the worker could not start" in dan
    assert "This is not a score." in dan
    assert "Score:" not in dan


def test_everything_a_student_wrote_is_escaped(tmp_path, course):
    bob = pages(write(tmp_path, course))["bob-57"]
    assert HOSTILE not in bob
    assert "<script" not in bob
    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
    assert f"Feedback for <strong>{escaped}</strong>" in bob
    assert f"Failed: your code raised {escaped}" in bob
    assert f"A notebook cell failed and was skipped: {escaped}" in bob


# --- bad input and writing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"graded": "duplicate"}, "two submissions have the student key 'cat'"),
        ({"graded": "case"}, r"two submissions have the student key 'CAT' \(and 'cat'\)"),
        ({"graded": "path"}, "cannot name a file"),
        ({"graded": "dot"}, "cannot name a file"),
        ({"graded": "surrogate"}, "cannot name a file"),
        ({"graded": "both"}, "has both a result and an error"),
        ({"assignment_name": "  "}, "assignment name must be non-empty"),
        ({"assignment_name": "Lab\n3"}, "control character"),
        ({"canvas_assignment_id": "12a"}, "Canvas assignment id must be digits"),
        ({"graded_at": datetime(2024, 3, 5)}, "timezone-aware"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(tmp_path, course, change, message):
    options = dict(change)
    kind = options.pop("graded", None)
    graded = list(course)
    cat = next(item for item in graded if item.submission.student.key == "cat")
    if kind == "duplicate":
        graded.append(cat)
    elif kind == "case":
        graded.append(GradedSubmission(submission("CAT"), cat.result))
    elif kind == "path":
        graded.append(GradedSubmission(submission("../evil"), cat.result))
    elif kind == "dot":
        graded.append(GradedSubmission(submission(".hidden"), cat.result))
    elif kind == "surrogate":  # its page's file name could not be written in the gradebook
        graded.append(GradedSubmission(submission(os.fsdecode(b"ren\xe9e")), cat.result))
    elif kind == "both":
        graded.append(GradedSubmission(submission("eve"), cat.result, error="boom"))
    with pytest.raises(GradebookError, match=message):
        write(tmp_path, graded, **options)
    assert issubclass(GradebookError, ValueError)
    assert not (tmp_path / "out").exists()


def test_files_are_replaced_whole_and_no_temp_file_is_left(tmp_path, course, monkeypatch):
    files = write(tmp_path, course)
    before = {path: path.read_bytes() for path in (files.gradebook, files.canvas, files.moodle)}
    out = files.gradebook.parent

    def listing() -> list[str]:
        return sorted(str(p.relative_to(out)) for p in out.rglob("*"))

    expected = [
        "canvas.csv", "feedback", "feedback/bob-57.html", "feedback/cat.html",
        "feedback/dan-9.html", "feedback/smith_ann-101.html", "gradebook.csv", "moodle.csv",
    ]  # fmt: skip
    assert listing() == expected

    # A failure while replacing a file leaves the old file whole and no temp file behind.
    real_replace = os.replace
    calls = []

    def failing_replace(source, target):
        calls.append(target)
        if Path(target).name == "canvas.csv":
            raise OSError("disk full")
        return real_replace(source, target)

    monkeypatch.setattr(atomic_files.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write(tmp_path, course[:2], canvas_assignment_id="1")
    monkeypatch.setattr(atomic_files.os, "replace", real_replace)
    assert listing() == expected
    assert files.canvas.read_bytes() == before[files.canvas]
    assert len(read_csv(files.gradebook)) == 3  # written whole, before the failure

    # Writing again replaces every file.
    again = write(tmp_path, course)
    assert listing() == expected
    assert {path: path.read_bytes() for path in before} == before
    assert again.to_dict()["feedback"]["cat"] == str(out / "feedback" / "cat.html")


def test_the_result_object_tells_the_cli_what_to_warn_about(tmp_path, course):
    files = write(tmp_path, course)
    data = files.to_dict()
    assert data["gradebook"] == str(tmp_path / "out" / "gradebook.csv")
    assert data["students"] == 4
    assert data["canvas_unmatched"] == ["bob-57", "cat", "dan-9"]
    assert data["moodle_unmatched"] == ["cat", "dan-9", "smith_ann-101"]
    assert data["warnings"] == files.warnings()
    assert len(files.warnings()) == 2  # a Canvas and a Moodle line, no other worry

    # Different maximum scores (say, a public-only run mixed in) are worth a warning.
    ann = course[-1]
    assert ann.result is not None
    short = GradingResult("digits.py", ann.result.tests[:2], 1.0)
    mixed = [*course[:-1], GradedSubmission(ann.submission, short)]
    assert any("different maximum scores (3, 12)" in w for w in write(tmp_path, mixed).warnings())

    # A course of plain files has no LMS ids at all: one line says so.
    plain = [GradedSubmission(submission("zoe"), ann.result)]
    assert write(tmp_path, plain).warnings() == [
        "no student came from a Canvas or Moodle download: canvas.csv can be matched by name "
        "only and moodle.csv not at all"
    ]


def test_one_lms_id_on_two_rows_is_worth_a_warning(tmp_path, course):
    ann = course[-1]
    again = GradedSubmission(
        submission("smith_ann-101-2", name="Ann Smith", lms="canvas", lms_id="101"), ann.result
    )
    warnings = write(tmp_path, [*course, again]).warnings()
    assert (
        "canvas.csv: Canvas id 101 is on 2 rows (smith_ann-101, smith_ann-101-2), one student "
        "handed in twice: keep one row before uploading"
    ) in warnings
    assert not [w for w in write(tmp_path, course).warnings() if "rows (" in w]


def test_text_that_is_not_valid_unicode_never_stops_the_gradebooks(tmp_path, course):
    """A Latin-1 file name (undecodable bytes kept as surrogates) or a lone surrogate in what a
    student's code raised: every file is still written, as valid UTF-8."""
    latin1 = os.fsdecode(b"Ren\xe9e M\xfcller")
    lone = "raised \ud800 here"
    ann = course[-1]
    tests = [replace(case, output=f"Failed: {lone}") for case in ann.result.tests]
    tests[0] = replace(tests[0], passed=False, score=0.0)
    student = Student(key="renee", name=latin1, lms="canvas", lms_id="7")
    graded = GradedSubmission(
        Submission(student, f"course/{latin1}.py", Path("/staging/renee/x.py"), None),
        replace(ann.result, tests=tests, notes=[f"note {lone}"]),
    )
    files = write(tmp_path, [*course, graded])
    for path in (files.gradebook, files.canvas, files.moodle, files.feedback["renee"]):
        path.read_bytes().decode("utf-8")  # strict: raises on anything that is not UTF-8
    rows = {row[0]: row for row in read_csv(files.gradebook)}
    assert rows["renee"][1] == "Renée Müller"
    assert rows["renee"][6] == "course/Renée Müller.py"
    assert ["Renée Müller", "7"] in [row[:2] for row in read_csv(files.canvas)]
    page = files.feedback["renee"].read_text("utf-8")
    assert "Renée Müller" in page
    assert "raised \ufffd here" in page


# --- in a browser ------------------------------------------------------------------------------

SCHEMES = ("light", "dark")
AXE_ENV = "MNIST_LAB_AXE_JS"  # as in tests/quiz/test_browser.py


@pytest.mark.slow
@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_feedback_page_renders_offline_and_axe_finds_no_violation(
    browser, axe_source, tmp_path, course, scheme
):
    files = write(tmp_path, course)
    url = files.feedback["bob-57"].as_uri()

    context = browser.new_context(color_scheme=scheme)
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    context.route(lambda address: not address.startswith("file:"), lambda route: route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text))  # e.g. a CSP violation
    page.goto(url)
    assert page.locator("h1").inner_text() == ASSIGNMENT
    assert page.locator(".intro strong").inner_text() == HOSTILE  # shown as text, not run
    assert page.locator(".scores tbody tr").count() == 5
    assert (
        page.locator(".failed-check h3").inner_text().startswith("predict_digit: predicts a digit")
    )
    # The inlined stylesheet applied (the CSP let it in): the table is styled, the skip link is off
    # screen until focused.
    assert (
        page.evaluate("() => getComputedStyle(document.querySelector('.scores')).borderCollapse")
        == "collapse"
    )
    assert (
        page.evaluate("() => document.querySelector('.skip-link').getBoundingClientRect().top") < 0
    )
    assert errors == []
    assert requests == [url]  # the page itself, and nothing else
    context.close()

    context = browser.new_context(bypass_csp=True, color_scheme=scheme)  # lets axe be injected
    page = context.new_page()
    page.goto(url)
    page.add_script_tag(content=axe_source)
    result = page.evaluate("async () => await axe.run(document)")
    context.close()
    violations = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in result["violations"]
    ]
    assert violations == [], f"{scheme} scheme:\n" + "\n".join(violations)
    assert len(result["passes"]) > 15  # axe really ran its rules
