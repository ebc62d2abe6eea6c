"""Train the reference pipeline: normalize -> flatten -> build_model -> fit, then evaluate."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from mnist_lab.data import DataSource, load_mnist

DEFAULT_EPOCHS = 5
DEFAULT_BATCH_SIZE = 32
PROGRESS_STYLES = ("bar", "lines", "none")


@dataclass(frozen=True)
class TrainingResult:
    """What a training run measured."""

    source: DataSource
    epochs: int
    seed: int | None
    train_images: int
    test_images: int
    train_accuracy: float  # evaluated after training, not the running average of the last epoch
    test_accuracy: float
    seconds: float

    def to_dict(self) -> dict:
        return {
            "source": self.source.to_dict(),
            "epochs": self.epochs,
            "seed": self.seed,
            "train_images": self.train_images,
            "test_images": self.test_images,
            "train_accuracy": self.train_accuracy,
            "test_accuracy": self.test_accuracy,
            "seconds": self.seconds,
        }


def seed_everything(seed: int) -> None:
    """Make training repeatable: same seed, same weights, same accuracy (on this machine)."""
    import keras
    import tensorflow as tf

    os.environ["PYTHONHASHSEED"] = str(seed)
    keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow generators
    tf.config.experimental.enable_op_determinism()


def _epoch_lines(epochs: int, announce: Callable[[str], None]):
    """A Keras callback printing one line per epoch (for logs, where a live bar is noise)."""
    import keras

    class EpochLines(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            announce(
                f"epoch {epoch + 1}/{epochs}: loss {logs.get('loss', float('nan')):.4f}, "
                f"accuracy {logs.get('accuracy', float('nan')):.2%} "
                f"({time.perf_counter() - self.started:.1f} s)"
            )

    return EpochLines()


def train_reference(
    *,
    data_path: str | os.PathLike | None = None,
    epochs: int = DEFAULT_EPOCHS,
    seed: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: str = "none",
    announce: Callable[[str], None] = lambda message: None,
    download: bool | None = None,
) -> TrainingResult:
    """Train the reference solution on MNIST and report train and test accuracy.

    ``progress``: "bar" (Keras' live progress bar), "lines" (one ``announce``d line per epoch)
    or "none". ``announce`` also receives the data source before training starts.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    if progress not in PROGRESS_STYLES:
        raise ValueError(f"progress must be one of {', '.join(PROGRESS_STYLES)}, got {progress!r}")
    data = load_mnist(data_path, download=download)
    announce(f"data: {data.source.describe()}")
    (x_train, y_train), (x_test, y_test) = data
    if seed is not None:
        seed_everything(seed)

    from mnist_lab.solutions import digits

    started = time.perf_counter()
    train_inputs = digits.flatten(digits.normalize(x_train))
    test_inputs = digits.flatten(digits.normalize(x_test))
    model = digits.build_model()
    callbacks = [_epoch_lines(epochs, announce)] if progress == "lines" else []
    model.fit(
        train_inputs,
        y_train,
        epochs=epochs,
        batch_size=batch_size,
        verbose=1 if progress == "bar" else 0,
        callbacks=callbacks,
    )
    _, train_accuracy = model.evaluate(train_inputs, y_train, verbose=0)
    _, test_accuracy = model.evaluate(test_inputs, y_test, verbose=0)
    return TrainingResult(
        source=data.source,
        epochs=epochs,
        seed=seed,
        train_images=len(y_train),
        test_images=len(y_test),
        train_accuracy=float(train_accuracy),
        test_accuracy=float(test_accuracy),
        seconds=time.perf_counter() - started,
    )
