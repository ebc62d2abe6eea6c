"""The data-only wire format between the grader and the worker that runs student code.

A message is an 8-byte big-endian length followed by that many bytes of UTF-8 JSON. Values travel
as tagged JSON trees (``{"t": kind, ...}``): NumPy arrays and scalars as base64 ``.npy`` bytes
written and read with ``allow_pickle=False``. Nothing the worker sends is ever unpickled, imported
or evaluated by the grader: an unknown tag or a malformed message is a ``ProtocolError``.

This module must import nothing heavy (no TensorFlow): the worker receives its source over stdin
and the grader imports it on every run.
"""

from __future__ import annotations

import base64
import builtins
import io
import json
import math
import os
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

HEADER = struct.Struct(">Q")
# The largest reply the contract needs is a model's weights (101,770 float32 values: 0.55 MB as
# base64); 8 MB leaves room for float64 and bigger wrong models. The worker refuses to send more
# (the case fails with that reason); a bigger message is a protocol error, and the grader's
# memory stays bounded whatever the worker sends.
MAX_REPLY_BYTES = 8 * 1024 * 1024
# What the grader sends (the largest: the learning check's 2,000 training images, 2.1 MB as
# base64 of their uint8 pixels).
MAX_REQUEST_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 32  # deeper nesting is sent as Opaque (and stops recursion bombs)
MAX_TEXT = 2000  # longest exception message or repr kept from the worker


class ProtocolError(Exception):
    """A message that is not valid under this protocol."""


class StudentError(Exception):
    """The student's code raised an exception in the worker.

    ``type_names`` is the exception class's MRO (e.g. ``["ValueError", "Exception",
    "BaseException"]``), ``message`` its (truncated) text.
    """

    def __init__(self, type_names: list[str], message: str, *, where: str = "") -> None:
        self.type_names = [str(name) for name in type_names]
        self.message = str(message)
        self.where = where
        super().__init__(f"{self.type_name}: {self.message}" if self.message else self.type_name)

    @property
    def type_name(self) -> str:
        return self.type_names[0] if self.type_names else "Exception"

    def as_raised(self) -> BaseException:
        """The student's exception as its own built-in type when it is one (``ValueError``...),
        so a test file catches it as otter's documentation shows (``except ValueError``); else
        this StudentError. Either way ``student_error_of`` finds this StudentError in it."""
        kind = getattr(builtins, self.type_name, None)
        if not (isinstance(kind, type) and issubclass(kind, Exception)):
            return self
        try:
            error = kind(self.message)
        except Exception:  # a built-in that wants other arguments (UnicodeDecodeError...)
            return self
        error.__mnist_lab_student__ = self
        return error


def student_error_of(error: BaseException) -> StudentError | None:
    """The StudentError behind ``error``: itself, or the one a re-raised built-in carries."""
    if isinstance(error, StudentError):
        return error
    found = getattr(error, "__mnist_lab_student__", None)
    return found if isinstance(found, StudentError) else None


class WorkerFailure(Exception):
    """The worker timed out, died, used too much memory or broke the protocol during a call."""


@dataclass(frozen=True)
class Opaque:
    """A value that is not plain data (type name and a short repr): it equals nothing else."""

    type_name: str
    repr_text: str

    def __repr__(self) -> str:
        return f"<{self.type_name} object: {self.repr_text}>"

    __eq__ = object.__eq__  # identity only: an Opaque never "equals" an expected value
    __hash__ = object.__hash__


@dataclass
class ModelSpec:
    """A stack of Dense layers on ``input_dim`` inputs, as pure data (see GRADING-INTERFACE.md).

    Each layer is ``{"units": int, "activation": str, "weights": ndarray, "bias": ndarray}``.
    """

    layers: list[dict[str, Any]]
    input_dim: int


@dataclass(frozen=True)
class ModelHandle:
    """The worker's reference to a Keras model it keeps in its handle table."""

    handle: int


class RemoteModel:
    """A Keras model living in the worker; the checks get raw data about it through these
    methods (the same API as ``checks.LocalModel``), and decide in the grader."""

    __mnist_lab_remote__ = True

    def __init__(self, channel: Any, handle: int) -> None:
        self._channel = channel
        self._handle = handle

    @property
    def handle(self) -> int:
        return self._handle

    def _ask(self, action: str, **options: Any) -> Any:
        return self._channel.model_request(action, self._handle, **options)

    def observe(self, x: np.ndarray) -> dict:
        return self._ask("observe", x=np.asarray(x))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._ask("predict", x=np.asarray(x))

    def get_weights(self) -> list:
        return self._ask("get_weights")

    def set_weights(self, weights: list) -> None:
        self._ask("set_weights", weights=[np.asarray(w) for w in weights])

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> list:
        return self._ask("evaluate", x=np.asarray(x), y=np.asarray(y))

    def train_on_batch(self, x: np.ndarray, y: np.ndarray) -> list:
        return self._ask("train_on_batch", x=np.asarray(x), y=np.asarray(y))

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        epochs: int,
        batch_size: int,
        seed: int | None,
        divide_by: float = 1.0,
    ) -> dict:
        return self._ask(
            "fit",
            x=np.asarray(x),
            y=np.asarray(y),
            epochs=int(epochs),
            batch_size=int(batch_size),
            seed=None if seed is None else int(seed),
            divide_by=float(divide_by),
        )

    def __repr__(self) -> str:
        return f"<RemoteModel handle={self._handle}>"


# --- framing -------------------------------------------------------------------------------------


class MessageTooLarge(ValueError):
    """A message over ``MAX_MESSAGE_BYTES``: not sent."""


def encode_message(message: dict[str, Any], *, max_bytes: int = MAX_REQUEST_BYTES) -> bytes:
    payload = json.dumps(message, separators=(",", ":"), allow_nan=False).encode("utf-8")
    if len(payload) > max_bytes:
        raise MessageTooLarge(
            f"{len(payload) / 2**20:.1f} MB, more than the {max_bytes / 2**20:.0f} MB limit"
        )
    return HEADER.pack(len(payload)) + payload


def write_message(fd: int, message: dict[str, Any], *, max_bytes: int = MAX_REQUEST_BYTES) -> None:
    data = encode_message(message, max_bytes=max_bytes)
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exactly(fd: int, size: int) -> bytes:
    chunks = []
    remaining = size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int, *, max_bytes: int = MAX_REPLY_BYTES) -> dict[str, Any]:
    (size,) = HEADER.unpack(_read_exactly(fd, HEADER.size))
    if size > max_bytes:
        raise ProtocolError(f"message of {size} bytes is larger than the limit of {max_bytes}")
    try:
        message = json.loads(_read_exactly(fd, size).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ProtocolError(f"message is not valid JSON: {type(error).__name__}") from None
    if not isinstance(message, dict):
        raise ProtocolError("message is not a JSON object")
    return message


# --- values --------------------------------------------------------------------------------------


def _npy_bytes(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _npy_array(text: Any) -> np.ndarray:
    if not isinstance(text, str):
        raise ProtocolError("array payload is not a string")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
        stream = io.BytesIO(raw)
        version = np.lib.format.read_magic(stream)
        readers = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }
        if version not in readers:
            raise ValueError(f".npy format version {version} is not accepted")
        shape, _, dtype = readers[version](stream, max_header_size=10000)
        # The header must not promise more data than was sent (no huge allocation on a lie).
        if dtype.hasobject or math.prod(shape) * dtype.itemsize != len(raw) - stream.tell():
            raise ValueError("the header does not match the data")
        array = np.load(io.BytesIO(raw), allow_pickle=False)
    except Exception as error:  # any malformed .npy is the worker's fault, never ours
        raise ProtocolError(f"malformed array payload: {error}") from None
    if not isinstance(array, np.ndarray) or array.dtype.hasobject:
        raise ProtocolError("array payload is not a plain NumPy array")
    if not array.flags.writeable:
        array = array.copy()  # student code may legitimately write into its arguments
    return array


_NUMPY_SCALAR_TYPES = frozenset(
    t for t in set(np.sctypeDict.values()) if issubclass(t, np.generic) and t is not np.object_
)


def safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except BaseException:  # a student's __repr__ may raise anything
        text = "<repr failed>"
    if not isinstance(text, str):
        text = "<repr is not a string>"
    return text[:200]


def type_name_of(value: Any) -> str:
    kind = type(value)
    module = getattr(kind, "__module__", "") or ""
    name = getattr(kind, "__qualname__", "") or getattr(kind, "__name__", "object")
    return str(name) if module in ("builtins", "") else f"{module}.{name}"


def _is_tensor(value: Any) -> bool:
    """A TensorFlow eager tensor: sent as the array it holds (``np.asarray`` accepts it too)."""
    module = getattr(type(value), "__module__", "") or ""
    return module.startswith("tensorflow.") and type(value).__name__ == "EagerTensor"


def _opaque(value: Any, text: str | None = None) -> dict[str, Any]:
    return {"t": "opaque", "type": type_name_of(value), "repr": text or safe_repr(value)}


def _encode_array(value: np.ndarray, **_: Any) -> dict[str, Any]:
    if value.dtype.hasobject or value.dtype.kind == "V":
        return {"t": "opaque", "type": "numpy.ndarray[object]", "repr": safe_repr(value)}
    return {"t": "array", "npy": _npy_bytes(value)}


def _encode_sequence(value: list | tuple, *, again: Any) -> dict[str, Any]:
    return {"t": type(value).__name__, "items": [again(item) for item in value]}


def _encode_dict(value: dict, *, again: Any) -> dict[str, Any]:
    return {"t": "dict", "items": [[again(key), again(item)] for key, item in dict.items(value)]}


def _encode_spec(value: ModelSpec, *, again: Any) -> dict[str, Any]:
    return {"t": "modelspec", "input_dim": again(value.input_dim), "layers": again(value.layers)}


# Exact types only (a subclass of any of these is Opaque): type -> encoder.
_ENCODERS: dict[type, Any] = {
    type(None): lambda value, **_: {"t": "none"},
    bool: lambda value, **_: {"t": "bool", "v": bool(value)},
    int: lambda value, **_: {"t": "int", "v": str(int.__repr__(value))},
    float: lambda value, **_: {"t": "float", "v": float.__repr__(value)},
    str: lambda value, **_: {"t": "str", "v": str.__str__(value)},
    np.ndarray: _encode_array,
    list: _encode_sequence,
    tuple: _encode_sequence,
    dict: _encode_dict,
    ModelSpec: _encode_spec,
    ModelHandle: lambda value, **_: {"t": "model", "handle": int(value.handle)},
    RemoteModel: lambda value, **_: {"t": "model", "handle": int(value.handle)},
}


def encode_value(value: Any, *, register_model: Any = None, depth: int = 0) -> dict[str, Any]:
    """Encode a value as a tagged JSON tree (exact types only: subclasses become Opaque)."""
    if depth > MAX_DEPTH:
        return _opaque(value, "<nested too deeply>")

    def again(item: Any) -> dict[str, Any]:
        return encode_value(item, register_model=register_model, depth=depth + 1)

    kind = type(value)
    if kind in _ENCODERS:
        return _ENCODERS[kind](value, again=again)
    if kind in _NUMPY_SCALAR_TYPES:
        return {"t": "scalar", "npy": _npy_bytes(np.asarray(value))}
    if _is_tensor(value):
        try:
            array = np.asarray(value.numpy())
        except BaseException:
            array = None
        if type(array) is np.ndarray:
            return again(array)
    if register_model is not None:
        handle = register_model(value)
        if handle is not None:
            return {"t": "model", "handle": int(handle)}
    return _opaque(value)


def _text_of(tree: dict, *, longest: int, kind: str) -> str:
    text = tree["v"]
    if not isinstance(text, str) or len(text) > longest:
        raise ProtocolError(f"bad {kind}")
    return text


def _decode_bool(tree: dict, **_: Any) -> bool:
    if not isinstance(tree["v"], bool):
        raise ProtocolError("bad bool")
    return tree["v"]


def _decode_float(tree: dict, **_: Any) -> float:
    text = _text_of(tree, longest=40, kind="float")
    number = float(text)
    if not (math.isfinite(number) or text.lstrip("-") in ("inf", "nan")):
        raise ProtocolError("bad float")
    return number


def _decode_scalar(tree: dict, **_: Any) -> Any:
    array = _npy_array(tree["npy"])
    if array.ndim != 0:
        raise ProtocolError("scalar payload is not 0-dimensional")
    return array[()]


def _items(tree: dict, kind: str) -> list:
    if not isinstance(tree["items"], list):
        raise ProtocolError(f"bad {kind}")
    return tree["items"]


def _decode_dict(tree: dict, *, again: Any) -> dict:
    result = {}
    for pair in _items(tree, "dict"):
        if not isinstance(pair, list) or len(pair) != 2:
            raise ProtocolError("bad dict item")
        try:
            result[again(pair[0])] = again(pair[1])
        except TypeError:
            raise ProtocolError("unhashable dict key") from None
    return result


def _decode_model(tree: dict, *, make_model: Any, **_: Any) -> Any:
    handle = tree["handle"]
    if type(handle) is not int:
        raise ProtocolError("bad model handle")
    return make_model(handle) if make_model is not None else ModelHandle(handle)


def _decode_opaque(tree: dict, **_: Any) -> Opaque:
    type_name, text = tree["type"], tree["repr"]
    if not isinstance(type_name, str) or not isinstance(text, str):
        raise ProtocolError("bad opaque value")
    return Opaque(type_name[:200], text[:200])


# tag -> decoder; every decoder checks what it reads (nothing is trusted, nothing evaluated).
_DECODERS: dict[str, Any] = {
    "none": lambda tree, **_: None,
    "bool": _decode_bool,
    "int": lambda tree, **_: int(_text_of(tree, longest=5000, kind="int")),
    "float": _decode_float,
    "str": lambda tree, **_: _text_of(tree, longest=10**9, kind="str"),
    "array": lambda tree, **_: _npy_array(tree["npy"]),
    "scalar": _decode_scalar,
    "list": lambda tree, *, again, **_: [again(item) for item in _items(tree, "sequence")],
    "tuple": lambda tree, *, again, **_: tuple(again(item) for item in _items(tree, "sequence")),
    "dict": lambda tree, *, again, **_: _decode_dict(tree, again=again),
    "modelspec": lambda tree, *, again, **_: ModelSpec(
        layers=again(tree["layers"]), input_dim=again(tree["input_dim"])
    ),
    "model": _decode_model,
    "opaque": _decode_opaque,
}


def decode_value(tree: Any, *, make_model: Any = None, depth: int = 0) -> Any:
    """Decode a tagged JSON tree; ``make_model(handle)`` turns a model reference into an object."""
    if depth > MAX_DEPTH + 2:
        raise ProtocolError("value nested too deeply")
    if not isinstance(tree, dict) or not isinstance(tree.get("t"), str):
        raise ProtocolError("value is not a tagged object")
    tag = tree["t"]
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise ProtocolError(f"unknown value kind {tag!r}")

    def again(item: Any) -> Any:
        return decode_value(item, make_model=make_model, depth=depth + 1)

    try:
        return decoder(tree, again=again, make_model=make_model)
    except KeyError as missing:
        raise ProtocolError(f"value of kind {tag!r} lacks {missing}") from None
    except ValueError as error:
        raise ProtocolError(f"bad value of kind {tag!r}: {error}") from None


def exception_payload(error: BaseException) -> dict[str, Any]:
    """What the worker sends for an exception raised by student code (names and text only)."""
    try:
        names = [str(getattr(k, "__name__", "?")) for k in type(error).__mro__ if k is not object]
    except BaseException:
        names = ["Exception"]
    try:
        message = str(error)
    except BaseException:
        message = "<the exception's message could not be computed>"
    if not isinstance(message, str):
        message = "<the exception's message is not a string>"
    line = None
    if isinstance(error, SyntaxError):
        line = error.lineno if type(error.lineno) is int else None
        message = str(error.msg) if isinstance(error.msg, str) else message
    return {"types": names[:20], "message": message[:MAX_TEXT], "line": line}


def student_error_from(payload: Any, *, where: str = "") -> StudentError:
    if not isinstance(payload, dict):
        raise ProtocolError("bad error payload")
    names, message = payload.get("types"), payload.get("message")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ProtocolError("bad error type names")
    if not isinstance(message, str):
        raise ProtocolError("bad error message")
    error = StudentError([n[:100] for n in names[:20]], message[:MAX_TEXT], where=where)
    line = payload.get("line")
    error.line = line if type(line) is int else None
    return error
