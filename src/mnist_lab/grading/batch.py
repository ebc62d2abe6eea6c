"""Grade a whole course: many submissions in parallel, resumable, one gradebook at the end.

``grade_batch`` collects the submissions (``collect.py``: files, folders, LMS bulk downloads),
grades each with ``grade_submission`` in a pool of ``jobs`` threads (each grading run drives its
own sandboxed worker process, so the threads only wait), and writes into ``out_dir``::

    submissions/<key>/<file>   the exact bytes graded
    results/<key>.json         Gradescope-format results, one per student
    feedback/<key>.html        the student's feedback page (nothing hidden revealed)
    gradebook.csv, canvas.csv, moodle.csv
    report.html                the course report, for the instructor (report.py)
    .mnist-lab-batch.json      what is done: a rerun grades only what is new or changed

A broken or hostile submission costs its own row, never the batch. Every file is written
atomically and the state after each student, so an interrupted batch resumes where it stopped.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TextIO

from mnist_lab import __version__
from mnist_lab.constants import ASSIGNMENT_NAME
from mnist_lab.errors import UserError
from mnist_lab.files import write_text_atomically
from mnist_lab.grading import grade, sandbox
from mnist_lab.grading.cluster import ClusterGrader
from mnist_lab.grading.collect import CollectError, Submission, collect_submissions
from mnist_lab.grading.config import DEFAULTS, GradingConfig
from mnist_lab.grading.gradebook import GradebookFiles, GradedSubmission, write_gradebooks
from mnist_lab.grading.inputs import (
    check_assignment_name,
    check_canvas_assignment_id,
    check_course_inputs,
    check_tests_dir,
)
from mnist_lab.grading.report import write_report

STATE_FILE = ".mnist-lab-batch.json"
STATE_VERSION = 1
# The environment cannot run workers at all (not one student's fault): stop after this many
# such failures in a row rather than fail every student the same way.
MAX_SETUP_FAILURES_IN_A_ROW = 3


def _count(number: int, noun: str) -> str:
    """``1 submission``, ``2 submissions``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


class BatchError(UserError):
    """The batch cannot run (bad inputs, bad --out, a grader that cannot start here)."""


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) stopped the batch; what finished is kept for the next run."""

    def __init__(self, *, done: int, total: int, out_dir: Path) -> None:
        super().__init__(
            f"interrupted: {done} of {_count(total, 'submission')} are graded and kept in "
            f"{out_dir}; "
            "run the same command again to grade the rest"
        )


class Outcome(str, Enum):
    """What happened to one student in a batch."""

    GRADED = "graded"  # graded now
    REUSED = "reused"  # graded by an earlier run, unchanged since
    UNGRADABLE = "ungradable"  # no file to grade: every case 0 with the reason
    ERROR = "error"  # the grader failed: kept out of the record, regraded next run


@dataclass(frozen=True)
class StudentOutcome:
    """One student's line in the batch: graded now, reused from an earlier run, or not graded."""

    key: str
    status: Outcome
    score: float | None
    max_score: float | None
    seconds: float
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "status": self.status.value,
            "score": self.score,
            "max_score": self.max_score,
            "seconds": round(self.seconds, 2),
            "message": self.message,
        }


@dataclass
class BatchResult:
    out_dir: Path
    outcomes: list[StudentOutcome]
    files: GradebookFiles
    seconds: float
    jobs: int
    notes: list[str] = field(default_factory=list)

    def count(self, status: Outcome) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)

    def summary(self) -> str:
        graded = self.count(Outcome.GRADED)
        lines = [
            f"{_count(len(self.outcomes), 'submission')} in {self.seconds:.1f} s with "
            f"{_count(self.jobs, 'job')}: "
            f"{graded} graded now, {self.count(Outcome.REUSED)} already graded, "
            f"{self.count(Outcome.UNGRADABLE)} ungradable, {self.count(Outcome.ERROR)} not graded "
            f"(grader error)"
        ]
        lines += self.notes
        lines.append(f"wrote {self.out_dir}/: report.html, gradebook.csv, canvas.csv, moodle.csv, ")
        lines[-1] += "results/, feedback/"
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "seconds": round(self.seconds, 2),
            "jobs": self.jobs,
            "students": [outcome.to_dict() for outcome in self.outcomes],
            "files": self.files.to_dict(),
            "notes": self.notes,
        }


# --- progress ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Where the batch is: sent after each student (and once at the start)."""

    done: int
    total: int
    running: int
    last: StudentOutcome | None


class ProgressPrinter:
    """A live bar on a terminal; one line per finished student in logs and CI."""

    def __init__(self, stream: TextIO = sys.stderr, *, live: bool | None = None) -> None:
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.started = time.monotonic()

    def __call__(self, progress: Progress) -> None:
        last = progress.last
        about = ""
        if last is not None:
            score = "" if last.score is None else f" {last.score:g}/{last.max_score:g}"
            about = f"{last.key}{score} ({last.status})"
        if self.live:
            width = 30
            filled = width * progress.done // max(progress.total, 1)
            bar = "#" * filled + "." * (width - filled)
            elapsed = time.monotonic() - self.started
            line = f"[{bar}] {progress.done}/{progress.total}  {elapsed:.0f} s  {about}"
            self.stream.write("\r" + line[:120].ljust(120))
            if progress.done == progress.total:
                self.stream.write("\n")
        elif last is not None:
            self.stream.write(f"[{progress.done}/{progress.total}] {about}\n")
        self.stream.flush()


# --- state ---------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def grading_config(*, tests_dir: Path, config: GradingConfig) -> str:
    """What makes a grade: the test files, every limit, mnist-lab's version."""
    digest = hashlib.sha256(f"{__version__}\0{config.fingerprint()}\0".encode())
    for path in sorted(tests_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(tests_dir).as_posix().encode() + b"\0")
            digest.update(_sha256(path).encode())
    return digest.hexdigest()


def fingerprint(submission: Submission) -> str:
    """What was graded: the file's bytes and name, or the problem."""
    if submission.path is None:
        return "problem:" + (submission.problem or "")
    return f"file:{submission.path.name}:{_sha256(submission.path)}"


class BatchState:
    """``.mnist-lab-batch.json``: the config and, per student, the fingerprint of what is done."""

    def __init__(self, out_dir: Path, config: str) -> None:
        self.path = out_dir / STATE_FILE
        self.config = config
        self.students: dict[str, dict[str, Any]] = {}
        self.config_changed = False
        self._lock = threading.Lock()
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text("utf-8"))
                if data.get("version") == STATE_VERSION and data.get("config") == config:
                    self.students = dict(data.get("students", {}))
                else:
                    self.config_changed = True
            except (ValueError, AttributeError, TypeError):
                self.config_changed = True  # unreadable: start again, grading everything

    def done(self, key: str, print_: str) -> dict[str, Any] | None:
        entry = self.students.get(key)
        if isinstance(entry, dict) and entry.get("fingerprint") == print_:
            return entry
        return None

    def record(self, key: str, entry: dict[str, Any] | None) -> None:
        with self._lock:
            if entry is None:
                self.students.pop(key, None)
            else:
                self.students[key] = entry
            self.save()

    def keep_only(self, keys: set[str]) -> None:
        with self._lock:
            self.students = {k: v for k, v in self.students.items() if k in keys}
            self.save()

    def save(self) -> None:
        data = {"version": STATE_VERSION, "config": self.config, "students": self.students}
        write_text_atomically(self.path, json.dumps(data, indent=1, sort_keys=True))


# --- the batch -----------------------------------------------------------------------------------


def check_out_dir(out_dir: Path, inputs: Sequence[Path]) -> None:
    """Refuse an ``out_dir`` that is a file, a foreign non-empty folder, inside an input, or
    holding one."""
    if out_dir.exists() and not out_dir.is_dir():
        raise BatchError(f"--out {out_dir}: is a file, expected a folder")
    resolved = out_dir.resolve()
    for path in inputs:
        path = Path(path)
        if path.is_dir() and (resolved == path.resolve() or path.resolve() in resolved.parents):
            raise BatchError(
                f"--out {out_dir}: is inside the input folder {path}; its files would be "
                "taken for submissions"
            )
        if resolved == path.resolve() or resolved in path.resolve().parents:
            raise BatchError(
                f"--out {out_dir}: holds the input {path}; grading writes over that folder, "
                "choose another --out"
            )
    foreign = out_dir.is_dir() and any(out_dir.iterdir())
    if foreign and not (out_dir / STATE_FILE).is_file():
        raise BatchError(
            f"--out {out_dir}: folder is not empty and is not a previous mnist-lab batch "
            f"(no {STATE_FILE}); choose an empty or new folder"
        )
    parent = resolved.parent
    if not parent.is_dir():
        raise BatchError(f"--out {out_dir}: parent folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BatchError(f"--out {out_dir}: cannot write in {parent} (permission denied)")


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    """Hold a lock on the ``out_dir`` folder itself (no lock file left behind); BatchError when
    another batch holds it."""
    try:
        import fcntl  # POSIX; where there is none (Windows), batches are not locked
    except ImportError:
        yield
        return
    descriptor = os.open(out_dir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchError(
                f"--out {out_dir}: another mnist-lab grade is writing there now; wait for it "
                "to end or choose another folder"
            ) from None
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _stage(inputs: Sequence[Path], out_dir: Path) -> list[Submission]:
    """Collect into a fresh folder, then put it in place of ``submissions/``."""
    fresh = Path(tempfile.mkdtemp(prefix=".submissions-", dir=out_dir))
    try:
        collected = collect_submissions(inputs=inputs, staging=fresh / "submissions")
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    target = out_dir / "submissions"
    retired = fresh / "retired"
    if target.exists():
        target.rename(retired)
    (fresh / "submissions").rename(target)
    shutil.rmtree(fresh, ignore_errors=True)
    moved = fresh / "submissions"  # where the staged paths were before their folder moved
    return [
        Submission(
            student=item.student,
            origin=item.origin,
            path=None if item.path is None else target / item.path.relative_to(moved),
            problem=item.problem,
        )
        for item in collected
    ]


def grade_batch(
    *,
    inputs: Sequence[Path],
    out_dir: Path,
    jobs: int | None = None,
    tests_dir: Path | None = None,
    config: GradingConfig = DEFAULTS,
    assignment_name: str = ASSIGNMENT_NAME,
    canvas_assignment_id: str | None = None,
    progress: Callable[[Progress], None] = lambda progress: None,
    cancel: threading.Event | None = None,
    fork_server: bool = True,
    cluster: str | None = None,
) -> BatchResult:
    """Grade every submission found in ``inputs``; write results, feedback and gradebooks.

    Every option and input is checked first (``inputs.py``, ``check_out_dir``): a mistake
    raises a UserError before anything is graded or written.
    A rerun on the same ``out_dir`` reuses every result whose submission and tests are unchanged.
    KeyboardInterrupt (or ``cancel``) stops it: finished students are kept, running ones are
    regraded next time. ``fork_server``: see ``grade.grade_submission``. ``cluster``: the
    address of a Dask scheduler whose workers grade the submissions (``cluster.py``); ``jobs``
    is then how many are sent at once (default: twice the cluster's threads, at least 16).
    """
    started = time.monotonic()
    if jobs is not None and jobs < 1:
        raise BatchError(f"--jobs must be at least 1, got {jobs}")
    if not inputs:
        raise BatchError("no submissions given")
    # Every option the gradebooks need at the end is checked before the first student.
    check_assignment_name(assignment_name)
    check_canvas_assignment_id(canvas_assignment_id)
    cases = check_tests_dir(tests_dir)  # a broken or public-only tests folder stops us here
    tests_dir = Path(tests_dir) if tests_dir is not None else grade.default_tests_dir()
    check_course_inputs(inputs)
    out_dir = Path(out_dir)
    check_out_dir(out_dir, inputs)
    remote = None
    if cluster is not None:  # reached (or refused) before anything is written
        remote = ClusterGrader(cluster, tests_dir=tests_dir, config=config, fork_server=fork_server)
        jobs = jobs or max(16, 2 * remote.threads())
    jobs = jobs or os.cpu_count() or 1
    with contextlib.ExitStack() as cleanup:
        if remote is not None:
            cleanup.callback(remote.close)  # also when --out cannot be made or is locked
        created = not out_dir.exists()
        out_dir.mkdir(parents=True, exist_ok=True)
        cleanup.enter_context(_locked(out_dir))  # one batch at a time per --out
        try:
            submissions = _stage(inputs, out_dir)
        except CollectError as error:
            if created:  # leave no empty --out behind a refused input
                shutil.rmtree(out_dir, ignore_errors=True)
            raise BatchError(str(error)) from None
        for folder in ("results", "feedback"):
            (out_dir / folder).mkdir(exist_ok=True)

        state = BatchState(out_dir, grading_config(tests_dir=tests_dir, config=config))
        notes = []
        if state.config_changed:
            notes.append(
                "The tests, the options or the batch's record changed since the last run: "
                "everything was regraded."
            )
        keys = {item.student.key for item in submissions}
        state.keep_only(keys)
        _remove_stale_outputs(out_dir, keys)

        outcomes: dict[str, StudentOutcome] = {}
        graded: dict[str, GradedSubmission] = {}
        to_grade: list[Submission] = []
        for item in submissions:
            reused = _reuse(item, state, out_dir)
            if reused is None:
                to_grade.append(item)
            else:
                outcomes[item.student.key], graded[item.student.key] = reused
        progress(Progress(done=len(outcomes), total=len(submissions), running=0, last=None))
        _grade_in_parallel(
            to_grade,
            outcomes=outcomes,
            graded=graded,
            total=len(submissions),
            jobs=jobs,
            state=state,
            progress=progress,
            cancel=cancel or threading.Event(),
            grade_one=lambda item, cancel: _grade_one(
                item,
                out_dir=out_dir,
                tests_dir=tests_dir,
                cases=cases,
                config=config,
                cancel=cancel,
                fork_server=fork_server,
                remote=remote,
            ),
            out_dir=out_dir,
        )
        ordered = [item.student.key for item in submissions]
        files = write_gradebooks(
            out_dir=out_dir,
            graded=[graded[key] for key in ordered],
            assignment_name=assignment_name,
            canvas_assignment_id=canvas_assignment_id,
        )
        write_report(
            out_dir=out_dir,
            graded=[graded[key] for key in ordered],
            outcomes=[outcomes[key] for key in ordered],
            assignment_name=assignment_name,
            seconds=time.monotonic() - started,
            jobs=jobs,
        )
    return BatchResult(
        out_dir=out_dir,
        outcomes=[outcomes[key] for key in ordered],
        files=files,
        seconds=time.monotonic() - started,
        jobs=jobs,
        notes=notes,
    )


def _grade_in_parallel(
    to_grade: list[Submission],
    *,
    outcomes: dict[str, StudentOutcome],
    graded: dict[str, GradedSubmission],
    total: int,
    jobs: int,
    state: BatchState,
    progress: Callable[[Progress], None],
    cancel: threading.Event,
    grade_one: Callable[[Submission, threading.Event], tuple[StudentOutcome, GradedSubmission]],
    out_dir: Path,
) -> None:
    """Grade ``to_grade`` with ``jobs`` threads into ``outcomes``/``graded``, recording each."""
    setup_failures = 0
    counting = threading.Lock()

    def work(item: Submission) -> tuple[StudentOutcome, GradedSubmission]:
        nonlocal setup_failures
        if cancel.is_set():
            raise sandbox.GradingCancelled()
        outcome, graded_item = grade_one(item, cancel)
        with counting:
            if outcome.status is Outcome.ERROR and outcome.message.startswith("setup:"):
                setup_failures += 1
                if setup_failures >= MAX_SETUP_FAILURES_IN_A_ROW:
                    cancel.set()
            elif outcome.status in (Outcome.GRADED, Outcome.UNGRADABLE):
                setup_failures = 0
        if outcome.status in (Outcome.GRADED, Outcome.UNGRADABLE):
            record = {
                "fingerprint": fingerprint(item),
                "status": outcome.status,
                "seconds": round(outcome.seconds, 2),
            }
            state.record(item.student.key, record)
        return outcome, graded_item

    executor = concurrent.futures.ThreadPoolExecutor(
        max_workers=jobs, thread_name_prefix="mnist-lab-grade"
    )
    futures = {executor.submit(work, item): item for item in to_grade}
    pending = set(futures)
    try:
        while pending:
            finished, pending = concurrent.futures.wait(
                pending, timeout=0.5, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in finished:
                item = futures[future]
                try:
                    outcome, graded_item = future.result()
                except sandbox.GradingCancelled:
                    continue
                outcomes[item.student.key], graded[item.student.key] = outcome, graded_item
                running = min(jobs, len(pending))
                progress(Progress(done=len(outcomes), total=total, running=running, last=outcome))
            if cancel.is_set() and setup_failures < MAX_SETUP_FAILURES_IN_A_ROW:
                raise KeyboardInterrupt
    except BaseException as error:
        cancel.set()  # the running gradings kill their workers and stop
        executor.shutdown(wait=True, cancel_futures=True)
        if isinstance(error, KeyboardInterrupt):
            raise BatchInterrupted(done=len(outcomes), total=total, out_dir=out_dir) from None
        raise
    executor.shutdown(wait=True)
    if setup_failures >= MAX_SETUP_FAILURES_IN_A_ROW:
        reasons = [o.message for o in outcomes.values() if o.message.startswith("setup:")]
        raise BatchError(
            f"the grader cannot run here ({reasons[-1].removeprefix('setup: ')}); "
            f"{len(outcomes)} of {total} submissions were done and are kept"
        )


def _remove_stale_outputs(out_dir: Path, keys: set[str]) -> None:
    """Results and feedback of students no longer in the inputs (derived files, regenerated)."""
    for folder, suffix in (("results", ".json"), ("feedback", ".html")):
        for path in (out_dir / folder).glob(f"*{suffix}"):
            if path.name[: -len(suffix)] not in keys:
                path.unlink()


def _reuse(
    item: Submission, state: BatchState, out_dir: Path
) -> tuple[StudentOutcome, GradedSubmission] | None:
    """The earlier run's outcome, when the same submission was graded with the same tests."""
    entry = state.done(item.student.key, fingerprint(item))
    if entry is None:
        return None
    results = out_dir / "results" / f"{item.student.key}.json"
    try:
        data = json.loads(results.read_text("utf-8"))
        result = grade.GradingResult.from_dict(data, submission=_submission_name(item))
    except (OSError, ValueError):
        return None  # the results file is gone or damaged: grade again
    outcome = StudentOutcome(
        key=item.student.key,
        status=Outcome.REUSED,
        score=result.score,
        max_score=result.max_score,
        seconds=float(entry.get("seconds", 0.0)),
        message=item.problem or "",
    )
    return outcome, GradedSubmission(submission=item, result=result)


def _submission_name(item: Submission) -> str:
    return item.path.name if item.path is not None else item.student.key


def _grade_one(
    item: Submission,
    *,
    out_dir: Path,
    tests_dir: Path,
    cases: list[grade.Case],
    config: GradingConfig,
    cancel: threading.Event,
    fork_server: bool = True,
    remote: ClusterGrader | None = None,
) -> tuple[StudentOutcome, GradedSubmission]:
    started = time.monotonic()
    key = item.student.key
    results_path = out_dir / "results" / f"{key}.json"

    def outcome(status: Outcome, result: grade.GradingResult | None, message: str = "") -> Any:
        return StudentOutcome(
            key=key,
            status=status,
            score=None if result is None else result.score,
            max_score=None if result is None else result.max_score,
            seconds=time.monotonic() - started,
            message=message,
        )

    def ungradable(message: str) -> tuple[StudentOutcome, GradedSubmission]:
        result = grade.failed_result(
            cases,
            message=f"Your submission could not be graded: {message}.",
            submission=_submission_name(item),
            started=started,
        )
        grade.write_results(result, results_path)
        graded = GradedSubmission(submission=item, result=result)
        return outcome(Outcome.UNGRADABLE, result, message), graded

    if item.path is None:
        return ungradable(item.problem or "no submission file")
    try:
        if remote is not None:
            result = remote.grade(item.path, cancel=cancel)
            grade.write_results(result, results_path)
        else:
            result = grade.grade_submission(
                submission=item.path,
                tests_dir=tests_dir,
                results_path=results_path,
                config=config,
                cancel=cancel,
                fork_server=fork_server,
            )
    except grade.GradingSetupError as error:
        return ungradable(str(error))
    except Exception as error:  # a bug in mnist-lab: this student is not graded, the rest are
        message = f"the grader failed: {type(error).__name__}: {error}"
        return outcome(Outcome.ERROR, None, message), GradedSubmission(item, None, message)
    if result.grader_error is not None:  # kept out of the record: the next run grades it again
        message = f"grader error (will be regraded): {result.grader_error}"
        if "sandbox did not start" in result.grader_error:
            message = f"setup: {message}"
        return outcome(Outcome.ERROR, None, message), GradedSubmission(item, None, message)
    return outcome(Outcome.GRADED, result), GradedSubmission(submission=item, result=result)
