"""Verdicts on a Keras model from what it did, computed in NumPy by the grader.

The worker (or, under ``otter run``, the test process) only reports raw data about the model
(``modeldata.py``): its weight arrays, its outputs on inputs the grader chose, the loss and metric
values it reports, its weights after training steps. Everything here decides from that data:

- ``recognise``: which stack of Dense layers the weights form (by their shapes) and which
  activations reproduce the model's own outputs from those weights (ReLU, softmax and the other
  usual ones are recognised by behaviour, never by name);
- ``sparse_crossentropy_values`` / ``accuracy``: what sparse categorical cross-entropy and accuracy
  give on a batch, for the model's loss and metric values to be compared with;
- ``adam_steps`` and ``looks_like_adam_first_step``: what Adam at its default rate does to known
  weights, exactly (for the standard architecture) or by its signature (every parameter moves by
  about the learning rate on the first step, whatever the loss).

NumPy only: importing this module is cheap and never imports TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

NUM_PIXELS = 784
NUM_CLASSES = 10
ADAM_RATE = 1e-3  # keras.optimizers.Adam's default learning rate
ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-7
MAX_DENSE_LAYERS = 3  # deeper stacks are not searched for activations (not the exercise's model)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _softmax(z: np.ndarray) -> np.ndarray:
    shifted = np.exp(z - z.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _erf(z: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(z)


# Hidden-layer activations Keras users write, as functions of the pre-activation (float64).
HIDDEN_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: np.maximum(z, 0.0),
    "linear (no activation)": lambda z: z,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
    "selu": lambda z: (
        1.0507009873554805 * np.where(z > 0, z, 1.6732632423543772 * np.expm1(np.minimum(z, 0.0)))
    ),
    "gelu": lambda z: 0.5 * z * (1.0 + _erf(z / math.sqrt(2.0))),  # Keras' default: exact
    "gelu (tanh approximation)": lambda z: (
        0.5 * z * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z**3)))
    ),
    "silu": lambda z: z * _sigmoid(z),
    "softplus": lambda z: np.logaddexp(0.0, z),
    "softsign": lambda z: z / (1.0 + np.abs(z)),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.2 * z),
    "leaky_relu (0.3)": lambda z: np.where(z > 0, z, 0.3 * z),
    "leaky_relu (0.01)": lambda z: np.where(z > 0, z, 0.01 * z),
    "relu6": lambda z: np.clip(z, 0.0, 6.0),
    "hard_sigmoid": lambda z: np.clip(z / 6.0 + 0.5, 0.0, 1.0),
    "exponential": lambda z: np.exp(np.minimum(z, 80.0)),
}
OUTPUT_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "softmax": _softmax,
    "sigmoid": _sigmoid,
    "linear (no activation)": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "log_softmax": lambda z: (
        z
        - z.max(axis=-1, keepdims=True)
        - np.log(np.exp(z - z.max(axis=-1, keepdims=True)).sum(axis=-1, keepdims=True))
    ),
}


def probe_inputs(seed: int = 7) -> np.ndarray:
    """Inputs that tell activations apart: images in 0..1, negative values, large values.

    Large pre-activations separate relu from relu6 and the saturating activations; negative ones
    separate relu from leaky_relu, elu and the rest.
    """
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [
            rng.uniform(0.0, 1.0, (16, NUM_PIXELS)),
            rng.uniform(-3.0, 3.0, (8, NUM_PIXELS)),
            rng.uniform(0.0, 30.0, (8, NUM_PIXELS)),
        ]
    ).astype(np.float32)


@dataclass
class DenseLayer:
    kernel: np.ndarray  # (inputs, units), float64
    bias: np.ndarray  # (units,), zeros when the layer has none
    has_bias: bool
    kernel_index: int = -1  # where the kernel and bias are in the model's weight list
    bias_index: int = -1

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.kernel.shape[0]), int(self.kernel.shape[1]))


@dataclass
class Recognition:
    """What a model's weights and outputs say it is.

    ``layers`` is the chain of Dense layers found by shape (empty when the weights do not form
    one), ``activations`` one name per layer when some choice reproduces the model's outputs (else
    None), ``problems`` what stopped recognition, in plain words.
    """

    layers: list[DenseLayer]
    activations: list[str] | None
    problems: list[str] = field(default_factory=list)

    @property
    def recognised(self) -> bool:
        return self.activations is not None

    def describe(self) -> str:
        if not self.layers:
            return "no chain of Dense layers"
        parts = []
        for index, layer in enumerate(self.layers):
            activation = self.activations[index] if self.activations else "?"
            parts.append(f"Dense({layer.shape[1]}, {activation})")
        return " -> ".join([f"{self.layers[0].shape[0]} inputs", *parts])

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.activations is None:
            raise ValueError("the model was not recognised: its outputs cannot be recomputed")
        return forward(self.layers, self.activations, x)


def _as_float_arrays(weights: list) -> list[np.ndarray] | None:
    arrays = []
    for weight in weights:
        array = np.asarray(weight)
        if array.dtype.kind not in "fiu" or not np.all(np.isfinite(array)):
            return None
        arrays.append(array.astype(np.float64))
    return arrays


def dense_chain(weights: list) -> tuple[list[DenseLayer], list[str]]:
    """The Dense layers ``weights`` form, from 784 inputs to 10 outputs, found by shape.

    A kernel is a 2-D array; its bias is the 1-D array of its width that follows it. Keras lists
    a layer's kernel then its bias, in layer order (also for functional and subclassed models).
    """
    arrays = _as_float_arrays(list(weights))
    if arrays is None:
        return [], ["its weights are not finite numbers"]
    layers: list[DenseLayer] = []
    used: set[int] = set()
    width = NUM_PIXELS
    while True:
        candidates = [
            index
            for index, array in enumerate(arrays)
            if index not in used and array.ndim == 2 and array.shape[0] == width
        ]
        if not candidates:
            break
        index = candidates[0]
        kernel = arrays[index]
        used.add(index)
        bias_index = index + 1
        has_bias = (
            bias_index < len(arrays)
            and bias_index not in used
            and arrays[bias_index].shape == (kernel.shape[1],)
        )
        if has_bias:
            used.add(bias_index)
        bias = arrays[bias_index] if has_bias else np.zeros(kernel.shape[1])
        layers.append(
            DenseLayer(
                kernel=kernel,
                bias=bias,
                has_bias=has_bias,
                kernel_index=index,
                bias_index=bias_index if has_bias else -1,
            )
        )
        width = kernel.shape[1]
        if len(layers) > 8:
            break
    problems = []
    if not layers:
        shapes = ", ".join(str(tuple(a.shape)) for a in arrays) or "none"
        problems.append(f"no Dense layer takes {NUM_PIXELS} inputs (weight shapes: {shapes})")
    elif width != NUM_CLASSES:
        problems.append(f"its last Dense layer gives {width} values, not {NUM_CLASSES}")
    others = [tuple(arrays[i].shape) for i in range(len(arrays)) if i not in used]
    if others:
        problems.append(
            "it has weights that are not the kernels and biases of its Dense layers: "
            + ", ".join(str(shape) for shape in others[:6])
        )
    return layers, problems


def forward(layers: list[DenseLayer], activations: list[str], x: np.ndarray) -> np.ndarray:
    """What the layers compute on ``x``, in float64."""
    return forward_bounded(layers, activations, x)[0]


# Float32 rounding: a sum of n terms computed in float32 (any order, with or without FMA) is
# off by about sqrt(n) * 2**-24 of the sum of the terms' sizes; 4 of those is a wide margin.
FLOAT32_UNIT = 2.0**-24
ROUNDING_MARGIN = 4.0


def _sum_rounding(terms: int) -> float:
    return ROUNDING_MARGIN * math.sqrt(terms) * FLOAT32_UNIT


def forward_bounded(
    layers: list[DenseLayer], activations: list[str], x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The outputs (float64) and how far a float32 computation of them may fairly be off.

    Trained weights and the large probe inputs give pre-activations in the hundreds; where two
    outputs nearly tie, a softmax then turns float32 rounding into differences far above any
    fixed tolerance (a correct model lost its points once). The error is carried through every
    layer: through the matrix product by the sizes of its terms, through an activation by its
    values at the ends of the interval.
    """
    return _activate(activations[-1], True, *_output_pre_activations(layers, activations, x))


def _output_pre_activations(
    layers: list[DenseLayer], activations: list[str], x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The output layer's pre-activations on ``x`` (float64) and their rounding bound."""
    out = np.asarray(x, dtype=np.float64)
    error = np.zeros_like(out)
    for layer, name in zip(layers[:-1], activations[:-1], strict=True):
        out, error = _activate(name, False, *_dense(layer, out, error))
    return _dense(layers[-1], out, error)


@np.errstate(over="ignore", invalid="ignore")  # huge values: caught by _within
def _dense(layer: DenseLayer, out: np.ndarray, error: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A Dense layer's pre-activations and their error: the error it was given, carried through
    the kernel, plus its own rounding, which grows with the sizes of the terms summed."""
    kernel = np.abs(layer.kernel)
    sizes = np.abs(out) @ kernel + np.abs(layer.bias)
    pre = out @ layer.kernel + layer.bias
    return pre, error @ kernel + _sum_rounding(layer.shape[0] + 1) * sizes


def output_logits(layers: list[DenseLayer], activations: list[str], x: np.ndarray) -> np.ndarray:
    """The output layer's pre-activations on ``x`` (float64)."""
    return _output_pre_activations(layers, activations, x)[0]


@np.errstate(over="ignore", invalid="ignore")
def _activate(
    name: str, last: bool, pre: np.ndarray, error: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    if last and name == "softmax":
        out = _softmax(pre)
        low, high = _softmax_interval(pre, error)
        spread = np.maximum(high - out, out - low)
    elif last and name == "log_softmax":
        out = OUTPUT_ACTIVATIONS[name](pre)  # log-sum-exp moves by at most the largest error
        spread = error + error.max(axis=-1, keepdims=True)
    else:
        function = (OUTPUT_ACTIVATIONS if last else HIDDEN_ACTIVATIONS)[name]
        out = function(pre)
        spread = np.maximum(
            np.abs(function(pre + error) - out), np.abs(function(pre - error) - out)
        )
    return out, spread + 8 * FLOAT32_UNIT * np.abs(out)  # the activation's own rounding


def _softmax_interval(z: np.ndarray, error: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each softmax output's least and greatest value with each logit anywhere within its error:
    output i rises with logit i and falls with the others."""
    others = ~np.eye(z.shape[-1], dtype=bool)
    gap = z[..., None, :] - z[..., :, None]  # gap[..., i, j] = z_j - z_i
    spread = error[..., None, :] + error[..., :, None]
    high = 1.0 / (1.0 + np.where(others, np.exp(gap - spread), 0.0).sum(axis=-1))
    low = 1.0 / (1.0 + np.where(others, np.exp(gap + spread), 0.0).sum(axis=-1))
    return low, high


def outputs_match(
    layers: list[DenseLayer], activations: list[str], x: np.ndarray, actual: np.ndarray
) -> bool:
    """Whether a model's float32 outputs on ``x`` are what these layers give, up to rounding."""
    return _within(*forward_bounded(layers, activations, x), np.asarray(actual, np.float64))


def allowance(expected: np.ndarray, error: np.ndarray) -> np.ndarray:
    """How far a model's float32 output may be from ``expected``: the rounding bound ``error``
    (``forward_bounded``) on top of a fixed floor."""
    return 2e-5 * np.maximum(1.0, np.abs(expected)) + 1e-6 * np.abs(expected) + error


def _within(expected: np.ndarray, error: np.ndarray, actual: np.ndarray) -> bool:
    if expected.shape != actual.shape:
        return False
    if not (np.all(np.isfinite(expected)) and np.all(np.isfinite(error))):
        return False
    return bool(np.all(np.abs(expected - actual) <= allowance(expected, error)))


def _first_matching(layers: list[DenseLayer], x: np.ndarray, outputs: np.ndarray):
    """The first activations, in preference order, whose outputs on ``x`` are ``outputs``; each
    layer's pre-activations are computed once for every choice below it."""

    def search(index: int, out: np.ndarray, error: np.ndarray) -> list[str] | None:
        last = index == len(layers) - 1
        pre, pre_error = _dense(layers[index], out, error)
        for name in OUTPUT_ACTIVATIONS if last else HIDDEN_ACTIVATIONS:
            value, spread = _activate(name, last, pre, pre_error)
            if last and _within(value, spread, outputs):
                return [name]
            if not last and (rest := search(index + 1, value, spread)) is not None:
                return [name, *rest]
        return None

    x = np.asarray(x, dtype=np.float64)
    return search(0, x, np.zeros_like(x))


def recognise(weights: list, x: np.ndarray, outputs: np.ndarray) -> Recognition:
    """Find the Dense layers in ``weights`` and the activations that reproduce ``outputs``.

    Preference order decides between activations that agree on ``x`` (relu before the rest,
    softmax before the rest); ``probe_inputs`` makes such ties rare.
    """
    layers, problems = dense_chain(weights)
    if problems:
        return Recognition(layers=layers, activations=None, problems=problems)
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.shape != (len(x), NUM_CLASSES):
        return Recognition(
            layers, None, [f"its outputs have shape {outputs.shape}, not ({len(x)}, 10)"]
        )
    if len(layers) > MAX_DENSE_LAYERS:
        return Recognition(layers, None, [f"it has {len(layers)} Dense layers"])
    activations = _first_matching(layers, x, outputs)
    if activations is not None:
        return Recognition(layers=layers, activations=activations)
    return Recognition(
        layers,
        None,
        ["its outputs are not what its Dense layers' weights give with any usual activation"],
    )


def architecture_problems(recognition: Recognition, expected: list[tuple[int, str]]) -> list[str]:
    """What differs from ``expected`` (one ``(units, activation)`` per Dense layer)."""
    if recognition.problems:
        return list(recognition.problems)
    problems = []
    layers = recognition.layers
    if len(layers) != len(expected):
        noun = "layer" if len(layers) == 1 else "layers"
        problems.append(f"it has {len(layers)} Dense {noun}, not {len(expected)}")
        return problems
    for index, (layer, (units, activation)) in enumerate(zip(layers, expected, strict=True)):
        what = "output" if index == len(layers) - 1 else "hidden"
        if layer.shape[1] != units:
            problems.append(f"the {what} Dense layer has {layer.shape[1]} units, not {units}")
        if not layer.has_bias:
            problems.append(f"the {what} Dense layer has no bias")
        found = recognition.activations[index]
        if found != activation:
            problems.append(f"the {what} layer behaves like {found}, not {activation}")
    return problems


# --- loss and metric --------------------------------------------------------------------------


def sparse_crossentropy_values(
    outputs: np.ndarray, labels: np.ndarray, logits: np.ndarray | None = None
) -> list[float]:
    """The values Keras' sparse categorical cross-entropy can report for these outputs.

    Keras works from the logits when the output layer is a softmax (or sigmoid) with them at
    hand, else from the outputs taken as probabilities (clipped to [1e-7, 1 - 1e-7], with or
    without renormalising): every reading is a sparse cross-entropy, none is another loss.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    rows = np.arange(len(labels))
    values = []
    if logits is not None:
        log_p = logits - logits.max(axis=1, keepdims=True)
        log_p = log_p - np.log(np.exp(log_p).sum(axis=1, keepdims=True))
        values.append(float(-np.mean(log_p[rows, labels])))
    clipped = np.clip(outputs, 1e-7, 1 - 1e-7)
    values.append(float(-np.mean(np.log(clipped[rows, labels]))))
    with np.errstate(divide="ignore", invalid="ignore"):
        normalised = np.clip(outputs / outputs.sum(axis=1, keepdims=True), 1e-7, 1 - 1e-7)
    if np.all(np.isfinite(normalised)):
        values.append(float(-np.mean(np.log(normalised[rows, labels]))))
    return values


def logits_crossentropy(outputs: np.ndarray, labels: np.ndarray) -> float:
    """Sparse cross-entropy with ``from_logits=True`` applied to ``outputs``."""
    return sparse_crossentropy_values(outputs, labels, logits=np.asarray(outputs, np.float64))[0]


def accuracy(outputs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(np.asarray(outputs), axis=1) == np.asarray(labels)))


def close(value: float, target: float, *, rtol: float = 1e-4) -> bool:
    return math.isfinite(value) and abs(value - target) <= rtol * max(1.0, abs(target))


# --- the optimizer ----------------------------------------------------------------------------


def _gradients(layers: list[DenseLayer], x: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
    """Gradients of the mean sparse cross-entropy of a relu/softmax Dense stack (kernel, bias per
    layer, in order)."""
    x = np.asarray(x, dtype=np.float64)
    inputs, pre = [], []
    out = x
    for index, layer in enumerate(layers):
        inputs.append(out)
        z = out @ layer.kernel + layer.bias
        pre.append(z)
        out = _softmax(z) if index == len(layers) - 1 else np.maximum(z, 0.0)
    delta = out.copy()
    delta[np.arange(len(labels)), labels] -= 1.0
    delta /= len(labels)
    grads: list[np.ndarray] = []
    for index in range(len(layers) - 1, -1, -1):
        layer = layers[index]
        grads[:0] = [inputs[index].T @ delta, delta.sum(axis=0)]
        if index:
            delta = (delta @ layer.kernel.T) * (pre[index - 1] > 0)
    return grads


def adam_steps(
    layers: list[DenseLayer], batches: list[tuple[np.ndarray, np.ndarray]]
) -> list[list[np.ndarray]]:
    """The weights (kernel, bias per layer) after each Adam step (default settings) of the mean
    sparse cross-entropy of a relu-hidden, softmax-output Dense stack on ``batches``."""
    current = [DenseLayer(layer.kernel.copy(), layer.bias.copy(), True) for layer in layers]
    params = [array for layer in current for array in (layer.kernel, layer.bias)]
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    beta1, beta2 = ADAM_BETAS
    after = []
    for step, (x, labels) in enumerate(batches, start=1):
        grads = _gradients(current, x, np.asarray(labels).astype(np.int64))
        rate = ADAM_RATE * math.sqrt(1 - beta2**step) / (1 - beta1**step)
        for param, grad, m, v in zip(params, grads, first, second, strict=True):
            m += (grad - m) * (1 - beta1)
            v += (grad * grad - v) * (1 - beta2)
            param -= rate * m / (np.sqrt(v) + ADAM_EPSILON)
        after.append([p.copy() for p in params])
    return after


MAX_REPLAY_MISMATCH = 0.02  # the share of parameters a replay may miss (see same_weights)


def same_weights(
    layers: list[DenseLayer], expected: list[np.ndarray], actual: list, *, atol: float = 2e-5
) -> bool:
    """Whether the model's weight list ``actual`` holds ``expected`` (kernel, bias per layer of
    ``layers``, as ``adam_steps`` gives them).

    Float32 against float64: a hidden unit whose pre-activation sits within rounding of 0 is
    active in one and not the other, and a gradient within rounding of 0 can flip its sign, so
    a few parameters may move differently: one hidden unit flipping for one sample moves up to
    its whole fan-in (785 of the reference's 101,770 parameters, 0.8 %; a correct model failed
    the earlier 1-in-1,000 bound). At most 2 % may differ by more than ``atol`` (never by more
    than two steps); another optimizer differs on most of them (Adamax: 80 %).
    """
    arrays = _as_float_arrays(list(actual))
    if arrays is None:
        return False
    differences = []
    for number, layer in enumerate(layers):
        for index, wanted in (
            (layer.kernel_index, expected[2 * number]),
            (layer.bias_index, expected[2 * number + 1]),
        ):
            if index < 0 or index >= len(arrays) or arrays[index].shape != wanted.shape:
                return False
            differences.append(np.abs(arrays[index] - wanted).ravel())
    difference = np.concatenate(differences)
    return bool(
        difference.max() <= 2 * ADAM_RATE and (difference > atol).mean() <= MAX_REPLAY_MISMATCH
    )


def looks_like_adam_first_step(before: list, after: list) -> bool:
    """Adam's first step moves every parameter by at most its learning rate, most of them by
    almost exactly that (the step is about rate × sign of the gradient), whatever the loss.

    SGD, RMSprop (about 3.2 × the rate), Adam with another rate, Nadam (about 1.06 ×) fail it.
    """
    first, second = _as_float_arrays(list(before)), _as_float_arrays(list(after))
    if first is None or second is None or len(first) != len(second):
        return False
    if any(a.shape != b.shape for a, b in zip(first, second, strict=True)):
        return False
    moves = np.concatenate([np.abs(b - a).ravel() for a, b in zip(first, second, strict=True)])
    moved = moves[moves > 1e-9]
    if moved.size < moves.size // 4:
        return False
    return bool(moves.max() <= ADAM_RATE * 1.005 and np.median(moved) >= ADAM_RATE * 0.98)
