"""Training the reference pipeline: accuracy figures, repeatability, and bad options."""

from __future__ import annotations

import pytest

from mnist_lab.train import train_reference


@pytest.mark.slow
def test_same_seed_gives_the_same_run():
    first = train_reference(epochs=1, seed=3)
    second = train_reference(epochs=1, seed=3)
    assert first.test_accuracy == second.test_accuracy
    assert first.train_accuracy == second.train_accuracy
    assert first.source.kind == "sample"
    assert first.to_dict()["train_images"] == 10_000


@pytest.mark.slow
def test_reference_reaches_93_percent_on_the_embedded_sample():
    # 5 epochs give 92.7-93.3 % here depending on the seed; 10 epochs clear 93 % for every seed
    # tried (93.3-93.7 %). The first 2,000 test images are harder than the full test set's mean.
    result = train_reference(epochs=10, seed=0)
    assert result.test_accuracy >= 0.93, result.to_dict()
    assert result.train_accuracy > result.test_accuracy  # the usual train/test gap


@pytest.mark.slow
@pytest.mark.full_data
def test_reference_reaches_97_percent_on_the_full_data_in_5_epochs(full_mnist):
    result = train_reference(data_path=full_mnist, epochs=5, seed=0)
    assert result.test_accuracy >= 0.97, result.to_dict()
    assert result.train_images == 60_000
    assert result.test_images == 10_000


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"batch_size": 0}, "batch size must be at least 1"),
    ],
)
def test_bad_options_are_refused_before_loading_anything(options, message):
    with pytest.raises(ValueError, match=message):
        train_reference(**options)
