"""The grader's view of one submission's sandbox: its workers, their failures, the proxies.

A ``Session`` loads the submission in a fresh worker of the sandbox for each phase (the public
cases, then the hidden ones: no worker that saw a hidden case's input ever answers a public
case, and no worker that was lent the reference helpers ever answers a hidden case of the
helpers themselves), and again after a worker failure. ``RemoteFunction`` stands for a student
function in a test case and runs it in the current worker; ``RemoteModel`` (``protocol.py``) a
model living there.

Failures are told apart by whose they are:
- ``protocol.WorkerFailure``: the worker timed out, died, used too much memory after student
  code ran: the case fails, the student's responsibility;
- ``GraderFault``: a malformed reply, a worker-side error outside student code, a sandbox that
  cannot start: grading stops and says so (never a zero for the student).
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnist_lab.grading import protocol, sandbox
from mnist_lab.grading.config import GradingConfig
from mnist_lab.grading.submission import Source

REFERENCE_HELPERS = {"predict_digit": ("normalize", "flatten")}


class GraderFault(BaseException):
    """The grader failed (not the student's code): the submission must be graded again.

    A BaseException, so that no ``except Exception`` in a check turns it into a failed case.
    """


@dataclass
class SessionOptions:
    config: GradingConfig
    deadline: float  # time.monotonic() by which everything must be done
    protections: sandbox.Protections
    sandbox: sandbox.SandboxOptions = field(default_factory=sandbox.SandboxOptions)
    cancel: threading.Event | None = None


class Session:
    """One submission graded: a sandbox, the worker of the current phase, what went wrong."""

    def __init__(self, *, submission: Path, source: Source, options: SessionOptions) -> None:
        self.submission = submission
        self.source = source
        self.options = options
        self.config = options.config
        self.time_limit = options.config.time_limit
        self.sandbox: sandbox.Sandbox | None = None
        self.channel: sandbox.Channel | None = None
        self.generation = 0
        self.phase: str | None = None
        self.load_error: str | None = None
        self.functions: list[str] = []
        self.cell_errors: list[str] = []
        self.failures_in_case: list[str] = []
        self.worker_failures: dict[str, list[str]] = {}
        self.reference_installed = False
        self.memo: dict[str, Any] = {}  # data the checks computed once (see checks.memo)
        self.assignment_functions: tuple[str, ...] = ()  # the names an ``env`` case gets
        self.peak_memory = 0
        self.output_total = 0

    # time

    def remaining(self) -> float:
        return self.options.deadline - time.monotonic()

    def _timeout(self, limit: float) -> float:
        remaining = self.remaining()
        if remaining <= 0:
            raise protocol.WorkerFailure("not run: the time budget for grading was used up")
        return min(limit, remaining)

    # the sandbox and its workers

    def _files(self) -> dict[str, str]:
        return {self.submission.name: "\n".join(self.source.chunks)}

    def prestart(self) -> None:
        """Start the sandbox now, without waiting: its zygote imports TensorFlow while the
        grader loads the test files."""
        box = self._new_sandbox()
        try:
            box.spawn()
        except sandbox.SandboxError:
            self.sandbox = None  # _ensure_sandbox tries again and reports it

    def _new_sandbox(self) -> sandbox.Sandbox:
        self.sandbox = sandbox.Sandbox(
            files=self._files(), protections=self.options.protections, options=self._options()
        )
        return self.sandbox

    def _ensure_sandbox(self) -> sandbox.Sandbox:
        if self.sandbox is not None and self.sandbox.dead_reason is None:
            box = self.sandbox
        else:
            self._retire_sandbox()
            box = None
        limit = min(self.config.import_time, self.remaining())
        if limit <= 0:
            raise protocol.WorkerFailure("not run: the time budget for grading was used up")
        try:
            if box is None:
                box = self._new_sandbox()
                box.start(timeout=limit)
            else:
                box.wait_ready(timeout=limit)
        except sandbox.SandboxError as error:
            if limit < self.config.import_time:  # cut short by the budget, not a broken setup
                raise protocol.WorkerFailure("not run: the time budget was used up") from None
            raise GraderFault(f"the grading sandbox did not start: {error}") from None
        return box

    def _options(self) -> sandbox.SandboxOptions:
        options = self.options.sandbox
        return sandbox.SandboxOptions(
            config=self.config,
            preload=options.preload,
            hide=options.hide,
            cancel=self.options.cancel,
            fork_server=options.fork_server,
        )

    def _retire_sandbox(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
            self.peak_memory = max(self.peak_memory, self.sandbox.peak_memory)
            if self.sandbox.output is not None:
                self.output_total += self.sandbox.output.total
            self.sandbox = None

    def begin_phase(self, phase: str) -> None:
        """Start ``phase`` ("public" or "hidden") in a fresh worker."""
        if phase == self.phase:
            return
        self.phase = phase
        if self.load_error is None:
            self._close_channel()  # the next request starts a fresh worker

    def _close_channel(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        self._forget_models()

    def start_worker(self) -> None:
        """A fresh worker with the submission loaded (``load_error`` says why not)."""
        self._close_channel()
        self.reference_installed = False
        try:
            box = self._ensure_sandbox()
            self.channel = box.open_session()
        except protocol.WorkerFailure as failure:  # the budget is used up, or the zygote died
            self._retire_sandbox()
            text = str(failure)
            self.load_error = (
                "Not run: the time budget for grading was used up."
                if text.startswith("not run")
                else f"The worker could not be started again: {text}."
            )
            return
        self.generation += 1
        self._load()

    def _forget_models(self) -> None:
        """Drop the models the checks kept (``checks.first_model``): they live in the worker
        that stops, and a check that needs one again builds it in the next."""
        for store in self.memo.values():
            for key in [k for k, v in store.items() if isinstance(v, protocol.RemoteModel)]:
                del store[key]

    def _load(self) -> None:
        name = "digits" if self.submission.stem == "digits" else "submission"
        request = {
            "op": "load",
            "module_name": name,
            "path": self._path_in_sandbox(),
            "chunks": self.source.chunks,
            "tolerate_errors": self.source.is_notebook,
            # A slow exploration cell (training on the full data) is stopped and skipped.
            "chunk_time_limit": self.time_limit if self.source.is_notebook else None,
        }
        limit = max(self.config.import_time, 3 * self.time_limit)
        if self.source.is_notebook:
            limit += self.time_limit * len(self.source.chunks)
        try:
            reply = self._exchange(request, limit=limit)
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

    def _path_in_sandbox(self) -> str:
        box = self.sandbox
        folder = sandbox.SANDBOX_HOME if box.protections.namespaces else str(box.scratch)
        return f"{folder}/{self.submission.name}"

    def _describe_load_error(self, payload: Any, stage: Any = None) -> str:
        try:
            error = protocol.student_error_from(payload)
        except protocol.ProtocolError as problem:
            raise GraderFault(f"the worker sent a malformed reply ({problem})") from None
        chunk = payload.get("chunk") if isinstance(payload.get("chunk"), int) else 0
        where = self.source.where(chunk, error.line)
        if error.type_name in ("SyntaxError", "IndentationError", "TabError", "ValueError") and (
            stage == "syntax" or error.type_name != "ValueError"
        ):
            return f"Your code has a syntax error at {where}: {error.message}"
        if error.type_name == "SystemExit":
            return f"Your code called sys.exit() while being imported (at {where})."
        return f"Importing your code raised {error.type_name} at {where}: {error.message}"

    def stop(self) -> None:
        self._close_channel()
        self._retire_sandbox()

    # requests

    def _exchange(self, message: dict[str, Any], *, limit: float) -> dict[str, Any]:
        """One request to the current worker; the worker's failures become WorkerFailure and
        the sandbox is reset, the grader's (malformed replies) become GraderFault."""
        channel, box = self.channel, self.sandbox
        try:
            reply = channel.request(message, timeout=self._timeout(limit))
        except protocol.ProtocolError as problem:
            raise GraderFault(str(problem)) from None
        except protocol.WorkerFailure as failure:
            reason = box.dead_reason or str(failure)
            self._fail_worker()
            raise protocol.WorkerFailure(reason) from None
        except EOFError:
            reason = box.exit_description()
            self._fail_worker()
            raise protocol.WorkerFailure(reason) from None
        if reply.get("stage") == "worker":
            try:
                error = protocol.student_error_from(reply.get("error"))
                detail = f"{error.type_name}: {error.message}"
            except protocol.ProtocolError:
                detail = "no details"
            raise GraderFault(f"the worker failed outside the student's code ({detail})")
        return reply

    def _fail_worker(self) -> None:
        """The current worker failed: kill it (the sandbox stays unless it is broken)."""
        self._close_channel()
        box = self.sandbox
        if box is not None and box.dead_reason is None:
            with contextlib.suppress(protocol.WorkerFailure):
                box.reset()
        if box is not None and box.dead_reason is not None:
            self._retire_sandbox()

    def _ready(self) -> None:
        if self.channel is None:
            self.start_worker()
            if self.load_error and self.load_error.startswith("Not run"):
                raise protocol.WorkerFailure(self.load_error)
            if self.load_error:
                raise protocol.WorkerFailure(
                    f"the worker was restarted and the submission no longer imports: "
                    f"{self.load_error}"
                )

    def _request(
        self, message: dict[str, Any], *, limit: float, what: str, key: str = "value"
    ) -> Any:
        try:
            self._ready()
            if message.get("reference_helpers") and not self.reference_installed:
                install = {"op": "install", "modules": sandbox.reference_bundle()}
                if self._exchange(install, limit=self.time_limit).get("ok") is not True:
                    raise GraderFault("the worker could not set up the reference code")
                self.reference_installed = True
            reply = self._exchange(message, limit=limit)
        except protocol.WorkerFailure as failure:
            self.failures_in_case.append(f"{what}: {failure}")
            raise protocol.WorkerFailure(f"{what}: {failure}") from None
        try:
            if reply.get("ok") is True:
                return (
                    tuple(
                        protocol.decode_value(reply.get(part), make_model=self._make_model)
                        for part in key.split(",")
                    )
                    if "," in key
                    else protocol.decode_value(reply.get("value"), make_model=self._make_model)
                )
            error = protocol.student_error_from(reply.get("error"), where=what)
        except protocol.ProtocolError as problem:
            raise GraderFault(f"{what}: the worker sent a malformed reply ({problem})") from None
        raise error.as_raised()

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
        if len(earlier) >= self.config.max_worker_failures:
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
        failures_before = len(self.failures_in_case)
        try:
            return self._request(message, limit=self.time_limit, what=f"calling {name}", key=key)
        except protocol.WorkerFailure as failure:
            if len(self.failures_in_case) > failures_before and not self.load_error:
                self.worker_failures.setdefault(name, []).append(
                    str(failure).removeprefix(f"calling {name}: ")
                )
            raise

    def model_request(self, generation: int, action: str, handle: int, **options: Any) -> Any:
        if generation != self.generation or self.channel is None:
            failure = "the model was lost when the worker stopped (see the earlier failure)"
            self.failures_in_case.append(failure)
            raise protocol.WorkerFailure(failure)
        limit = self.time_limit * (self.config.fit_time_factor if action == "fit" else 1)
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

    @property
    def memo(self) -> dict[str, Any]:
        return self._session.memo.setdefault(self.__name__, {})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.call(self.__name__, args, kwargs, self._helpers)

    def call_returning_arguments(self, *args: Any, **kwargs: Any) -> tuple[Any, tuple]:
        """``(result, positional arguments as they are in the worker after the call)``."""
        result, after = self._session.call(
            self.__name__, args, kwargs, self._helpers, return_arguments=True
        )
        if type(after) is not tuple:
            raise GraderFault(f"calling {self.__name__}: malformed arguments reply")
        return result, after

    def __repr__(self) -> str:
        return f"<student function {self.__name__}>"
