"""How the grader draws what a model must report (labels whose accuracy float32 cannot move),
and the learning probe in both the current and the earlier test files' way."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from mnist_lab.grading import checks, modelcheck, modelprobe
from mnist_lab.grading.modelprobe import Observation, _labels_with_hits, _trusted_outputs
from mnist_lab.solutions import digits


def _outputs(seed: int) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(0.0, 2.0, (32, 10))
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


@pytest.mark.parametrize("seed", range(5))
def test_an_image_whose_two_highest_outputs_tie_within_rounding_counts_as_a_miss_either_way(seed):
    outputs = _outputs(seed)
    tied = int(np.random.default_rng(seed).integers(0, 8))  # among the images drawn as hits
    top, second = np.argsort(outputs[tied])[::-1][:2]
    outputs[tied, second] = outputs[tied, top] - 1e-7
    error = np.full_like(outputs, 1e-7)
    labels = _labels_with_hits(outputs, error, seed)
    flipped = outputs.copy()
    flipped[tied, second] += 2e-7  # the other answer float32 might give
    assert np.argmax(flipped[tied]) != np.argmax(outputs[tied])
    assert modelcheck.accuracy(outputs, labels) == modelcheck.accuracy(flipped, labels)
    assert labels[tied] not in (top, second)


def test_the_accuracy_a_model_must_report_changes_from_run_to_run():
    outputs = _outputs(0)
    accuracies = {
        modelcheck.accuracy(outputs, _labels_with_hits(outputs, np.zeros_like(outputs), seed))
        for seed in range(10)
    }
    assert len(accuracies) >= 3
    assert all(3 / 32 <= accuracy <= 29 / 32 for accuracy in accuracies)


def test_outputs_that_are_not_numbers_fail_the_case_with_what_came_back():
    seen = Observation(np.zeros((1, 10)), [], modelcheck.Recognition([], None, ["none"]))
    with pytest.raises(
        checks.CheckFailure, match=r"of shape \(32, 10\); expected an array of numbers"
    ):
        _trusted_outputs(seen, [], np.zeros((32, 784)), np.full((32, 10), "a"))
    outputs, error = _trusted_outputs(seen, [], np.zeros((2, 784)), np.eye(2, 10, dtype=np.float32))
    assert outputs.dtype == np.float64
    assert not error.any()


def _learning_fixture() -> dict:
    path = resources.files("mnist_lab.autograder").joinpath("fixtures", "learn.npz")
    with resources.as_file(path) as file, np.load(file) as data:
        return {key: data[key] for key in data.files}


@pytest.mark.parametrize("style", ["pixels divided in the worker", "as test files before 0.2"])
def test_the_learning_probe_trains_the_reference_either_way(style):
    """The learning check of an autograder built by an earlier mnist-lab (float images, batch
    32, ``seed=0``) still grades with this one."""
    data = _learning_fixture()
    pixels = data["x_train"].reshape(-1, 784)
    common = {
        "y_train": data["y_train"],
        "x_held_out": data["x_test"].reshape(-1, 784).astype(np.float32) / 255.0,
        "y_held_out": data["y_test"],
        "epochs": 2,
    }
    if style == "as test files before 0.2":
        options = {"x_train": pixels.astype(np.float32) / 255.0, "batch_size": 32, "seed": 0}
    else:
        options = {"x_train": pixels, "batch_size": 50, "divide_by": 255.0}
    learned = modelprobe.learning(digits.build_model, **common, **options)
    assert learned.accuracy > 0.8
