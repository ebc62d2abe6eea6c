"""Grade a submission with the otter-format test files, student code running only in a worker.

The test files are loaded HERE (the grader process) with otter's own loader; each case function
gets proxies for the student's functions, which run them in the worker (``sandbox.py``) and bring
back decoded data. A case passes only if its function returns normally AND no worker failure
(timeout, death, memory, malformed reply) happened during it. The results are Gradescope JSON,
written atomically.

Order of cases: files in the order of the exercise, and every case that lends the reference
``normalize``/``flatten`` to ``predict_digit`` runs after all other cases, so student code can
never borrow the reference for its own helpers' cases.
"""

from __future__ import annotations

import inspect
import json
import threading
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from mnist_lab.constants import DEFAULT_TIME_LIMIT
from mnist_lab.errors import UserError
from mnist_lab.files import write_text_atomically
from mnist_lab.grading import protocol, sandbox

FUNCTION_ORDER = ("normalize", "flatten", "build_model", "confusion", "predict_digit")
REFERENCE_HELPERS = {"predict_digit": ("normalize", "flatten")}
SUBMISSION_SUFFIXES = (".py", ".ipynb")
FIT_TIME_FACTOR = 6  # a model's fit gets this many per-call time limits
IMPORT_TIME_MIN = 60.0  # importing TensorFlow alone takes seconds on a loaded machine
DEFAULT_BUDGET = 540.0  # the whole run (Gradescope's default timeout is 10 minutes)
# A function that killed the worker (timeout, memory, exit) this often fails its remaining cases
# without running them: it keeps the whole run bounded.
MAX_WORKER_FAILURES_PER_FUNCTION = 2
HIDDEN_VISIBILITY = "after_published"  # feedback after grades are out, never before the deadline


class GradingSetupError(UserError):
    """The grader itself cannot run (missing or unsupported submission, missing tests)."""


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "score": self.score,
            "max_score": self.max_score,
            "output": self.output,
            "visibility": HIDDEN_VISIBILITY if self.hidden else "visible",
            "status": "passed" if self.passed else "failed",
        }


@dataclass
class GradingResult:
    """Gradescope results for one submission (``to_dict()``) and a human summary (``to_text()``)."""

    submission: str
    tests: list[CaseResult]
    execution_time: float
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(case.score for case in self.tests), 6)

    @property
    def max_score(self) -> float:
        return round(sum(case.max_score for case in self.tests), 6)

    @property
    def all_passed(self) -> bool:
        return all(case.passed for case in self.tests)

    def summary(self) -> str:
        passed = sum(case.passed for case in self.tests)
        lines = [
            f"{self.submission}: {self.score:g} / {self.max_score:g} points, "
            f"{passed} of {len(self.tests)} test cases passed"
        ]
        lines += self.notes
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "execution_time": round(self.execution_time, 2),
            "output": self.summary(),
            "stdout_visibility": "hidden",
            "tests": [case.to_dict() for case in self.tests],
        }

    @classmethod
    def from_dict(cls, data: Any, *, submission: str) -> GradingResult:
        """The result ``to_dict()`` wrote (a batch reads back what it graded before).

        Raises ValueError when ``data`` is not such a result.
        """
        try:
            tests = [
                CaseResult(
                    name=str(case["name"]),
                    function=str(case["name"]).split(":", 1)[0],
                    score=float(case["score"]),
                    max_score=float(case["max_score"]),
                    passed=case.get("status", "passed") == "passed",
                    hidden=case.get("visibility", "visible") != "visible",
                    output=str(case.get("output", "")),
                )
                for case in data["tests"]
            ]
            notes = str(data.get("output", "")).splitlines()[1:]
            return cls(
                submission=submission,
                tests=tests,
                execution_time=float(data.get("execution_time", 0.0)),
                notes=notes,
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

    @property
    def needs_reference(self) -> bool:
        return any(param in REFERENCE_HELPERS or param == "env" for param in self.params)


def default_tests_dir() -> Path:
    return Path(str(resources.files("mnist_lab.autograder"))) / "tests"


def load_cases(tests_dir: Path) -> list[Case]:
    """Every case of every test file in ``tests_dir``, in grading order."""
    from otter.test_files import ExceptionTestFile

    if not tests_dir.is_dir():
        raise GradingSetupError(f"tests folder not found: {tests_dir}")
    files = sorted(tests_dir.glob("*.py"))
    if not files:
        raise GradingSetupError(f"no test files (*.py) in {tests_dir}")

    def order(path: Path) -> tuple[int, str]:
        stem = path.stem
        return (FUNCTION_ORDER.index(stem) if stem in FUNCTION_ORDER else len(FUNCTION_ORDER), stem)

    cases = []
    for path in sorted(files, key=order):
        try:
            test_file = ExceptionTestFile.from_file(str(path))
        except Exception as error:
            raise GradingSetupError(f"cannot load test file {path}: {error}") from error
        for test in test_file.test_cases:
            body = test.body
            doc = inspect.getdoc(body.test_func) or ""
            title = doc.strip().splitlines()[0].strip() if doc.strip() else test.name
            cases.append(
                Case(
                    name=f"{test_file.name}: {title}",
                    function=test_file.name,
                    points=float(test.points or 0),
                    hidden=bool(test.hidden),
                    test_func=body.test_func,
                    params=list(inspect.signature(body.test_func).parameters),
                    success_message=test.success_message,
                    failure_message=test.failure_message,
                )
            )
    return sorted(cases, key=lambda case: case.needs_reference)


# --- submissions ---------------------------------------------------------------------------------


@dataclass
class Source:
    """The code to run: chunks (one for a module, one per cell for a notebook)."""

    chunks: list[str]
    is_notebook: bool

    def where(self, chunk: int, line: int | None) -> str:
        if not self.is_notebook:
            return f"line {line}" if line else "an unknown line"
        at = f", line {line}" if line else ""
        return f"code cell {chunk + 1}{at}"


_PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture")


def read_submission(submission: Path) -> Source:
    """The code of a ``.py`` module or of a notebook's code cells, shell and magic lines dropped."""
    if not submission.is_file():
        raise GradingSetupError(f"submission not found: {submission}")
    if submission.suffix not in SUBMISSION_SUFFIXES:
        raise GradingSetupError(
            f"submission must be a .py module or a .ipynb notebook, got {submission.name}"
        )
    try:
        raw = submission.read_bytes()
    except OSError as error:
        raise GradingSetupError(f"cannot read submission {submission}: {error}") from error
    text = raw.decode("utf-8", errors="replace")
    if submission.suffix == ".py":
        return Source(chunks=[text], is_notebook=False)
    try:
        notebook = json.loads(text)
        cells = notebook["cells"]
    except (ValueError, KeyError, TypeError) as error:
        raise GradingSetupError(f"{submission} is not a readable notebook: {error}") from error
    chunks = []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        chunks.append(_drop_magics(source))
    return Source(chunks=chunks, is_notebook=True)


def _drop_magics(source: str) -> str:
    lines = source.splitlines()
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        if not first.startswith(_PYTHON_CELL_MAGICS):
            return ""  # a cell in another language (%%bash, %%html, ...)
        lines = ["", *lines[1:]]
    kept = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("!", "%")) or _is_otter_call(stripped):
            kept.append(line[: len(line) - len(stripped)] + "pass")  # keeps blocks and lines
        else:
            kept.append(line)
    return "\n".join(kept) + "\n"


def _is_otter_call(stripped: str) -> bool:
    """``grader = otter.Notebook(...)`` and ``grader.check(...)``: the student's self-checks."""
    return "otter.Notebook(" in stripped or stripped.startswith(
        ("grader.check", "grader.export", "grader.run_plugin", "import otter")
    )


# --- the session: one submission, its worker(s) --------------------------------------------------


class Session:
    """The grader's view of the submission: loads it in a worker, restarts after failures."""

    def __init__(
        self,
        *,
        submission: Path,
        source: Source,
        time_limit: float,
        deadline: float,
        limits: sandbox.Limits,
        uid: int | None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.submission = submission
        self.cancel = cancel
        self.source = source
        self.time_limit = time_limit
        self.deadline = deadline
        self.limits = limits
        self.uid = uid
        self.worker: sandbox.WorkerProcess | None = None
        self.scratch: Path | None = None
        self.generation = 0
        self.load_error: str | None = None
        self.functions: list[str] = []
        self.cell_errors: list[str] = []
        self.failures_in_case: list[str] = []
        self.worker_failures: dict[str, list[str]] = {}
        self.reference_installed = False
        self.output_total = 0
        self.output_start = ""

    # worker lifecycle

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def _timeout(self, limit: float) -> float:
        remaining = self.remaining()
        if remaining <= 0:
            raise protocol.WorkerFailure("not run: the time budget for grading was used up")
        return min(limit, remaining)

    def start(self) -> None:
        """Start a worker and import the submission in it (sets ``load_error`` on failure)."""
        self.stop()
        self.generation += 1
        self.reference_installed = False
        startup_limit = min(IMPORT_TIME_MIN, self.remaining())
        if startup_limit <= 0:
            self.load_error = "Not run: the time budget for grading was used up."
            return
        self.scratch = sandbox.make_scratch(self.submission, uid=self.uid)
        self.worker = sandbox.WorkerProcess(
            scratch=self.scratch, uid=self.uid, limits=self.limits, cancel=self.cancel
        )
        try:
            self.worker.check_started(timeout=startup_limit)
        except sandbox.SandboxError:
            if startup_limit < IMPORT_TIME_MIN:  # cut short by the budget, not a broken setup
                self.load_error = "Not run: the time budget for grading was used up."
                return
            raise
        # The module's name: "digits" as in the exercise (a file called numpy.py must not
        # shadow NumPy in the worker).
        name = "digits" if self.submission.stem == "digits" else "submission"
        request = {
            "op": "load",
            "module_name": name,
            "path": str(self.scratch / self.submission.name),
            "chunks": self.source.chunks,
            "tolerate_errors": self.source.is_notebook,
            # A slow exploration cell (training on the full data) is stopped and skipped.
            "chunk_time_limit": self.time_limit if self.source.is_notebook else None,
        }
        limit = max(IMPORT_TIME_MIN, 3 * self.time_limit)
        if self.source.is_notebook:
            limit += self.time_limit * len(self.source.chunks)
        try:
            reply = self.worker.request(request, timeout=self._timeout(limit))
        except protocol.WorkerFailure as failure:
            self.load_error = f"Importing your submission failed: {failure}."
            return
        if reply.get("ok") is True:
            functions = reply.get("functions")
            self.functions = (
                [f for f in functions if isinstance(f, str)] if isinstance(functions, list) else []
            )
            errors = reply.get("cell_errors") if isinstance(reply.get("cell_errors"), list) else []
            self.cell_errors = [self._describe_load_error(e) for e in errors[:5]]
            self.load_error = None
            return
        self.load_error = self._describe_load_error(reply.get("error"), stage=reply.get("stage"))

    def _describe_load_error(self, payload: Any, stage: Any = None) -> str:
        try:
            error = protocol.student_error_from(payload)
        except protocol.ProtocolError:
            return "Importing your submission failed (the worker sent a malformed reply)."
        chunk = payload.get("chunk") if isinstance(payload.get("chunk"), int) else 0
        where = self.source.where(chunk, error.line)
        if error.type_name in ("SyntaxError", "IndentationError", "TabError"):
            return f"Your code has a syntax error at {where}: {error.message}"
        if error.type_name == "SystemExit":
            return f"Your code called sys.exit() while being imported (at {where})."
        return f"Importing your code raised {error.type_name} at {where}: {error.message}"

    def stop(self) -> None:
        if self.worker is not None:
            self.output_total += self.worker.output.total
            if not self.output_start:
                self.output_start = self.worker.output.text()
            self.worker.close()
            self.worker = None
        if self.scratch is not None:
            sandbox.remove_scratch(self.scratch)
            self.scratch = None

    def _ready_worker(self) -> sandbox.WorkerProcess:
        if self.worker is None or self.worker.dead_reason:
            self.start()
            if self.load_error and self.load_error.startswith("Not run"):
                raise protocol.WorkerFailure(self.load_error)
            if self.load_error:
                raise protocol.WorkerFailure(
                    f"the worker was restarted and the submission no longer imports: "
                    f"{self.load_error}"
                )
        return self.worker

    def _request(
        self, message: dict[str, Any], *, limit: float, what: str, key: str = "value"
    ) -> Any:
        try:
            worker = self._ready_worker()
            if (
                message["op"] == "call"
                and message.get("reference_helpers")
                and (not self.reference_installed)
            ):
                reply = worker.request(
                    {"op": "install", "modules": sandbox.reference_bundle()},
                    timeout=self._timeout(self.time_limit),
                )
                if reply.get("ok") is not True:
                    raise protocol.WorkerFailure("the worker could not set up the reference code")
                self.reference_installed = True
            reply = worker.request(message, timeout=self._timeout(limit))
        except protocol.WorkerFailure as failure:
            self.failures_in_case.append(f"{what}: {failure}")
            raise protocol.WorkerFailure(f"{what}: {failure}") from None
        try:
            if reply.get("ok") is True:
                if key == "value":
                    return protocol.decode_value(reply.get("value"), make_model=self._make_model)
                return tuple(
                    protocol.decode_value(reply.get(part), make_model=self._make_model)
                    for part in key.split(",")
                )
            error = protocol.student_error_from(reply.get("error"), where=what)
        except protocol.ProtocolError as problem:
            worker.kill(f"the worker sent a malformed reply ({problem})")
            self.failures_in_case.append(f"{what}: {worker.dead_reason}")
            raise protocol.WorkerFailure(f"{what}: {worker.dead_reason}") from None
        if reply.get("stage") == "worker":
            self.failures_in_case.append(f"{what}: the worker failed ({error})")
            raise protocol.WorkerFailure(f"{what}: the worker failed ({error})")
        raise error

    def _make_model(self, handle: int) -> protocol.RemoteModel:
        return protocol.RemoteModel(ModelChannel(self, self.generation), handle)

    # what the proxies call

    def call(
        self,
        name: str,
        args: tuple,
        kwargs: dict,
        helpers: tuple[str, ...],
        *,
        return_arguments: bool = False,
    ) -> Any:
        earlier = self.worker_failures.get(name, [])
        if len(earlier) >= MAX_WORKER_FAILURES_PER_FUNCTION:
            failure = (
                f"{name} was not run again: it already made the worker fail "
                f"{len(earlier)} times ({earlier[0]})"
            )
            self.failures_in_case.append(failure)
            raise protocol.WorkerFailure(failure)
        message = {
            "op": "call",
            "name": name,
            "args": protocol.encode_value(tuple(args)),
            "kwargs": protocol.encode_value(dict(kwargs)),
            "reference_helpers": list(helpers),
            "return_arguments": return_arguments,
        }
        key = "value,arguments" if return_arguments else "value"
        try:
            return self._request(message, limit=self.time_limit, what=f"calling {name}", key=key)
        except protocol.WorkerFailure:
            if self.worker is not None and self.worker.dead_reason and not self.load_error:
                self.worker_failures.setdefault(name, []).append(self.worker.dead_reason)
            raise

    def model_request(self, generation: int, action: str, handle: int, **options: Any) -> Any:
        if generation != self.generation or self.worker is None or self.worker.dead_reason:
            failure = "the model was lost when the worker stopped (see the earlier failure)"
            self.failures_in_case.append(failure)
            raise protocol.WorkerFailure(failure)
        limit = self.time_limit * (FIT_TIME_FACTOR if action == "fit" else 1)
        message = {
            "op": "model",
            "action": action,
            "handle": handle,
            "options": protocol.encode_value(options),
        }
        return self._request(message, limit=limit, what=f"model.{action}")


@dataclass
class ModelChannel:
    """What a RemoteModel talks to: the session, pinned to the worker that holds the model."""

    session: Session
    generation: int

    def model_request(self, action: str, handle: int, **options: Any) -> Any:
        return self.session.model_request(self.generation, action, handle, **options)


class RemoteFunction:
    """Stands for a student function in a test case: calls it in the worker."""

    __mnist_lab_remote__ = True

    def __init__(self, session: Session, name: str) -> None:
        self._session = session
        self.__name__ = name
        self._helpers = REFERENCE_HELPERS.get(name, ())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.call(self.__name__, args, kwargs, self._helpers)

    def call_returning_arguments(self, *args: Any, **kwargs: Any) -> tuple[Any, tuple]:
        """``(result, positional arguments as they are in the worker after the call)``."""
        result, after = self._session.call(
            self.__name__, args, kwargs, self._helpers, return_arguments=True
        )
        if type(after) is not tuple:
            raise protocol.WorkerFailure(f"calling {self.__name__}: malformed arguments reply")
        return result, after

    def __repr__(self) -> str:
        return f"<student function {self.__name__}>"


# --- running the cases ---------------------------------------------------------------------------


def _arguments(case: Case, session: Session) -> dict[str, Any]:
    names = set(FUNCTION_ORDER) | set(session.functions)
    arguments = {}
    for param in case.params:
        if param == "env":
            arguments[param] = {name: RemoteFunction(session, name) for name in sorted(names)}
        else:
            arguments[param] = RemoteFunction(session, param)
    return arguments


def _failure_text(case: Case, error: BaseException) -> str:
    if isinstance(error, AssertionError):
        text = str(error) or "the check failed"
    elif isinstance(error, protocol.WorkerFailure):
        text = f"{error}"
    elif isinstance(error, protocol.StudentError):
        where = f" ({error.where})" if error.where else ""
        text = f"your code raised {error.type_name}{where}: {error.message}"
    elif case.hidden:
        text = f"the check could not use what your code returned ({type(error).__name__})"
    else:
        text = f"the check could not use what your code returned ({type(error).__name__}: {error})"
    return text


def clean_text(text: str, *, limit: int = 4000) -> str:
    """Printable text for the results: no control characters, no lone surrogates, bounded."""
    text = str(text)[:limit].encode("utf-8", errors="replace").decode("utf-8")
    return "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text)


def run_case(case: Case, session: Session) -> CaseResult:
    session.failures_in_case = []
    passed = False
    message = ""
    if session.load_error:
        message = session.load_error
    else:
        try:
            case.test_func(**_arguments(case, session))
            passed = True
        except Exception as error:  # the checks signal failure by raising
            message = _failure_text(case, error)
    if passed and session.failures_in_case:
        passed = False  # a case during which the worker failed never earns points
        message = session.failures_in_case[0]
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


def failed_result(
    cases: list[Case], *, message: str, submission: str, started: float
) -> GradingResult:
    """Every case at 0 with the same reason (a submission that cannot be graded at all)."""
    tests = [
        CaseResult(
            name=case.name,
            function=case.function,
            score=0.0,
            max_score=case.points,
            passed=False,
            hidden=case.hidden,
            output=f"Failed: {message}",
        )
        for case in cases
    ]
    return GradingResult(
        submission=submission,
        tests=tests,
        execution_time=time.monotonic() - started,
        notes=[message],
    )


def write_results(result: GradingResult, results_path: Path) -> None:
    """Write the results JSON atomically (a temp file in the same folder, then a rename)."""
    results_path = Path(results_path)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(results_path, json.dumps(result.to_dict(), indent=2, ensure_ascii=True))


def grade_submission(
    *,
    submission: Path,
    tests_dir: Path | None = None,
    results_path: Path | None = None,
    public_only: bool = False,
    time_limit: float = DEFAULT_TIME_LIMIT,
    budget: float = DEFAULT_BUDGET,
    memory_limit_bytes: int = sandbox.Limits.memory_bytes,
    protect: tuple[Path, ...] = (),
    cancel: threading.Event | None = None,
) -> GradingResult:
    """Grade ``submission`` (.py or .ipynb) against the test files; write ``results_path``.

    ``protect`` names more paths the worker must not read (as root they are hidden from it).
    Setting ``cancel`` stops the run: its worker is killed, ``sandbox.GradingCancelled`` is
    raised and nothing is written.
    """
    started = time.monotonic()
    submission = Path(submission)
    tests_dir = Path(tests_dir) if tests_dir is not None else default_tests_dir()
    if time_limit <= 0:
        raise GradingSetupError(f"the time limit must be positive, got {time_limit:g}")
    source = read_submission(submission)
    cases = load_cases(tests_dir)
    if public_only:
        cases = [case for case in cases if not case.hidden]
    hide = [tests_dir, *protect]
    for extra in (tests_dir.parent / "fixtures", Path("/autograder/source")):
        if extra.exists():
            hide.append(extra)
    uid = sandbox.fresh_uid()
    session = Session(
        submission=submission,
        source=source,
        time_limit=time_limit,
        deadline=started + budget,
        limits=sandbox.Limits(memory_bytes=memory_limit_bytes),
        uid=uid,
        cancel=cancel,
    )
    results = []
    try:
        with sandbox.hidden_paths(sandbox.protected_paths(hide), sandbox.interpreter_paths()):
            try:
                session.start()
                for case in cases:
                    if cancel is not None and cancel.is_set():
                        raise sandbox.GradingCancelled()
                    results.append(run_case(case, session))
            finally:
                session.stop()
    finally:
        sandbox.release_uid(uid)
    notes = []
    if session.load_error:
        notes.append(session.load_error)
    notes += [f"A notebook cell failed and was skipped: {e}" for e in session.cell_errors]
    if session.output_total > sandbox.OUTPUT_KEEP_BYTES:
        notes.append(f"Your code printed {session.output_total:,} bytes of output.")
    result = GradingResult(
        submission=submission.name,
        tests=results,
        execution_time=time.monotonic() - started,
        notes=[clean_text(note, limit=1000) for note in notes],
    )
    if results_path is not None:
        write_results(result, results_path)
    return result
