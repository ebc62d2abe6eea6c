"""The helpers every autograder test case goes through (see GRADING-INTERFACE.md).

A case receives either the student's real functions (``otter run`` / ``otter check``) or the
harness' proxies that run them in a worker process. Going through these helpers makes one test
file work in both modes: ``call`` calls a function, ``raises`` expects an exception, ``as_model``
wraps what ``build_model`` returned. Failures are ``CheckFailure`` (an AssertionError) whose text
is the student-facing feedback.

Light to import: NumPy only; Keras is imported when a model is actually built or described.
The students' public test files embed this module's source (see ``package.py``), so everything
it needs from mnist_lab is imported in the one block marked below.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import numpy as np

# --- mnist_lab imports (replaced by stand-alone definitions in the students' public tests) ---
from mnist_lab.grading import modeldata
from mnist_lab.grading.protocol import ModelSpec, Opaque, StudentError, WorkerFailure
from mnist_lab.grading.reference import HELPERS as REFERENCE_HELPERS

# --- end of mnist_lab imports ---

# Functions whose helpers (normalize, flatten) are the reference ones while they are graded.
USES_REFERENCE_HELPERS = ("predict_digit",)
NOT_WRITTEN_HINT = "the function is not written yet (it still raises NotImplementedError)"


class CheckFailure(AssertionError):
    """A failed check; its text is shown to the student as is."""


def fail(message: str) -> None:
    raise CheckFailure(message)


def is_remote(func: Any) -> bool:
    return getattr(func, "__mnist_lab_remote__", False) is True


# Results worth computing once per submission (a model probe three cases share), by function.
_MEMO: dict[Any, dict[str, Any]] = {}
_MEMO_KEEP = 4


def memo(func: Any, key: str, compute: Any) -> Any:
    """``compute()`` once per student function (per grading run under the harness)."""
    store = getattr(func, "memo", None) if is_remote(func) else None
    if store is None:
        if func not in _MEMO:
            while len(_MEMO) >= _MEMO_KEEP:
                _MEMO.pop(next(iter(_MEMO)))
            _MEMO[func] = {}
        store = _MEMO[func]
    if key not in store:
        store[key] = compute()
    return store[key]


# --- describing values in plain words ------------------------------------------------------------


def a_or_an(word: str) -> str:
    """``word`` with its indefinite article: "an int64", "a uint8", "a float32"."""
    sounds_like_a_vowel = word[:1].lower() in "aeio" or (
        word[:1].lower() == "u" and not word.lower().startswith(("uint", "uni", "us"))
    )
    return f"{'an' if sounds_like_a_vowel and word else 'a'} {word}"


def describe(value: Any, *, limit: int = 120) -> str:
    """A short plain-words description of a value, for feedback."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return f"a NumPy {value.dtype} 0-d array ({value.item()!r})"
        return f"{a_or_an(str(value.dtype))} array of shape {value.shape}"
    if isinstance(value, np.generic):
        return f"NumPy {type(value).__name__} {value!r}"
    if isinstance(value, ModelSpec):
        return f"a Keras model ({value.input_dim} inputs)"
    if isinstance(value, Opaque):
        return f"{a_or_an(value.type_name)} ({value.repr_text[:limit]})"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, (int, float, str)):
        text = repr(value)
        return text if len(text) <= limit else text[: limit - 3] + "..."
    if isinstance(value, (list, tuple)):
        text = repr(value)
        kind = type(value).__name__
        if len(text) <= limit:
            return text
        return f"a {kind} of {len(value)} items"
    if is_model(value):
        return "a Keras model"
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"{a_or_an(type(value).__name__)} of shape {tuple(value.shape)}, dtype {value.dtype}"
    return f"{a_or_an(type(value).__name__)} object"


def call_text(func_name: str, *args: Any, **kwargs: Any) -> str:
    parts = [describe(arg) for arg in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
    return f"{func_name}({', '.join(parts)})"


def _name(func: Any) -> str:
    return str(getattr(func, "__name__", None) or getattr(func, "name", None) or "function")


# --- calling student functions -------------------------------------------------------------------


def _missing(func: Any, name: str) -> None:
    if func is None:
        fail(f"{name} is not defined in your submission (or its definition failed to run).")


@contextmanager
def _reference_helpers(func: Any):
    """Put the reference normalize/flatten in the student's globals for the call (otter mode)."""
    namespace = getattr(func, "__globals__", None)
    if REFERENCE_HELPERS is None or namespace is None or _name(func) not in USES_REFERENCE_HELPERS:
        yield
        return
    missing = object()
    saved = {name: namespace.get(name, missing) for name in REFERENCE_HELPERS}
    namespace.update(REFERENCE_HELPERS)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def _copied(value: Any) -> Any:
    return np.array(value, copy=True) if isinstance(value, np.ndarray) else value


# Models built from specs, by spec identity (the spec is kept, so its id is not reused): a case
# that calls predict_digit several times with one spec builds one model (Keras builds are slow).
_BUILT: dict[int, tuple[Any, Any]] = {}
_BUILT_KEEP = 4


def _materialized(value: Any) -> Any:
    if not isinstance(value, ModelSpec):
        return value
    if id(value) not in _BUILT:
        while len(_BUILT) >= _BUILT_KEEP:
            _BUILT.pop(next(iter(_BUILT)))
        _BUILT[id(value)] = (value, modeldata.build_from_spec(value))
    return _BUILT[id(value)][1]


def _error_feedback(text: str, error: BaseException) -> CheckFailure:
    if isinstance(error, StudentError):
        kind, message = error.type_name, error.message
    else:
        kind, message = type(error).__name__, str(error)
    if kind == "NotImplementedError":
        return CheckFailure(f"{text} raised NotImplementedError: {NOT_WRITTEN_HINT}.")
    return CheckFailure(
        f"{text} raised {kind}: {message[:500]}" + ("" if message else "(no message)")
    )


def _invoke(func: Any, args: tuple, kwargs: dict, *, name: str | None = None) -> Any:
    """Call ``func``; a student exception propagates (StudentError under the harness)."""
    if is_remote(func):
        return func(*args, **kwargs)
    # Copies, as the harness' worker gets: an in-place change never alters the test's data.
    real_args = tuple(_materialized(_copied(arg)) for arg in args)
    real_kwargs = {key: _materialized(_copied(value)) for key, value in kwargs.items()}
    with _reference_helpers(func):
        return _as_sent(func(*real_args, **real_kwargs))


def _as_sent(value: Any) -> Any:
    """A TensorFlow eager tensor as the NumPy array the harness' worker would send back."""
    kind = type(value)
    if kind.__name__ == "EagerTensor" and kind.__module__.startswith("tensorflow"):
        return np.asarray(value.numpy())
    return value


def call(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a student function with data; an exception it raises fails the case with feedback.

    A ``WorkerFailure`` (time limit, crash) propagates unchanged: its message says what happened.
    """
    name = _name(func)
    _missing(func, name)
    try:
        return _invoke(func, args, kwargs)
    except WorkerFailure:
        raise
    except Exception as error:  # the student's exception, reported in plain words
        raise _error_feedback(call_text(name, *args, **kwargs), error) from None


def call_returning_arguments(func: Any, *args: Any) -> tuple[Any, tuple]:
    """Call and return ``(result, arguments as they are after the call)``.

    Shows whether the function changed its input in place. Under the harness the proxy reports
    the worker's arguments (``call_returning_arguments``); without that method only the result
    comes back and the arguments returned are the ones sent.
    """
    name = _name(func)
    _missing(func, name)
    try:
        if is_remote(func):
            method = getattr(func, "call_returning_arguments", None)
            if method is None:
                return func(*args), args
            result, after = method(*args)
            return result, tuple(after)
        sent = tuple(_copied(arg) for arg in args)
        with _reference_helpers(func):
            result = func(*(_materialized(arg) for arg in sent))
        return _as_sent(result), sent
    except WorkerFailure:
        raise
    except Exception as error:
        raise _error_feedback(call_text(name, *args), error) from None


class Raised:
    """What happened when a call was expected to raise: ``raised`` (type names), ``message``."""

    def __init__(self, type_names: list[str] | None, message: str = "", result: Any = None) -> None:
        self.type_names = type_names or []
        self.message = message
        self.result = result

    @property
    def type_name(self) -> str | None:
        return self.type_names[0] if self.type_names else None

    def is_a(self, exc_type: type[BaseException]) -> bool:
        return exc_type.__name__ in self.type_names

    @property
    def not_implemented(self) -> bool:
        return self.type_name == "NotImplementedError"


def raises(exc_type: type[BaseException], func: Any, *args: Any, **kwargs: Any) -> Raised:
    """Call expecting ``exc_type``; returns a ``Raised`` (use ``expect_raises`` to assert)."""
    name = _name(func)
    _missing(func, name)
    try:
        result = _invoke(func, args, kwargs)
    except WorkerFailure:
        raise
    except StudentError as error:
        return Raised(error.type_names, error.message)
    except Exception as error:
        names = [k.__name__ for k in type(error).__mro__ if k is not object]
        return Raised(names, str(error))
    return Raised(None, result=result)


def is_not_implemented(error: Any) -> bool:
    if isinstance(error, Raised):
        return error.not_implemented
    if isinstance(error, StudentError):
        return error.type_name == "NotImplementedError"
    return isinstance(error, NotImplementedError)


def expect_raises(
    exc_type: type[BaseException], func: Any, *args: Any, why: str = "", **kwargs: Any
) -> Raised:
    """Fail the case unless the call raises ``exc_type``; returns the ``Raised`` for more checks."""
    name = _name(func)
    outcome = raises(exc_type, func, *args, **kwargs)
    text = call_text(name, *args, **kwargs)
    reason = f" ({why})" if why else ""
    if outcome.is_a(exc_type):
        return outcome
    if outcome.not_implemented:
        fail(f"{text} raised NotImplementedError: {NOT_WRITTEN_HINT}.")
    if outcome.type_name is None:
        fail(
            f"{text} returned {describe(outcome.result)} instead of raising "
            f"{exc_type.__name__}{reason}."
        )
    fail(
        f"{text} raised {outcome.type_name}: {outcome.message[:300]} — expected "
        f"{exc_type.__name__}{reason}."
    )
    return outcome  # not reached


# --- values ---------------------------------------------------------------------------------------


def as_array(value: Any, text: str, *, what: str = "a NumPy array") -> np.ndarray:
    """``np.asarray(value)`` for anything array-like (NumPy, tf.Tensor, lists); else fail."""
    if isinstance(value, Opaque) or value is None or is_model(value):
        fail(f"{text} returned {describe(value)}; expected {what}.")
    try:
        array = np.asarray(value)
    except Exception:
        fail(f"{text} returned {describe(value)}; expected {what}.")
    if array.dtype.hasobject:
        fail(f"{text} returned {describe(value)}; expected {what} of numbers.")
    return array


def is_int_like(value: Any) -> bool:
    """A Python int or a NumPy integer (or a 0-d integer array), not a bool."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return np.issubdtype(value.dtype, np.integer)
    return False


# --- models --------------------------------------------------------------------------------------


def is_model(value: Any) -> bool:
    if getattr(value, "__mnist_lab_remote__", False) is True or isinstance(value, LocalModel):
        return True
    kind = type(value)
    return any(
        base.__name__ in ("Model", "Sequential", "Functional")
        and base.__module__.startswith(("keras", "tf_keras", "tensorflow"))
        for base in kind.__mro__
    )


# The model API: raw data about a model, never a verdict (see modelprobe.py and modelcheck.py).
MODEL_METHODS = (
    "observe",
    "predict",
    "get_weights",
    "set_weights",
    "evaluate",
    "train_on_batch",
    "fit",
)


class LocalModel:
    """The RemoteModel API for a model in this process (otter mode): the same raw data."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def observe(self, x: np.ndarray) -> dict:
        return modeldata.observe(self.model, x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return modeldata.predict(self.model, x)

    def get_weights(self) -> list:
        return modeldata.get_weights(self.model)

    def set_weights(self, weights: list) -> None:
        modeldata.set_weights(self.model, weights)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> list:
        return modeldata.evaluate(self.model, x, y)

    def train_on_batch(self, x: np.ndarray, y: np.ndarray) -> list:
        return modeldata.train_on_batch(self.model, x, y)

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
        return modeldata.fit(
            self.model, x, y, epochs=epochs, batch_size=batch_size, seed=seed, divide_by=divide_by
        )


def as_model(value: Any, text: str = "build_model()") -> Any:
    """The model API (``RemoteModel`` or ``LocalModel``) for what a function returned, or fail."""
    if getattr(value, "__mnist_lab_remote__", False) is True or isinstance(value, LocalModel):
        return value
    if is_model(value):
        return LocalModel(value)
    fail(f"{text} returned {describe(value)}; expected a Keras model (keras.Model).")
    return None  # not reached


def first_model(build_model: Any) -> Any:
    """The model API for the first model ``build_model`` returned (memoised per submission).

    The cases that only look at a model share it, and the learning check trains it (nothing
    else does): building one takes about 50 ms. The compile checks build models of their own,
    whose optimizer must not have run yet.
    """
    return memo(build_model, "first_model", lambda: as_model(call(build_model), "build_model()"))


def model_call(model: Any, action: str, method: str, *args: Any, **kwargs: Any) -> Any:
    """Run ``model.<method>(...)``; an error (not compiled, wrong shapes...) fails with feedback."""
    try:
        return getattr(model, method)(*args, **kwargs)
    except WorkerFailure:
        raise
    except Exception as error:
        if isinstance(error, StudentError):
            kind, message = error.type_name, error.message
        else:
            kind, message = type(error).__name__, str(error)
        first = message.strip().splitlines()[0] if message.strip() else "(no message)"
        fail(f"{action} failed with {kind}: {first[:400]}")
    return None  # not reached


def spec_forward(spec: ModelSpec, x: np.ndarray) -> np.ndarray:
    """What the model built from ``spec`` computes, in NumPy (float64)."""
    out = np.asarray(x, dtype=np.float64)
    for layer in spec.layers:
        out = out @ np.asarray(layer["weights"], np.float64) + np.asarray(layer["bias"], np.float64)
        activation = layer["activation"]
        if activation == "relu":
            out = np.maximum(out, 0.0)
        elif activation == "softmax":
            shifted = np.exp(out - out.max(axis=-1, keepdims=True))
            out = shifted / shifted.sum(axis=-1, keepdims=True)
        elif activation != "linear":
            raise ValueError(f"spec_forward: unsupported activation {activation!r}")
    return out


def random_spec(seed: int, *, hidden: int = 16, bias: bool = True) -> ModelSpec:
    """A small random 784 -> hidden (relu) -> 10 (softmax) model as a ModelSpec."""
    rng = np.random.default_rng(seed)
    sizes = [(784, hidden, "relu"), (hidden, 10, "softmax")]
    layers = []
    for inputs, units, activation in sizes:
        layers.append(
            {
                "units": units,
                "activation": activation,
                "weights": rng.normal(0.0, 1.0 / np.sqrt(inputs), (inputs, units)),
                "bias": rng.normal(0.0, 0.1, units) if bias else np.zeros(units),
            }
        )
    return ModelSpec(layers=layers, input_dim=784)
