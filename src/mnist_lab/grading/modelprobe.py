"""Ask the student's model for the data ``build_model``'s checks need, then judge it here.

Each probe takes a model the student's ``build_model`` built (the architecture and learning
probes share the first one, ``checks.first_model``; the compile probe builds its own, whose
optimizer has not run), asks it (through the model API of
``checks.as_model``: a model in the worker, or in this process under ``otter run``) for raw data
only (outputs, weights, reported loss and metric values, weights after training steps) and
returns that data with ``modelcheck``'s reading of it. The test file
``autograder/tests/build_model.py`` turns the readings into pass or fail with feedback.

How the model is told apart, all by behaviour:
- the architecture: the Dense layers its weights form, and the activations that reproduce its
  outputs on ``modelcheck.probe_inputs()`` from those weights;
- the loss and the metric: from known weights, the values ``model.evaluate`` reports on a known
  batch, against sparse cross-entropy and accuracy computed here (the batch's labels are chosen
  so that accuracy is exactly 5/32);
- the optimizer: two training steps from the known weights, against Adam at its default rate
  (exactly, for a relu/softmax stack trained without randomness; else by the signature of its
  first step);
- learning: ``model.fit`` on the training images in the model's process, then predictions
  computed HERE from the trained weights on held-out images that never reach the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mnist_lab.grading import checks, modelcheck

EXPECTED_LAYERS = [(128, "relu"), (10, "softmax")]
PROBE_BATCH = 32


def built_model(build_model: Any) -> Any:
    """A model built afresh by the student's ``build_model``."""
    return checks.as_model(checks.call(build_model), "build_model()")


def run_seed(build_model: Any) -> int:
    """A seed drawn afresh for each grading run: the probes' inputs and known weights cannot be
    known in advance, so replies recorded from a correct model cannot be replayed."""
    return checks.memo(build_model, "probe_seed", lambda: int.from_bytes(os.urandom(4), "big"))


def _model_data(model: Any, action: str, method: str, *args: Any, **kwargs: Any) -> Any:
    return checks.model_call(model, action, method, *args, **kwargs)


@dataclass
class Observation:
    """The model's outputs on the probe inputs, its weights, and what they say it is."""

    outputs: np.ndarray
    weights: list
    recognition: modelcheck.Recognition
    follows_known_weights: bool = True  # with weights the grader chose, outputs still match


def observe(model: Any, seed: int, what: str = "model.predict on 32 probe inputs") -> Observation:
    x = modelcheck.probe_inputs(seed)
    seen = _model_data(model, what, "observe", x)
    if not isinstance(seen, dict) or "outputs" not in seen or "weights" not in seen:
        checks.fail(f"{what} did not give outputs and weights.")
    outputs = checks.as_array(seen["outputs"], what)
    weights = seen["weights"] if isinstance(seen["weights"], list) else []
    return Observation(outputs, weights, modelcheck.recognise(weights, x, outputs))


def architecture(build_model: Any) -> Observation:
    """The model's architecture, by behaviour (memoised per submission: two cases share it).

    Its outputs must follow from its own weights, and again from random weights the grader sets
    (drawn for this run): outputs that do not depend on the weights, or weights reported for
    show, fail.
    """
    return checks.memo(build_model, "architecture", lambda: _architecture(build_model))


def _architecture(build_model: Any) -> Observation:
    seed = run_seed(build_model)
    model = checks.first_model(build_model)
    seen = observe(model, seed)
    if seen.recognition.recognised:
        known = _known_weights(seen.weights, seed + 7)
        x = modelcheck.probe_inputs(seed + 7)
        _model_data(model, "model.set_weights (weights the grader chose)", "set_weights", known)
        outputs = checks.as_array(
            _model_data(model, "model.predict with those weights", "predict", x), "model.predict"
        )
        layers, _ = modelcheck.dense_chain(known)
        seen.follows_known_weights = modelcheck.outputs_match(
            layers, seen.recognition.activations, x, outputs
        )
    return seen


def architecture_problems(seen: Observation) -> list[str]:
    problems = modelcheck.architecture_problems(seen.recognition, EXPECTED_LAYERS)
    if not seen.follows_known_weights:
        problems.append("with weights the grader set, its outputs are not what those weights give")
    return problems


# --- loss, metric, optimizer -------------------------------------------------------------------


@dataclass
class CompileProbe:
    """What one model reported from known weights on known batches."""

    labels: str = "sparse"  # "sparse" or "one-hot": the labels its loss accepted
    loss_values: list[float] = field(default_factory=list)  # SCCE readings of the known batch
    evaluated: list[float] = field(default_factory=list)  # model.evaluate: loss, then metrics
    accuracy: float = float("nan")
    cce_value: float | None = None  # categorical cross-entropy of the batch (one-hot labels)
    step_losses: list[float] = field(default_factory=list)
    before: list = field(default_factory=list)
    after: list[list] = field(default_factory=list)  # weights after each training step
    expected: list[list[np.ndarray]] | None = None  # exact Adam weights, when computable
    error: str | None = None  # why the model could not be probed (feedback)


def _known_weights(weights: list, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng([seed, 1])
    return [rng.normal(0.0, 0.05, np.shape(w)).astype(np.float32) for w in weights]


def _batches(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, 2])
    first = rng.uniform(0.0, 1.0, (PROBE_BATCH, 784)).astype(np.float32)
    second = rng.uniform(0.0, 1.0, (PROBE_BATCH, 784)).astype(np.float32)
    second_labels = rng.integers(0, 10, PROBE_BATCH)
    return first, second, second_labels


def _labels_with_hits(outputs: np.ndarray, error: np.ndarray, seed: int) -> np.ndarray:
    """Labels that agree with the model's prediction on a number of images drawn for this run,
    so the accuracy the model must report cannot be known in advance.

    An image whose two highest outputs lie within rounding of each other (``error``) may be
    predicted either way in float32: it gets its lowest output's digit, a miss both ways.
    """
    hits = int(np.random.default_rng([seed, 4]).integers(3, len(outputs) - 3))
    predicted = np.argmax(outputs, axis=1)
    index = np.arange(len(predicted))
    labels = np.where(index < hits, predicted, (predicted + 1 + index % 9) % 10)
    return np.where(_unsure_predictions(outputs, error), np.argmin(outputs, axis=1), labels)


def _unsure_predictions(outputs: np.ndarray, error: np.ndarray) -> np.ndarray:
    if outputs.ndim != 2 or outputs.shape[1] < 2:
        return np.zeros(len(outputs), dtype=bool)
    order = np.argsort(outputs, axis=1)[:, ::-1]
    rows = np.arange(len(outputs))
    first, second = order[:, 0], order[:, 1]
    gap = outputs[rows, first] - outputs[rows, second]
    allowed = modelcheck.allowance(outputs, error)
    return gap <= allowed[rows, first] + allowed[rows, second]


def _logits(recognition: modelcheck.Recognition, known: list, x: np.ndarray):
    """The output layer's pre-activations at the known weights, when the model was recognised."""
    if not recognition.recognised:
        return None
    layers, _ = modelcheck.dense_chain(known)
    return modelcheck.output_logits(layers, recognition.activations, x)


def _trusted_outputs(seen: Observation, known: list, x: np.ndarray, reported: np.ndarray):
    """The outputs to check the reported loss and accuracy against, and how far float32 may
    move them: computed here from the known weights when the model was recognised (so that they
    cannot be faked without computing what the model computes), else the reported ones."""
    if reported.dtype.kind not in "biuf":
        checks.fail(
            f"model.predict on a known batch returned {checks.describe(reported)}; expected "
            "an array of numbers."
        )
    reported = reported.astype(np.float64)
    if not seen.recognition.recognised:
        return reported, np.zeros_like(reported)
    layers, _ = modelcheck.dense_chain(known)
    return modelcheck.forward_bounded(layers, seen.recognition.activations, x)


def compile_probe(build_model: Any) -> CompileProbe:
    """Probe one model (memoised per submission: the three compile cases share it)."""
    return checks.memo(build_model, "compile_probe", lambda: _compile_probe(build_model))


def _compile_probe(build_model: Any) -> CompileProbe:
    seed = run_seed(build_model)
    seen = architecture(build_model)  # its weights' shapes and activations
    known = _known_weights(seen.weights, seed)
    x1, x2, second_labels = _batches(seed)
    probe = CompileProbe(before=known)
    if seen.recognition.recognised and not seen.follows_known_weights:
        probe.error = (
            "With weights the grader set, the model's outputs are not what those weights give, "
            "so the loss, metric and optimizer it reports cannot be checked."
        )
        return probe
    model, labels = None, None
    for kind in ("sparse", "one-hot"):  # a model whose first evaluate failed is rebuilt
        model = built_model(build_model)
        _model_data(model, "model.predict (building the model)", "predict", x1)
        _model_data(model, "model.set_weights (known weights)", "set_weights", known)
        outputs, error = _trusted_outputs(
            seen,
            known,
            x1,
            checks.as_array(
                _model_data(model, "model.predict on a known batch", "predict", x1),
                "model.predict",
            ),
        )
        labels = _labels_with_hits(outputs, error, seed)
        targets = labels if kind == "sparse" else np.eye(10, dtype=np.float32)[labels]
        try:
            evaluated = _model_data(
                model, "model.evaluate on a known batch", "evaluate", x1, targets
            )
        except checks.CheckFailure as failure:
            probe.error = probe.error or str(failure)
            continue
        probe.labels, probe.evaluated = kind, [float(v) for v in evaluated]
        probe.accuracy = modelcheck.accuracy(outputs, labels)
        logits = _logits(seen.recognition, known, x1)
        probe.loss_values = modelcheck.sparse_crossentropy_values(outputs, labels, logits)
        if kind == "one-hot":
            probe.cce_value = probe.loss_values[0]
        break
    else:
        return probe
    probe.error = None
    _train_two_steps(model, probe, (x1, labels), (x2, second_labels))
    if (
        probe.error is None
        and seen.recognition.activations == ["relu", "softmax"]
        and probe.labels == "sparse"
        and loss_is_sparse_crossentropy(probe)
        and probe.step_losses
        and modelcheck.close(probe.step_losses[0], probe.evaluated[0], rtol=1e-5)
    ):  # deterministic training (no dropout): Adam can be replayed exactly
        layers, _ = modelcheck.dense_chain(known)
        probe.expected = modelcheck.adam_steps(layers, [(x1, labels), (x2, second_labels)])
    return probe


def _train_two_steps(model: Any, probe: CompileProbe, *batches: tuple) -> None:
    for x, labels in batches:
        targets = labels if probe.labels == "sparse" else np.eye(10, dtype=np.float32)[labels]
        try:
            reported = _model_data(model, "model.train_on_batch", "train_on_batch", x, targets)
            weights = _model_data(model, "model.get_weights", "get_weights")
        except checks.CheckFailure as failure:
            probe.error = str(failure)
            return
        probe.step_losses.append(float(reported[0]) if reported else float("nan"))
        probe.after.append(weights)


def loss_is_sparse_crossentropy(probe: CompileProbe) -> bool:
    return (
        probe.labels == "sparse"
        and bool(probe.evaluated)
        and any(modelcheck.close(probe.evaluated[0], value) for value in probe.loss_values)
    )


def reports_accuracy(probe: CompileProbe) -> bool:
    return any(abs(value - probe.accuracy) <= 1e-6 for value in probe.evaluated[1:])


def trains_with_adam(probe: CompileProbe) -> bool:
    if len(probe.after) < 2:
        return False
    if probe.expected is not None:
        layers, _ = modelcheck.dense_chain(probe.before)
        return all(
            modelcheck.same_weights(layers, expected, after)
            for expected, after in zip(probe.expected, probe.after, strict=True)
        )
    return modelcheck.looks_like_adam_first_step(probe.before, probe.after[0])


# --- learning ----------------------------------------------------------------------------------


def _initial_weights(seen: Observation, seed: int) -> list[np.ndarray]:
    """Glorot-uniform kernels (Keras' default) and zero biases, drawn for this run."""
    rng = np.random.default_rng([seed, 3])
    weights = [np.zeros(np.shape(w), np.float32) for w in seen.weights]
    for layer in seen.recognition.layers:
        fan_in, fan_out = layer.shape
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weights[layer.kernel_index] = rng.uniform(-limit, limit, layer.shape).astype(np.float32)
    return weights


@dataclass
class LearningResult:
    accuracy: float
    recognition: modelcheck.Recognition


def learning(
    build_model: Any,
    *,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_held_out: np.ndarray,
    y_held_out: np.ndarray,
    epochs: int,
    batch_size: int,
    divide_by: float = 1.0,
    seed: int | None = None,
) -> LearningResult:
    """Train in the model's process on ``x_train / divide_by``, from initial weights and with a
    seed drawn for this run; compute held-out accuracy here from the trained weights.

    ``seed`` is not used (the run's seed is): it is accepted so that test files built by an
    earlier mnist-lab (a release's autograder, which passed ``seed=0``) still grade.
    """
    seed = run_seed(build_model)
    model = checks.first_model(build_model)
    seen = observe(model, seed)
    if not seen.recognition.recognised:
        checks.fail(
            "The grader cannot compute this model's predictions from its weights ("
            + "; ".join(seen.recognition.problems)
            + "), so it cannot measure what the model learns. Hint: build it from Dense layers "
            "with the activations the docstring names."
        )
    _model_data(
        model, "model.set_weights (initial weights)", "set_weights", _initial_weights(seen, seed)
    )
    _model_data(
        model,
        f"Training the model (model.fit on {len(x_train):,} images, {epochs} epochs)",
        "fit",
        x_train,
        y_train,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        divide_by=divide_by,
    )
    trained = observe(model, seed + 1, "model.predict after training")
    if trained.recognition.activations != seen.recognition.activations:
        checks.fail(
            "After training, the weights the model reports no longer give its own outputs, so "
            "the grader cannot measure what it learned."
        )
    predictions = trained.recognition.forward(x_held_out)
    correct = np.argmax(predictions, axis=1) == np.asarray(y_held_out)
    return LearningResult(accuracy=float(np.mean(correct)), recognition=trained.recognition)
