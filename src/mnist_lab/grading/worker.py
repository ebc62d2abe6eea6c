"""The worker: the only process where student code runs.

The grader (``sandbox.py``) starts ``python -I -c BOOTSTRAP`` as an unprivileged user in a scratch
directory holding a copy of the submission. The bootstrap reads this module's source and the few
modules it needs (``protocol``, ``constants``, ``modelinfo``) from stdin, so the worker never
needs to read the mnist_lab package (which the grader hides from it). The worker then moves its
channel to private file descriptors, points stdout/stderr at the grader's capture pipe, and
answers requests (``load``, ``call``, ``model``, ``install``) until stdin closes.

Everything it sends back is data (see ``protocol.py``); Keras models stay here in a handle table.
"""

from __future__ import annotations

import contextlib
import sys
import types
from typing import Any

from mnist_lab.grading import protocol

# Executed by ``python -I -c``: read the module bundle from fd 0, install it, serve.
BOOTSTRAP = r"""
import json, os, struct, sys, types
def _read(fd, size):
    parts = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            raise SystemExit(3)
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)
(_size,) = struct.unpack(">Q", _read(0, 8))
_bundle = json.loads(_read(0, _size).decode("utf-8"))
for _name, _source in _bundle["modules"]:
    _module = types.ModuleType(_name)
    if _source is None:
        _module.__path__ = []
    else:
        _module.__file__ = "<mnist-lab " + _name + ">"
    sys.modules[_name] = _module
    if "." in _name:
        _parent, _, _child = _name.rpartition(".")
        setattr(sys.modules[_parent], _child, _module)
    if _source is not None:
        exec(compile(_source, _module.__file__, "exec"), _module.__dict__)
_in, _out = os.dup(0), os.dup(1)
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.dup2(2, 1)
sys.modules["mnist_lab.grading.worker"].serve(in_fd=_in, out_fd=_out, config=_bundle["config"])
"""


def _set_limits(config: dict[str, Any]) -> None:
    """Limits the process can set on itself (it is already unprivileged when these run)."""
    try:
        import resource
    except ImportError:  # Windows: no resource limits
        return

    for name, value in (
        ("RLIMIT_CORE", 0),
        ("RLIMIT_FSIZE", config.get("max_file_bytes")),
        ("RLIMIT_NPROC", config.get("max_processes")),
    ):
        if value is None or not hasattr(resource, name):
            continue
        limit = getattr(resource, name)
        try:
            _, hard = resource.getrlimit(limit)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass  # a limit the platform refuses is not worth failing the grading for
    try:
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writing past the cap fails, not kills
    except (AttributeError, ValueError, OSError):
        pass


class Worker:
    """The request handlers, with the student module and the model handle table."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.module: types.ModuleType | None = None
        self.models: dict[int, Any] = {}
        self.model_ids: dict[int, int] = {}

    # --- values --------------------------------------------------------------------------------

    def register_model(self, value: Any) -> int | None:
        keras = sys.modules.get("keras")
        if keras is None or not isinstance(value, keras.Model):
            return None
        key = id(value)
        if key in self.model_ids and self.models.get(self.model_ids[key]) is value:
            return self.model_ids[key]
        handle = len(self.models) + 1
        self.models[handle] = value
        self.model_ids[key] = handle
        return handle

    def encode(self, value: Any) -> dict[str, Any]:
        return protocol.encode_value(value, register_model=self.register_model)

    def decode(self, tree: Any) -> Any:
        value = protocol.decode_value(tree, make_model=self.model)
        return self.materialize(value)

    def materialize(self, value: Any) -> Any:
        if isinstance(value, protocol.ModelSpec):
            from mnist_lab.grading import modelinfo

            return modelinfo.build_from_spec(value)
        if type(value) in (list, tuple):
            return type(value)(self.materialize(item) for item in value)
        if type(value) is dict:
            return {key: self.materialize(item) for key, item in value.items()}
        return value

    def model(self, handle: int) -> Any:
        if handle not in self.models:
            raise LookupError(f"no model with handle {handle}")
        return self.models[handle]

    # --- requests ------------------------------------------------------------------------------

    def op_load(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["module_name"]
        module = types.ModuleType(name)
        module.__file__ = request["path"]
        sys.modules[name] = module
        cell_errors = []
        for index, source in enumerate(request["chunks"]):
            try:
                code = compile(source, request["path"], "exec", dont_inherit=True)
            except SyntaxError as error:
                payload = protocol.exception_payload(error)
                payload["chunk"] = index
                if not request["tolerate_errors"]:
                    return {"ok": False, "error": payload, "stage": "syntax"}
                cell_errors.append(payload)
                continue
            try:
                with _time_limit(request.get("chunk_time_limit")):
                    exec(code, module.__dict__)
            except BaseException as error:  # SystemExit and KeyboardInterrupt included
                payload = protocol.exception_payload(error)
                payload["chunk"] = index
                payload["line"] = _error_line(error, request["path"])
                if not request["tolerate_errors"]:
                    return {"ok": False, "error": payload, "stage": "import"}
                cell_errors.append(payload)
        self.module = module
        functions = sorted(
            key
            for key, value in list(module.__dict__.items())
            if isinstance(key, str) and callable(value) and not key.startswith("__")
        )
        return {"ok": True, "functions": functions[:500], "cell_errors": cell_errors[:20]}

    def op_install(self, request: dict[str, Any]) -> dict[str, Any]:
        for name, source in request["modules"]:
            module = types.ModuleType(name)
            module.__file__ = f"<mnist-lab {name}>"
            sys.modules[name] = module
            parent, _, child = name.rpartition(".")
            setattr(sys.modules[parent], child, module)
            exec(compile(source, module.__file__, "exec"), module.__dict__)
        return {"ok": True}

    def op_call(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["name"]
        namespace = self.module.__dict__ if self.module is not None else {}
        func = namespace.get(name)
        if func is None or not callable(func):
            message = (
                f"your submission does not define {name}"
                if func is None
                else f"{name} in your submission is not a function"
            )
            return {
                "ok": False,
                "error": {
                    "types": ["NameError", "Exception", "BaseException"],
                    "message": message,
                    "line": None,
                },
            }
        args = self.decode(request["args"])
        kwargs = self.decode(request["kwargs"])
        helpers = request.get("reference_helpers") or []
        home = getattr(func, "__globals__", namespace)
        missing = object()
        saved = {}
        if helpers:
            from mnist_lab.grading import reference

            for helper in helpers:
                saved[helper] = home.get(helper, missing)
                home[helper] = reference.HELPERS[helper]
        try:
            result = func(*args, **kwargs)
        except BaseException as error:
            return {"ok": False, "error": protocol.exception_payload(error)}
        finally:
            for helper, original in saved.items():
                if original is missing:
                    home.pop(helper, None)
                else:
                    home[helper] = original
        reply = {"ok": True, "value": self.encode(result)}
        if request.get("return_arguments"):
            reply["arguments"] = self.encode(tuple(args))
        return reply

    def op_model(self, request: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        model = self.model(request["handle"])
        action = request["action"]
        options = self.decode(request["options"])
        try:
            if action == "describe":
                from mnist_lab.grading import modelinfo

                result = modelinfo.describe_model(model)
            elif action == "predict":
                result = np.asarray(model.predict(options["x"], verbose=0))
            elif action == "fit":
                if options["seed"] is not None:
                    import keras

                    keras.utils.set_random_seed(options["seed"])
                history = model.fit(
                    options["x"],
                    options["y"],
                    epochs=options["epochs"],
                    batch_size=options["batch_size"],
                    verbose=0,
                )
                result = {
                    str(key): [float(v) for v in values]
                    for key, values in dict(history.history).items()
                }
            elif action == "get_weights":
                result = [np.asarray(weights) for weights in model.get_weights()]
            else:
                raise ValueError(f"unknown model action {action!r}")
        except BaseException as error:
            return {"ok": False, "error": protocol.exception_payload(error)}
        return {"ok": True, "value": self.encode(result)}


class CellTimeLimit(BaseException):
    """A notebook cell ran longer than its limit (e.g. training on the full data set)."""


@contextlib.contextmanager
def _time_limit(seconds: float | None):
    """Interrupt the block with CellTimeLimit after ``seconds`` (a notebook cell; no limit: None).

    The grader's deadline still bounds everything: this only lets one slow exploration cell be
    skipped instead of failing the whole notebook.
    """
    import signal

    if not seconds or not hasattr(signal, "setitimer"):  # no limit, or Windows
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise CellTimeLimit(f"the cell ran longer than {seconds:g} s and was stopped")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _error_line(error: BaseException, path: str) -> int | None:
    """The line of the submission where an exception was raised (the innermost frame there)."""
    line = None
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == path:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def serve(*, in_fd: int, out_fd: int, config: dict[str, Any]) -> None:
    """Answer requests until the grader closes the channel."""
    import os

    _set_limits(config)
    worker = Worker(config)
    handlers = {
        "ping": lambda request: {"ok": True},
        "load": worker.op_load,
        "install": worker.op_install,
        "call": worker.op_call,
        "model": worker.op_model,
    }
    # Keep references: student code may replace these module attributes.
    read, write, flush = protocol.read_message, protocol.write_message, _flush
    while True:
        try:
            request = read(in_fd)
        except EOFError:
            break
        try:
            response = handlers[request["op"]](request)
        except BaseException as error:  # a worker-side problem (bad request, student sabotage)
            response = {"ok": False, "error": protocol.exception_payload(error), "stage": "worker"}
        flush()
        try:
            write(out_fd, response)
        except BaseException as error:  # e.g. a value JSON cannot hold
            write(
                out_fd, {"ok": False, "error": protocol.exception_payload(error), "stage": "worker"}
            )
    os._exit(0)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
