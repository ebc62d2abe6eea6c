"""Grade a submission with the otter-format test files, student code running only in a sandbox.

The test files are loaded HERE (the grader process) with otter's own loader; each case function
gets proxies for the student's functions (``session.py``), which run them in the sandbox's worker
and bring back data only. Every verdict is computed here. A case passes only if its function
returns normally AND no worker failure (timeout, death, memory) happened during it.

Order of cases: every public case before any hidden one, each phase in a fresh worker, so nothing
about a hidden case (its inputs, what it lent) can reach a public case's feedback; within a
phase, the cases that lend the reference ``normalize``/``flatten`` to ``predict_digit`` last.

Outcomes: a graded result (whatever the score); a submission that cannot be graded (every case 0
with the reason); or a grader error (the grader failed, not the student: ``grader_error`` says
why, and the submission must be graded again). A results file is written in every case.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from mnist_lab import assignment
from mnist_lab.errors import UserError
from mnist_lab.files import write_text_atomically
from mnist_lab.grading import blas, forkserver, protocol, sandbox
from mnist_lab.grading.config import DEFAULTS, GradingConfig
from mnist_lab.grading.session import (
    REFERENCE_HELPERS,
    GraderFault,
    RemoteFunction,
    Session,
    SessionOptions,
)
from mnist_lab.grading.submission import SUBMISSION_SUFFIXES, SubmissionProblem, read_submission

HIDDEN_VISIBILITY = "after_published"  # feedback after grades are out, never before the deadline
GRADER_ERROR_TEXT = (
    "Grading failed: {why}. This is a fault of the grader, not of your code; your submission "
    "will be graded again."
)

__all__ = [
    "SUBMISSION_SUFFIXES",
    "CaseResult",
    "GradingResult",
    "GradingSetupError",
    "grade_submission",
]


class GradingSetupError(UserError):
    """The grader cannot run as asked (no tests, an unusable tests folder, a bad option)."""


class CaseStatus(str, Enum):
    """A case's outcome (the value is what Gradescope's results call it)."""

    PASSED = "passed"
    FAILED = "failed"


@dataclass
class CaseResult:
    """One test case's outcome."""

    name: str
    function: str
    score: float
    max_score: float
    passed: bool
    hidden: bool
    output: str

    @property
    def status(self) -> CaseStatus:
        return CaseStatus.PASSED if self.passed else CaseStatus.FAILED

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "score": self.score,
            "max_score": self.max_score,
            "output": self.output,
            "visibility": HIDDEN_VISIBILITY if self.hidden else "visible",
            "status": self.status.value,
            "extra_data": {"function": self.function},
        }


@dataclass
class GradingResult:
    """Gradescope results for one submission (``to_dict()``) and a human summary (``to_text()``)."""

    submission: str
    tests: list[CaseResult]
    execution_time: float
    notes: list[str] = field(default_factory=list)
    grader_error: str | None = None  # the grader failed: no verdict, grade again
    protections: dict[str, Any] | None = None  # the sandbox's protections (see sandbox.py)
    peak_memory_bytes: int = 0  # the most the submission's sandbox held at once

    @property
    def score(self) -> float:
        return round(sum(case.score for case in self.tests), 6)

    @property
    def max_score(self) -> float:
        return round(sum(case.max_score for case in self.tests), 6)

    @property
    def all_passed(self) -> bool:
        return self.grader_error is None and all(case.passed for case in self.tests)

    def summary(self) -> str:
        if self.grader_error is not None:
            return GRADER_ERROR_TEXT.format(why=self.grader_error)
        passed = sum(case.passed for case in self.tests)
        lines = [
            f"{self.submission}: {self.score:g} / {self.max_score:g} points, "
            f"{passed} of {len(self.tests)} test cases passed"
        ]
        return "\n".join(lines + self.notes)

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.grader_error is not None:
            extra["grader_error"] = self.grader_error
        if self.protections is not None:
            extra["sandbox"] = self.protections
        if self.peak_memory_bytes:
            extra["peak_memory_bytes"] = self.peak_memory_bytes
        data = {
            "score": self.score,
            "execution_time": round(self.execution_time, 2),
            "output": self.summary(),
            "stdout_visibility": "hidden",
            "tests": [case.to_dict() for case in self.tests],
        }
        if extra:
            data["extra_data"] = {"mnist_lab": extra}
        return data

    @classmethod
    def from_dict(cls, data: Any, *, submission: str) -> GradingResult:
        """The result ``to_dict()`` wrote (a batch reads back what it graded before).

        Raises ValueError when ``data`` is not such a result.
        """
        try:
            tests = [
                CaseResult(
                    name=str(case["name"]),
                    function=str(
                        (case.get("extra_data") or {}).get("function")
                        or str(case["name"]).split(":", 1)[0]
                    ),
                    score=float(case["score"]),
                    max_score=float(case["max_score"]),
                    passed=case.get("status", "passed") == CaseStatus.PASSED.value,
                    hidden=case.get("visibility", "visible") != "visible",
                    output=str(case.get("output", "")),
                )
                for case in data["tests"]
            ]
            extra = (data.get("extra_data") or {}).get("mnist_lab") or {}
            notes = str(data.get("output", "")).splitlines()[1:]
            return cls(
                submission=submission,
                tests=tests,
                execution_time=float(data.get("execution_time", 0.0)),
                notes=notes,
                grader_error=extra.get("grader_error"),
                protections=extra.get("sandbox"),
                peak_memory_bytes=int(extra.get("peak_memory_bytes", 0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"not a results file of mnist-lab ({error!r})") from None

    def to_text(self) -> str:
        lines = [self.summary(), ""]
        for case in self.tests:
            mark = "PASS" if case.passed else "FAIL"
            label = " (hidden)" if case.hidden else ""
            lines.append(f"{mark} {case.score:g}/{case.max_score:g}  {case.name}{label}")
            if not case.passed:
                lines += [f"       {line}" for line in case.output.splitlines()[:6]]
        return "\n".join(lines)


# --- test files ----------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    function: str
    points: float
    hidden: bool
    test_func: Any
    params: list[str]
    success_message: str | None
    failure_message: str | None
    order: int = 0  # the case's place in the assignment (results are reported in this order)

    @property
    def needs_reference(self) -> bool:
        return any(param in REFERENCE_HELPERS or param == "env" for param in self.params)

    @property
    def phase(self) -> str:
        return "hidden" if self.hidden else "public"


def default_tests_dir() -> Path:
    return assignment.tests_path()


def load_assignment(tests_dir: Path) -> assignment.Assignment:
    """The assignment these test files define (in the solution's order for the package's own
    tests; a built autograder's files carry their order in their names)."""
    tests_dir = Path(tests_dir)
    solution = assignment.solution_path() if tests_dir == default_tests_dir() else None
    try:
        return assignment.load_assignment(tests_dir=tests_dir, solution=solution)
    except assignment.AssignmentError as error:
        raise GradingSetupError(str(error)) from None


def load_cases(tests_dir: Path) -> list[Case]:
    """Every case of every test file in ``tests_dir``, in grading order."""
    cases = [
        Case(
            name=spec.name,
            function=spec.function,
            points=spec.points,
            hidden=spec.hidden,
            test_func=spec.test.test_func,
            params=spec.params,
            success_message=spec.test.success_message,
            failure_message=spec.test.failure_message,
            order=order,
        )
        for order, spec in enumerate(load_assignment(tests_dir).cases)
    ]
    return sorted(cases, key=lambda case: (case.hidden, case.needs_reference))


# --- running the cases ---------------------------------------------------------------------------


def _arguments(case: Case, session: Session) -> dict[str, Any]:
    names = set(session.assignment_functions) | set(session.functions)
    arguments = {}
    for param in case.params:
        if param == "env":
            arguments[param] = {name: RemoteFunction(session, name) for name in sorted(names)}
        else:
            arguments[param] = RemoteFunction(session, param)
    return arguments


def _failure_text(error: BaseException) -> str:
    error = protocol.student_error_of(error) or error
    if isinstance(error, AssertionError):
        return str(error) or "the check failed"
    if isinstance(error, protocol.StudentError):
        where = f" ({error.where})" if error.where else ""
        return f"your code raised {error.type_name}{where}: {error.message}"
    return str(error)  # a WorkerFailure says what happened


def clean_text(text: str, *, limit: int = 4000) -> str:
    """Printable text for the results: no control characters, no lone surrogates, bounded."""
    text = str(text)[:limit].encode("utf-8", errors="replace").decode("utf-8")
    return "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text)


def run_case(
    case: Case,
    arguments: dict[str, Any] | None,
    *,
    load_error: str | None = None,
    failures: list[str] | None = None,
    strict: bool = True,
) -> CaseResult:
    """Run one case with ``arguments`` (the student's functions or their proxies); the one
    runner of the harness and of otter's in-process way.

    ``failures`` fills with the worker's failures during the call (a case during which one
    happened never earns points). ``strict``: an exception of the check itself (not a failed
    check, not the student's code) is a GraderFault; otter's way counts it as a failure.
    """
    failures = failures if failures is not None else []
    passed, message = False, load_error or ""
    if not load_error:
        try:
            case.test_func(**(arguments or {}))
            passed = True
        except (AssertionError, protocol.StudentError, protocol.WorkerFailure) as error:
            message = _failure_text(error)
        except (GraderFault, sandbox.GradingCancelled):
            raise
        except Exception as error:
            if strict and protocol.student_error_of(error) is None:
                raise GraderFault(
                    f"the check {case.name!r} failed: {type(error).__name__}: {error}"
                ) from error
            message = _failure_text(error)
    if passed and failures:
        passed, message = False, failures[0]
    return _case_result(case, passed, message)


def _case_result(case: Case, passed: bool, message: str) -> CaseResult:
    if passed:
        output = "Passed." + (f" {case.success_message}" if case.success_message else "")
    else:
        output = f"Failed: {message}"
        if case.failure_message:
            output += f"\n{case.failure_message}"
    return CaseResult(
        name=case.name,
        function=case.function,
        score=case.points if passed else 0.0,
        max_score=case.points,
        passed=passed,
        hidden=case.hidden,
        output=clean_text(output),
    )


def run_session_case(case: Case, session: Session) -> CaseResult:
    """One case under the harness: the student's functions are proxies into the sandbox."""
    session.failures_in_case = []
    arguments = None if session.load_error else _arguments(case, session)
    return run_case(
        case, arguments, load_error=session.load_error, failures=session.failures_in_case
    )


def grade_in_process(
    functions: dict[str, Any], *, sources: dict[str, str] | None = None
) -> GradingResult:
    """Grade ``functions`` (name -> callable) in THIS process, as ``otter run`` does (no sandbox:
    only for code you trust, e.g. proving the test files), with the harness' own runner.

    ``sources``: ``{function: test file source}`` (default: the assignment's test files).
    """
    from mnist_lab.grading.testfiles import autograder_sources, write_test_files

    started = time.monotonic()
    sources = sources if sources is not None else autograder_sources()
    with tempfile.TemporaryDirectory(prefix="mnist-lab-tests-") as folder:
        write_test_files(sources, Path(folder))
        cases = sorted(load_cases(Path(folder)), key=lambda case: case.order)
        tests = []
        for case in cases:
            arguments = {
                param: functions if param == "env" else functions.get(param)
                for param in case.params
            }
            tests.append(run_case(case, arguments, strict=False))
    return GradingResult(
        submission="<in process>", tests=tests, execution_time=time.monotonic() - started
    )


def failed_result(
    cases: list[Case], *, message: str, submission: str, started: float
) -> GradingResult:
    """Every case at 0 with the same reason (a submission that cannot be graded at all)."""
    cases = sorted(cases, key=lambda case: case.order)
    tests = [
        CaseResult(
            name=case.name,
            function=case.function,
            score=0.0,
            max_score=case.points,
            passed=False,
            hidden=case.hidden,
            output=clean_text(f"Failed: {message}"),
        )
        for case in cases
    ]
    return GradingResult(
        submission=submission,
        tests=tests,
        execution_time=time.monotonic() - started,
        notes=[clean_text(message, limit=1000)],
    )


def grader_error_result(
    *, why: str, submission: str, started: float, protections: dict | None = None
) -> GradingResult:
    return GradingResult(
        submission=submission,
        tests=[],
        execution_time=time.monotonic() - started,
        grader_error=clean_text(why, limit=1000),
        protections=protections,
    )


def write_results(result: GradingResult, results_path: Path) -> None:
    """Write the results JSON atomically (a temp file in the same folder, then a rename)."""
    results_path = Path(results_path)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(results_path, json.dumps(result.to_dict(), indent=2, ensure_ascii=True))


def _notes(session: Session) -> list[str]:
    notes = []
    if session.load_error:
        notes.append(session.load_error)
    notes += [f"A notebook cell failed and was skipped: {e}" for e in session.cell_errors]
    if session.output_total > sandbox.OUTPUT_KEEP_BYTES:
        notes.append(f"Your code printed {session.output_total:,} bytes of output.")
    return [clean_text(note, limit=1000) for note in notes]


def _run_cases(cases: list[Case], session: Session, cancel: threading.Event | None) -> list:
    """Run in grading order (public first); report in the assignment's order."""
    results = []
    try:
        for case in cases:
            if cancel is not None and cancel.is_set():
                raise sandbox.GradingCancelled()
            session.begin_phase(case.phase)
            results.append((case.order, run_session_case(case, session)))
    finally:
        session.stop()
    return [result for _, result in sorted(results, key=lambda pair: pair[0])]


def grade_submission(
    *,
    submission: Path,
    tests_dir: Path | None = None,
    results_path: Path | None = None,
    public_only: bool = False,
    config: GradingConfig = DEFAULTS,
    time_limit: float | None = None,
    budget: float | None = None,
    memory_limit_bytes: int | None = None,
    protect: tuple[Path, ...] = (),
    preload: tuple[str, ...] = sandbox.DEFAULT_PRELOAD,
    cancel: threading.Event | None = None,
    fork_server: bool = True,
) -> GradingResult:
    """Grade ``submission`` (.py or .ipynb) against the test files; write ``results_path``.

    The result is a grade, a submission that cannot be graded (every case 0 and the reason), or
    a grader error (``result.grader_error``: the grader failed; grade it again). A results file
    is written in every case. ``config`` holds every limit (``time_limit``, ``budget`` and
    ``memory_limit_bytes`` replace its fields). ``protect`` names more paths the worker must
    never see. Setting
    ``cancel`` stops the run: ``sandbox.GradingCancelled`` is raised and nothing is written.
    Raises GradingSetupError (a UserError) for options that cannot work, before grading.
    """
    started = time.monotonic()
    blas.use_one_thread()
    submission = Path(submission)
    tests_dir = Path(tests_dir) if tests_dir is not None else default_tests_dir()
    config = _with(config, time_limit=time_limit, budget=budget, memory_bytes=memory_limit_bytes)
    if results_path is not None:
        check_results_path(Path(results_path), submission=submission)
    protections = sandbox.protections()
    hide = tuple(_hidden(tests_dir, protect))
    options = SessionOptions(
        config=config,
        deadline=started + config.budget,
        protections=protections,
        sandbox=sandbox.SandboxOptions(
            config=config,
            preload=tuple(preload),
            hide=hide,
            fork_server=_fork_server(fork_server, protections, preload=preload, hide=hide),
        ),
        cancel=cancel,
    )
    result = _grade(
        submission=submission,
        tests_dir=tests_dir,
        public_only=public_only,
        started=started,
        options=options,
    )
    if results_path is not None:
        write_results(result, Path(results_path))
    return result


def check_results_path(results: Path, *, submission: Path) -> None:
    """``--results`` can be written: not a folder, not the submission, inside folders."""
    results = Path(results)
    if results.is_dir():
        raise GradingSetupError(
            f"--results {results}: is a folder, expected the name of the results file "
            f"(e.g. {results / 'results.json'})"
        )
    if results.exists() and results.resolve() == Path(submission).resolve():
        raise GradingSetupError(
            f"--results {results}: is the submission itself; grading would overwrite it"
        )
    if results.exists() and not results.is_file():
        raise GradingSetupError(f"--results {results}: exists and is not a regular file")
    folder = next(parent for parent in results.absolute().parents if parent.exists())
    if not folder.is_dir():
        raise GradingSetupError(f"--results {results}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise GradingSetupError(
            f"--results {results}: cannot write in {folder} (permission denied)"
        )


def _with(config: GradingConfig, **overrides: Any) -> GradingConfig:
    """``config`` with the given (not None) fields replaced; a bad value is a GradingSetupError."""
    changes = {name: value for name, value in overrides.items() if value is not None}
    try:
        return dataclasses.replace(config, **changes) if changes else config
    except UserError as error:
        raise GradingSetupError(str(error)) from None


def _fork_server(
    wanted: bool, protections: sandbox.Protections, *, preload: tuple[str, ...], hide: tuple
) -> forkserver.ForkServer | None:
    if not wanted or protections.level != "full":  # it needs root, namespaces and a group
        return None
    return forkserver.shared(preload=tuple(preload), hide=hide)


def _hidden(tests_dir: Path, protect: tuple[Path, ...]) -> list[Path]:
    hide = [tests_dir, *protect]
    for extra in (tests_dir.parent / "fixtures", Path("/autograder/source")):
        if extra.exists():
            hide.append(extra)
    return hide


def _grade(
    *, submission: Path, tests_dir: Path, public_only: bool, started: float, options
) -> GradingResult:
    protections = options.protections.to_dict()
    protections["fork_server"] = options.sandbox.fork_server is not None
    cases = _cases(tests_dir, public_only)
    functions = tuple(dict.fromkeys(c.function for c in sorted(cases, key=lambda c: c.order)))
    try:
        source = read_submission(submission, functions=functions)
    except SubmissionProblem as problem:
        result = failed_result(
            cases,
            message=f"Your submission could not be graded: {problem}.",
            submission=submission.name,
            started=started,
        )
        result.protections = protections
        return result
    session = Session(submission=submission, source=source, options=options)
    session.assignment_functions = functions
    session.prestart()
    try:
        tests = _run_cases(cases, session, options.cancel)
    except GraderFault as fault:
        return grader_error_result(
            why=str(fault), submission=submission.name, started=started, protections=protections
        )
    except UserError:
        raise
    except Exception as error:  # a bug in mnist-lab: say so, never a verdict on the student
        return grader_error_result(
            why=f"{type(error).__name__}: {error}",
            submission=submission.name,
            started=started,
            protections=protections,
        )
    finally:
        session.stop()
    return GradingResult(
        submission=submission.name,
        tests=tests,
        execution_time=time.monotonic() - started,
        notes=_notes(session),
        protections=protections,
        peak_memory_bytes=session.peak_memory,
    )


def _cases(tests_dir: Path, public_only: bool) -> list[Case]:
    cases = load_cases(tests_dir)
    return [case for case in cases if not case.hidden] if public_only else cases
