"""Batch grading (``grade_batch`` and ``mnist-lab grade --out``), graded for real.

Real worker processes, TensorFlow and the shipped tests: a mixed course (correct, buggy,
hostile, ungradable) is graded in parallel, rerun (nothing regraded), changed (only the change
regraded) and interrupted (what finished is kept, the rest is graded on the next run).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from importlib import resources
from pathlib import Path

import pytest

from mnist_lab.grading import forkserver, sandbox
from mnist_lab.grading.batch import (
    STATE_FILE,
    BatchError,
    BatchInterrupted,
    Progress,
    ProgressPrinter,
    StudentOutcome,
    grade_batch,
)
from mnist_lab.grading.config import GradingConfig
from mnist_lab.grading.grade import default_tests_dir, load_cases
from mnist_lab.grading.inputs import InputError

from .mistake_patches import mistake_source
from .releases import write_student_release

HOSTILE = Path(__file__).parent / "hostile"


def reference() -> str:
    return resources.files("mnist_lab.solutions").joinpath("digits.py").read_text("utf-8")


def stubs() -> str:
    return resources.files("mnist_lab.exercises").joinpath("digits.py").read_text("utf-8")


def hostile(name: str) -> str:
    snippet = (HOSTILE / f"{name}.py").read_text("utf-8")
    base = reference() if "# base: reference" in snippet.splitlines()[0] else stubs()
    return base + "\n\n" + snippet


def points_of(function: str) -> float:
    return sum(case.points for case in load_cases(default_tests_dir()) if case.function == function)


TOTAL = sum(case.points for case in load_cases(default_tests_dir()))


def course(folder: Path, students: dict[str, str | None]) -> Path:
    """One subfolder per student holding digits.py (or only notes.txt when the source is None)."""
    for name, source in students.items():
        (folder / name).mkdir(parents=True)
        if source is None:
            (folder / name / "notes.txt").write_text("I could not do it\n")
        else:
            (folder / name / "digits.py").write_text(source, encoding="utf-8")
    return folder


def scores(out: Path) -> dict[str, float]:
    return {
        path.stem: json.loads(path.read_text())["score"]
        for path in sorted((out / "results").glob("*.json"))
    }


def live_descendants() -> list[int]:
    """Processes (not zombies) descending from this test process, but the warm fork server
    (bubblewrap and its Python, which never run student code): workers left running."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    servers = forkserver.server_pids()
    servers |= {pid for pid, parent in parents.items() if parent in servers}
    found, frontier = [], [os.getpid()]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return sorted(set(found) - servers)


def no_temp_files(out: Path) -> list[Path]:
    return [
        path
        for path in out.rglob("*")
        if path.name.startswith(".") and path.is_file() and path.name != STATE_FILE
    ]


@pytest.mark.slow
def test_a_mixed_course_is_graded_in_parallel_and_every_student_gets_a_row(
    tmp_path: Path,
) -> None:
    inputs = course(
        tmp_path / "course",
        {
            "alice": reference(),
            "bob": mistake_source("normalize_int_division"),
            "carol": hostile("syntax_error"),
            "dave": hostile("os_exit_import"),
            "erin": stubs(),
            "frank": None,
        },
    )
    seen: list[Progress] = []
    result = grade_batch(inputs=[inputs], out_dir=tmp_path / "out", jobs=2, progress=seen.append)

    status = {outcome.key: outcome.status for outcome in result.outcomes}
    assert status == {
        "alice": "graded",
        "bob": "graded",
        "carol": "graded",
        "dave": "graded",
        "erin": "graded",
        "frank": "ungradable",
    }
    bob = json.loads((tmp_path / "out" / "results" / "bob.json").read_text())
    lost = {test["name"].split(":")[0] for test in bob["tests"] if test["status"] == "failed"}
    assert lost == {"normalize"}  # his mistake costs only its own function's cases
    assert scores(tmp_path / "out") == {
        "alice": TOTAL,
        "bob": TOTAL - sum(t["max_score"] for t in bob["tests"] if t["status"] == "failed"),
        "carol": 0,
        "dave": 0,
        "erin": 0,
        "frank": 0,
    }
    frank = json.loads((tmp_path / "out" / "results" / "frank.json").read_text())
    assert "no .py or .ipynb file" in frank["tests"][0]["output"]
    assert [p.done for p in seen] == list(range(7))  # the start, then one per student
    assert seen[-1].total == 6

    with open(tmp_path / "out" / "gradebook.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["key"] for row in rows] == sorted(status)
    assert {row["key"]: float(row["score"]) for row in rows} == scores(tmp_path / "out")
    for name in status:
        page = (tmp_path / "out" / "feedback" / f"{name}.html").read_text("utf-8")
        assert name in page
    for name in ("canvas.csv", "moodle.csv"):
        assert (tmp_path / "out" / name).is_file()
    assert no_temp_files(tmp_path / "out") == []
    # The graded bytes are kept beside the results.
    staged = tmp_path / "out" / "submissions" / "bob" / "digits.py"
    assert staged.read_text("utf-8") == (inputs / "bob" / "digits.py").read_text("utf-8")


@pytest.mark.slow
def test_a_rerun_regrades_only_what_is_new_or_changed(tmp_path: Path) -> None:
    inputs = course(
        tmp_path / "course",
        {"alice": reference(), "bob": mistake_source("flatten_column_major"), "carol": stubs()},
    )
    out = tmp_path / "out"
    first = grade_batch(inputs=[inputs], out_dir=out, jobs=2)
    assert [o.status for o in first.outcomes] == ["graded"] * 3
    before = scores(out)
    results_bytes = {p.name: p.read_bytes() for p in (out / "results").iterdir()}

    again = grade_batch(inputs=[inputs], out_dir=out, jobs=2)
    assert [o.status for o in again.outcomes] == ["reused"] * 3
    assert {p.name: p.read_bytes() for p in (out / "results").iterdir()} == results_bytes
    assert [o.score for o in again.outcomes] == [before[k] for k in ("alice", "bob", "carol")]

    (inputs / "bob" / "digits.py").write_text(reference(), encoding="utf-8")  # bob fixed it
    course(inputs, {"dan": reference()})  # a late submission
    (inputs / "carol" / "digits.py").unlink()  # carol withdrew
    (inputs / "carol").rmdir()
    third = grade_batch(inputs=[inputs], out_dir=out, jobs=2)
    assert {o.key: o.status for o in third.outcomes} == {
        "alice": "reused",
        "bob": "graded",
        "dan": "graded",
    }
    assert scores(out) == {"alice": TOTAL, "bob": TOTAL, "dan": TOTAL}
    assert not (out / "feedback" / "carol.html").exists()


@pytest.mark.slow
def test_an_interrupted_batch_keeps_what_finished_and_resumes(tmp_path: Path) -> None:
    inputs = course(
        tmp_path / "course",
        {"alice": reference(), "bob": hostile("infinite_loop"), "carol": reference()},
    )
    out = tmp_path / "out"
    cancel = threading.Event()

    def stop_after_the_first(progress: Progress) -> None:
        if progress.last is not None:
            cancel.set()

    started = time.monotonic()
    with pytest.raises(BatchInterrupted, match="run the same command again"):
        grade_batch(
            inputs=[inputs], out_dir=out, jobs=1, progress=stop_after_the_first, cancel=cancel
        )
    assert time.monotonic() - started < 60  # the looping submission was not waited for
    done = json.loads((out / STATE_FILE).read_text())["students"]
    assert list(done) == ["alice"]
    assert list(scores(out)) == ["alice"]  # no half-written results
    assert not list((out / "feedback").iterdir())  # the gradebook is written at the end only
    assert live_descendants() == []  # the looping worker was killed, not left behind

    resumed = grade_batch(inputs=[inputs], out_dir=out, jobs=2, config=GradingConfig(time_limit=3))
    # Different options mean different grades: everything is regraded, and says so.
    assert [o.status for o in resumed.outcomes] == ["graded"] * 3
    assert "everything was regraded" in resumed.summary()


@pytest.mark.slow
def test_a_resumed_batch_with_the_same_options_grades_only_the_rest(tmp_path: Path) -> None:
    inputs = course(tmp_path / "course", {"alice": reference(), "bob": stubs()})
    out = tmp_path / "out"
    cancel = threading.Event()

    def stop_after_the_first(progress: Progress) -> None:
        if progress.last is not None:
            cancel.set()

    with pytest.raises(BatchInterrupted):
        grade_batch(
            inputs=[inputs], out_dir=out, jobs=1, progress=stop_after_the_first, cancel=cancel
        )
    resumed = grade_batch(inputs=[inputs], out_dir=out, jobs=1)
    assert {o.key: o.status for o in resumed.outcomes} == {"alice": "reused", "bob": "graded"}
    assert scores(out) == {"alice": TOTAL, "bob": 0}


@pytest.mark.slow
def test_the_command_grades_a_folder_and_ctrl_c_stops_it_cleanly(tmp_path: Path) -> None:
    inputs = course(tmp_path / "course", {"alice": reference(), "bob": hostile("infinite_loop")})
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "mnist_lab",
        "grade",
        str(inputs),
        "--out",
        str(out),
        "--jobs",
        "1",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = out / STATE_FILE
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until alice is done and bob is looping
        if state.is_file() and "alice" in json.loads(state.read_text())["students"]:
            break
        time.sleep(0.2)
    time.sleep(2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "1 of 2 submissions are graded and kept" in stderr
    assert "run the same command again" in stderr

    finished = subprocess.run(
        [*command, "--time-limit", "2"], capture_output=True, text=True, timeout=300
    )
    assert finished.returncode == 0, finished.stderr
    assert "2 submissions in" in finished.stdout
    assert scores(out)["alice"] == TOTAL
    assert scores(out)["bob"] == TOTAL - points_of("normalize")


# --- refused before any grading --------------------------------------------------------------


def test_a_foreign_non_empty_out_folder_is_refused(tmp_path: Path) -> None:
    inputs = course(tmp_path / "course", {"alice": reference()})
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "thesis.tex").write_text("precious")
    with pytest.raises(BatchError, match="not a previous mnist-lab batch"):
        grade_batch(inputs=[inputs], out_dir=tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["thesis.tex"]


def test_out_inside_an_input_folder_and_inputs_inside_out_are_refused(tmp_path: Path) -> None:
    inputs = course(tmp_path / "course", {"alice": reference()})
    with pytest.raises(BatchError, match="inside the input folder"):
        grade_batch(inputs=[inputs], out_dir=inputs / "grades")
    with pytest.raises(BatchError, match="holds the input"):
        grade_batch(inputs=[inputs / "alice" / "digits.py"], out_dir=inputs)
    assert not (inputs / "grades").exists()


def test_a_missing_input_is_refused_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(BatchError, match=r"nowhere\.zip"):
        grade_batch(inputs=[tmp_path / "nowhere.zip"], out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_command_refuses_results_with_several_submissions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mnist_lab.cli import main

    status = main(["grade", "a.py", "b.py", "--results", str(tmp_path / "r.json")])
    assert status == 2
    assert "--results grades one submission file" in capsys.readouterr().err


def test_a_machine_that_cannot_start_workers_stops_the_batch_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment, not the students: stop after a few, say why, keep nothing wrong."""
    inputs = course(tmp_path / "course", {f"s{n}": reference() for n in range(6)})

    def broken(self, *, timeout):
        self.close()
        raise sandbox.SandboxError("cannot start the grading worker: no python here")

    monkeypatch.setattr(sandbox.Sandbox, "wait_ready", broken)
    with pytest.raises(BatchError, match=r"the grader cannot run here .*no python here"):
        grade_batch(inputs=[inputs], out_dir=tmp_path / "out", jobs=1)
    assert json.loads((tmp_path / "out" / STATE_FILE).read_text())["students"] == {}


@pytest.mark.slow
def test_a_moodle_download_graded_by_the_command_gives_an_uploadable_worksheet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import zipfile

    from mnist_lab.cli import main

    download = tmp_path / "MNIST-Lab-123.zip"
    with zipfile.ZipFile(download, "w") as archive:
        archive.writestr("Zoë O'Neil_57_assignsubmission_file_/digits.py", reference())
        archive.writestr("Sam Lee_58_assignsubmission_file_/digits.py", stubs())
        archive.writestr("Ann Bo_59_assignsubmission_onlinetext_/onlinetext.html", "<p>hi</p>")
    assert main(["grade", str(download), "--out", str(tmp_path / "out"), "--jobs", "2"]) == 0
    assert "3 submissions in" in capsys.readouterr().out
    with open(tmp_path / "out" / "moodle.csv", newline="", encoding="utf-8") as stream:
        rows = {row["Identifier"]: row for row in csv.DictReader(stream)}
    assert {key: (row["Full name"], row["Grade"]) for key, row in rows.items()} == {
        "Participant 57": ("Zoë O'Neil", f"{TOTAL:g}"),
        "Participant 58": ("Sam Lee", "0"),
        "Participant 59": ("Ann Bo", "0"),
    }
    page = (tmp_path / "out" / "feedback" / "ann_bo-59.html").read_text("utf-8")
    assert "no .py or .ipynb file" in page


def test_progress_is_a_live_bar_on_a_terminal_and_one_line_per_student_in_logs() -> None:
    import io

    alice = StudentOutcome(key="alice", status="graded", score=80, max_score=80, seconds=5.0)
    frank = StudentOutcome(key="frank", status="ungradable", score=0, max_score=80, seconds=0.1)
    steps = [
        Progress(done=0, total=2, running=0, last=None),
        Progress(done=1, total=2, running=1, last=alice),
        Progress(done=2, total=2, running=0, last=frank),
    ]
    log, terminal = io.StringIO(), io.StringIO()
    for printer in (ProgressPrinter(log, live=False), ProgressPrinter(terminal, live=True)):
        for step in steps:
            printer(step)
    assert log.getvalue() == "[1/2] alice 80/80 (graded)\n[2/2] frank 0/80 (ungradable)\n"
    frames = terminal.getvalue().split("\r")[1:]
    assert len(frames) == 3
    assert terminal.getvalue().endswith("\n")
    assert frames[1].startswith("[" + "#" * 15 + "." * 15 + "] 1/2")
    assert frames[2].startswith("[" + "#" * 30 + "] 2/2")
    assert "frank 0/80" in frames[2]


def test_a_second_batch_into_the_same_out_folder_is_refused_while_the_first_runs(
    tmp_path: Path,
) -> None:
    import fcntl

    inputs = course(tmp_path / "course", {"alice": reference()})
    out = tmp_path / "out"
    out.mkdir()
    held = os.open(out, os.O_RDONLY)  # what a running batch holds: a lock on the folder
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(BatchError, match="another mnist-lab grade is writing there"):
            grade_batch(inputs=[inputs], out_dir=out)
    finally:
        os.close(held)
    assert list(out.iterdir()) == []  # nothing touched


# --- options and inputs refused before any grading -------------------------------------------


def test_a_non_numeric_canvas_assignment_id_is_refused_before_grading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It crashed after the whole batch was graded."""
    from mnist_lab.cli import main

    inputs = course(tmp_path / "course", {"alice": reference()})
    out = tmp_path / "out"
    command = ["grade", str(inputs), "--out", str(out), "--canvas-assignment-id", "12a"]
    assert main(command) == 2
    assert capsys.readouterr().err == (
        "mnist-lab: error: --canvas-assignment-id: the Canvas assignment id must be digits (the "
        "number in the assignment's URL, .../assignments/1234), got '12a'\n"
    )
    assert not out.exists()


def test_an_assignment_name_the_gradebooks_cannot_use_is_refused_before_grading(
    tmp_path: Path,
) -> None:
    inputs = course(tmp_path / "course", {"alice": reference()})
    with pytest.raises(InputError, match="--name: the assignment name contains a control"):
        grade_batch(inputs=[inputs], out_dir=tmp_path / "out", assignment_name="Lab\n3")
    assert not (tmp_path / "out").exists()


def test_the_public_checks_as_tests_are_refused_before_grading(tmp_path: Path) -> None:
    public = write_student_release(tmp_path / "release") / "student" / "tests"
    inputs = course(tmp_path / "course", {"alice": reference()})
    with pytest.raises(InputError, match=r"no test file has a hidden case"):
        grade_batch(inputs=[inputs], out_dir=tmp_path / "out", tests_dir=public)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("given", ["student.zip", "student"])
def test_the_releases_student_files_given_as_a_course_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], given: str
) -> None:
    """They made four fake students (data, mnist_digits, student, tests) and exit 0."""
    from mnist_lab.cli import main

    release = write_student_release(tmp_path / "release")
    out = tmp_path / "out"
    assert main(["grade", str(release / given), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"mnist-lab: error: {release / given}: is the students' release (digits.py, "
        "mnist_digits.ipynb, quiz.html, tests/), not their submissions; name the course's LMS "
        "download (a .zip) or a folder of submissions\n"
    )
    assert not out.exists()


# --- names no student can break a batch with -------------------------------------------------


@pytest.mark.slow
def test_awkward_names_each_get_one_row_and_the_gradebooks_are_written(tmp_path: Path) -> None:
    """A Latin-1 folder name, 80-character CJK names, names that slug to one key, and a
    Moodle-like folder in a plain folder: before, each aborted the batch, dropped classmates
    or crashed the gradebook writing after grading. Tiny submissions keep the grading short."""
    folder = tmp_path / "course"
    cjk, cjk2 = "张" * 80, "李" * 80
    latin1 = Path(os.fsdecode(os.fsencode(folder) + b"/Ren\xe9e"))
    for path, text in {
        latin1 / "digits.py": "x = 1\n",
        folder / f"{cjk}.py": "x = 2\n",
        folder / f"{cjk2}.py": "x = 3\n",
        folder / "Zoë" / "notes.txt": "no code\n",
        folder / "zoe" / "notes.txt": "no code either\n",
        folder / "Jane Doe_7_assignsubmission_file_" / "notes.txt": "late\n",
    }.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def tag(name: str) -> str:
        return hashlib.sha256(name.encode()).hexdigest()[:6]

    out = tmp_path / "out"
    result = grade_batch(inputs=[folder], out_dir=out, jobs=2)
    status = {outcome.key: outcome.status for outcome in result.outcomes}
    assert status == {
        "renee": "graded",
        f"student-{tag(cjk + '.py')}": "graded",
        f"student-{tag(cjk2 + '.py')}": "graded",
        f"zoe-{tag('Zoë/')}": "ungradable",
        f"zoe-{tag('zoe/')}": "ungradable",
        "jane_doe_7_assignsubmission_file": "ungradable",
    }
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as stream:
        rows = {row["key"]: row for row in csv.DictReader(stream)}
    assert set(rows) == set(status)
    assert rows["renee"]["origin"] == f"{folder}/Renée/digits.py"
    assert rows[f"student-{tag(cjk + '.py')}"]["origin"] == f"{folder}/{cjk}.py"
    for key in status:
        assert (out / "results" / f"{key}.json").is_file()
        (out / "feedback" / f"{key}.html").read_bytes().decode("utf-8")  # strict UTF-8
