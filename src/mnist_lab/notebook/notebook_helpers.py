"""The machinery behind the exercise notebook: you do not need to read or change this file.

The notebook imports it in its first cell. It keeps TensorFlow's log lines out of the notebook,
loads your functions from digits.py (and reloads them whenever you save the file), turns the
results of the public checks into a short report, loads the MNIST data and draws the figures.
Everything the notebook teaches is in the notebook itself.

Importing this module first matters: TensorFlow writes its start-up and CUDA messages straight to
the process's standard error (file descriptor 2), which Jupyter shows in the notebook as pink
boxes. In a Jupyter kernel, this module points file descriptor 2 back at the terminal that
started Jupyter before TensorFlow loads, so those lines go there. Python's own warnings and
errors (including yours) still appear in the notebook.
"""

import io
import os
import sys


def _keep_tensorflow_logs_out_of_the_notebook() -> None:
    """Send what C++ code writes to file descriptor 2 to Jupyter's terminal, not the notebook."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # fewer lines in that terminal, too
    stream = sys.stderr
    if not type(stream).__module__.startswith("ipykernel"):
        return  # a terminal or a script: standard error is where it should be
    try:
        terminal = stream.fileno()  # ipykernel: its copy of the kernel's original stderr
    except (OSError, ValueError, io.UnsupportedOperation):
        return  # the kernel does not show file descriptor 2 in the notebook
    if terminal != 2:
        os.dup2(terminal, 2)


_keep_tensorflow_logs_out_of_the_notebook()

import math  # noqa: E402  (TensorFlow must load after the redirection above)
from pathlib import Path  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")  # hide TensorFlow's Python warnings about retracing

SEED = 42  # the same seed gives the same weights, curves and accuracy on every run
FUNCTIONS = ("normalize", "flatten", "build_model", "predict_digit", "confusion")
MAX_REPORTED_FAILURES = 3  # a failed check shows the reasons of at most this many cases
SAMPLE_PATH = Path("data") / "mnist_sample.npz"
RIGHT, WRONG = "#0072B2", "#D55E00"  # blue and vermilion: told apart with any colour vision
plt.rcParams.update({"figure.dpi": 100, "axes.titlesize": 12, "axes.labelsize": 11})


class StopHere(Exception):
    """Stops the notebook with a few clear lines instead of a long traceback."""

    def __init__(self, *lines):
        super().__init__("\n".join(lines))
        self.lines = lines

    def _render_traceback_(self):  # Jupyter shows these lines in place of the traceback
        return ["\x1b[1;31m⛔ The notebook stops here.\x1b[0m", *self.lines]


# --- your functions and their checks -------------------------------------------------------------


def load_digits():
    """Import digits.py (reloaded whenever you save it) and return its five functions."""
    try:
        import digits
    except SyntaxError as error:
        raise StopHere(
            f"digits.py has a syntax error on line {error.lineno}: {error.msg}",
            "Fix it, save digits.py, then run this cell again.",
        ) from None
    except ModuleNotFoundError as error:
        if error.name != "digits":
            raise
        raise StopHere(
            f"digits.py was not found in {Path.cwd()}.",
            "Keep this notebook in the same folder as digits.py.",
        ) from None
    except Exception as error:
        raise StopHere(
            f"importing digits.py failed: {type(error).__name__}: {error}",
            "Fix the code outside the functions, save digits.py, then run this cell again.",
        ) from None
    missing = [name for name in FUNCTIONS if not (Path("tests") / f"{name}.py").is_file()]
    if missing:
        raise StopHere(
            f"The public checks tests/{missing[0]}.py (and maybe others) are missing.",
            "Keep the tests folder of the exercise next to this notebook.",
        )
    _reload_when_saved("digits")
    tf.keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()  # the same numbers on every run
    print(
        f"Ready: TensorFlow {tf.__version__}, your functions from {Path(digits.__file__).name} "
        "(saved changes are loaded before each cell runs)."
    )
    return tuple(getattr(digits, name) for name in FUNCTIONS)


def _reload_when_saved(module: str) -> None:
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return  # plain Python: no cells to reload before
    shell.run_line_magic("load_ext", "autoreload")
    shell.run_line_magic("autoreload", "1")
    shell.run_line_magic("aimport", module)


def report(checked) -> None:
    """Print the result of each public check of one function; stop the notebook if one failed."""
    name, results = checked.name, checked.test_case_results
    failed = [result for result in results if not result.passed]
    summary = f"{name}: {len(results) - len(failed)} of {len(results)} public checks passed"
    if len(results) == 1:
        summary = summary.replace("checks", "check")
    if not failed:
        print(f"✅ {summary}")
        print("\n".join(f"   ✓ {case_title(result)}" for result in results))
        return
    if all("NotImplementedError" in result.message for result in failed):
        raise StopHere(
            f"{name} is not written yet: it still raises NotImplementedError.",
            f"Write {name} in digits.py, save the file, then run this cell again.",
        )
    lines = [f"{summary}, {len(failed)} failed:"]
    shown = 0
    for result in results:
        if result.passed:
            lines.append(f"  ✓ {case_title(result)}")
            continue
        lines.append(f"  ✗ {case_title(result)}")
        shown += 1
        if shown <= MAX_REPORTED_FAILURES:
            lines.extend(f"      {line}" for line in failure_reason(result.message))
    lines.append(f"Fix {name} in digits.py, save the file, then run this cell again.")
    raise StopHere(*lines)


def case_title(result) -> str:
    """A check's title: the first line of its docstring, or otter's name for it."""
    doc = getattr(getattr(result.test_case.body, "test_func", None), "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else result.test_case.name


def failure_reason(message: str, max_lines: int = 4) -> list[str]:
    """The useful lines of an otter failure message: the error, without otter's header."""
    reason, in_source = [], False
    for line in message.strip().splitlines():
        if line.startswith("❌"):
            continue
        if line.startswith("Error at line"):
            in_source = True  # the next indented lines quote the test's source
            continue
        if in_source and line.startswith("  "):
            continue
        in_source = False
        reason.append(line)
    if len(reason) > max_lines:
        reason = [*reason[: max_lines - 1], "..."]
    return reason


# --- the data ------------------------------------------------------------------------------------


def load_mnist(*, full: bool = False):
    """((x_train, y_train), (x_test, y_test)): the sample, or full MNIST when ``full``."""
    if full:
        arrays, source = _download_full_mnist(), "the full MNIST data set (keras.datasets.mnist)"
    else:
        keras_copy = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
        keras_copy = keras_copy / "datasets" / "mnist.npz"
        path = SAMPLE_PATH if SAMPLE_PATH.is_file() else keras_copy  # never a download
        if not path.is_file():
            raise StopHere(
                f"{SAMPLE_PATH.as_posix()} was not found next to this notebook.",
                "Put the data folder back, or set USE_FULL_MNIST = True (needs the internet once).",
            )
        with np.load(path) as data:
            arrays = (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])
        source = f"the sample {SAMPLE_PATH.as_posix()}"
        if path == keras_copy:
            source = f"the full MNIST data set (Keras's copy in {keras_copy})"
    (x_train, y_train), (x_test, y_test) = arrays
    print(f"Data: {source}")
    print(f"training images: {x_train.shape}, dtype {x_train.dtype}; labels: {y_train.shape}")
    print(f"test images:     {x_test.shape}, dtype {x_test.dtype}; labels: {y_test.shape}")
    return arrays


def _download_full_mnist():
    try:
        return tf.keras.datasets.mnist.load_data()  # cached in ~/.keras/datasets after once
    except Exception as error:  # Keras raises a bare Exception for a failed download
        reason = str(error).split(" -- ")[-1][:200]
        raise StopHere(
            "The full MNIST data set (about 11 MB) could not be downloaded:",
            f"  {reason}",
            "Connect to the internet and run this cell again, "
            "or set USE_FULL_MNIST = False to use the sample.",
        ) from None


# --- training ------------------------------------------------------------------------------------


class PrintEpoch(tf.keras.callbacks.Callback):
    """One line per epoch: loss and accuracy on the training and validation images.

    It replaces Keras's progress bar (verbose=1), whose timings change on every run.
    """

    def on_train_begin(self, logs=None):
        epochs, steps = self.params.get("epochs"), self.params.get("steps")
        print(f"{epochs} epochs of {steps} batches each")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        print(
            f"epoch {epoch + 1:>2}/{self.params.get('epochs')}: "
            f"training loss {logs.get('loss', math.nan):.4f}, "
            f"accuracy {logs.get('accuracy', math.nan):.2%} | "
            f"validation loss {logs.get('val_loss', math.nan):.4f}, "
            f"accuracy {logs.get('val_accuracy', math.nan):.2%}"
        )


def with_hidden_units(model, units: int):
    """A fresh copy of ``model`` whose first Dense layer has ``units`` neurons, compiled alike.

    With the number it already has, the model itself is returned (same starting weights).
    """
    dense = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Dense)]
    if dense and dense[0].units == units:
        return model

    def clone(layer):
        config = layer.get_config()
        if dense and layer is dense[0]:
            config["units"] = units
        return layer.__class__.from_config(config)

    copy = tf.keras.models.clone_model(model, clone_function=clone)
    copy.compile_from_config(model.get_compile_config())
    return copy


def what_happens(code: str, action) -> None:
    """Run ``action()``: print ``code``, then what came back or the error, in one line."""
    print(code)
    try:
        result = action()
    except Exception as error:
        print(f"   → {type(error).__name__}: {_short_message(error)}")
    else:
        shape = getattr(result, "shape", None)
        what = f"an array of shape {tuple(shape)}" if shape is not None else repr(result)
        print(f"   → no error: {what}")


def _short_message(error: Exception) -> str:
    """The line of an error message that says what was wrong (Keras prints it in bold)."""
    text = str(error)
    if "\x1b[1m" in text:
        text = text.split("\x1b[1m", 1)[1].split("\x1b[0m", 1)[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(("[[", "File ", "Detected at"))]
    message = lines[-1] if lines else type(error).__name__
    return message if len(message) <= 160 else message[:157] + "..."


# --- figures -------------------------------------------------------------------------------------


def show_digits(images, titles, *, title: str, wrong=None) -> None:
    """Up to 16 images in two rows of eight, each with its title (✗ and vermilion if wrong)."""
    fig, axes = plt.subplots(2, 8, figsize=(12, 4.2))
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < len(images):
            ax.imshow(images[index], cmap="gray", vmin=0, vmax=255)
            is_wrong = wrong is not None and wrong[index]
            ax.set_title(titles[index], fontsize=10, color=WRONG if is_wrong else "black")
    fig.suptitle(title)
    fig.tight_layout()
    plt.show()


def show_pixel_histograms(before, after) -> None:
    """The pixel values before and after normalize, side by side, on a log scale."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    panels = ((before, "Before normalize: grey levels 0..255"), (after, "After normalize: 0..1"))
    for ax, (values, label) in zip(axes, panels, strict=True):
        ax.hist(np.ravel(values), bins=32, color=RIGHT)
        ax.set(title=label, xlabel="pixel value", ylabel="number of pixels (log scale)")
        ax.set_yscale("log")
    fig.suptitle("Pixel values of 1,000 training images", y=1.0)
    fig.tight_layout()
    plt.show()


def show_flatten(image, row) -> None:
    """One image as a 28 × 28 grid, and the same values as one row of 784."""
    side = image.shape[0]
    fig = plt.figure(figsize=(13, 4.2))
    layout = fig.add_gridspec(2, 2, width_ratios=(1, 3.4), height_ratios=(1, 3))
    grid_ax = fig.add_subplot(layout[:, 0])
    grid_ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    grid_ax.set(title=f"Before: a {side} × {side} grid", xlabel="column", ylabel="row")
    strip_ax = fig.add_subplot(layout[0, 1])
    strip_ax.imshow(row[np.newaxis], cmap="gray", vmin=0, vmax=1, aspect="auto")
    strip_ax.set(title=f"After flatten: one row of {row.size} values", yticks=[])
    strip_ax.tick_params(labelbottom=False)
    line_ax = fig.add_subplot(layout[1, 1], sharex=strip_ax)
    line_ax.plot(row, color=RIGHT, linewidth=1)
    for start in range(0, row.size, side):
        line_ax.axvline(start, color="lightgray", linewidth=0.5, zorder=0)
    line_ax.set(
        xlabel=f"position in the row (grey lines: where each of the {side} image rows starts)",
        ylabel="pixel value",
    )
    fig.tight_layout()
    plt.show()


def show_history(history, *, title: str) -> None:
    """Loss and accuracy per epoch, training and validation; marks the lowest validation loss."""
    curves = history.history
    epochs = np.arange(1, len(curves["loss"]) + 1)
    best = int(np.argmin(curves["val_loss"])) + 1 if "val_loss" in curves else None
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        if metric not in curves:
            continue
        training = "training (average over the epoch)"
        ax.plot(epochs, curves[metric], "o-", color=RIGHT, label=training)
        if f"val_{metric}" in curves:
            ax.plot(epochs, curves[f"val_{metric}"], "s--", color=WRONG, label="validation")
        if best is not None and len(epochs) > 5:
            ax.axvline(best, color="gray", linestyle=":", label=f"lowest validation loss ({best})")
        ticks = epochs if len(epochs) <= 10 else epochs[::2]
        ax.set(title=f"{metric.capitalize()} per epoch", xlabel="epoch", ylabel=metric)
        ax.set_xticks(ticks)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    plt.show()


def show_probabilities(images, probabilities, labels, captions) -> None:
    """Each image next to a bar chart of the ten probabilities the model gives it."""
    fig, axes = plt.subplots(
        len(images), 2, figsize=(10, 2.4 * len(images)), width_ratios=(1, 4), squeeze=False
    )
    rows = zip(axes, images, probabilities, labels, captions, strict=True)
    for (image_ax, bar_ax), image, p, label, caption in rows:
        guess = int(np.argmax(p))
        image_ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        image_ax.set_title(f"{caption}\ntrue digit {label}", fontsize=10)
        image_ax.axis("off")
        colours = [RIGHT if digit == label else "lightgray" for digit in range(p.size)]
        if guess != label:
            colours[guess] = WRONG
        bar_ax.bar(range(p.size), p, color=colours)
        mark = "✓" if guess == label else "✗"
        bar_ax.set_title(f"np.argmax → {guess} {mark}  (probability {p[guess]:.3f})")
        bar_ax.set(xticks=range(p.size), ylim=(0, 1.05), xlabel="digit", ylabel="probability")
    fig.tight_layout()
    plt.show()


def show_confusion(matrix) -> None:
    """The confusion matrix with the mistakes on their own colour scale, and recall per digit."""
    matrix = np.asarray(matrix)
    classes = matrix.shape[0]
    on_diagonal = np.eye(classes, dtype=bool)
    mistakes = np.ma.masked_array(matrix, mask=on_diagonal)
    fig, ax = plt.subplots(figsize=(8.5, 7))
    ax.imshow(np.where(on_diagonal, 1.0, np.nan), cmap="Greys", vmin=0, vmax=5)  # light grey
    top = max(int(mistakes.max() or 0), 1)
    colours = plt.get_cmap("Oranges").with_extremes(under="white")  # no mistakes: white
    image = ax.imshow(mistakes, cmap=colours, vmin=0.5, vmax=top)
    for true in range(classes):
        for predicted in range(classes):
            count = int(matrix[true, predicted])
            strong = not on_diagonal[true, predicted] and count > 0.6 * top
            weight = "bold" if on_diagonal[true, predicted] else "normal"
            ax.text(predicted, true, str(count), ha="center", va="center", fontsize=9,
                    color="white" if strong else "black", fontweight=weight)  # fmt: skip
        total = matrix[true].sum()
        recall = f"{matrix[true, true] / total:.0%}" if total else "–"
        ax.text(classes - 0.2, true, recall, ha="left", va="center", fontsize=9)
    ax.text(classes - 0.2, -0.8, "recall", ha="left", va="center", fontsize=9)
    ax.set(
        title="Confusion matrix of the test images (diagonal: correct, in bold)",
        xlabel="predicted digit",
        ylabel="true digit",
        xticks=range(classes),
        yticks=range(classes),
    )
    fig.colorbar(image, ax=ax, label="number of test images (mistakes only)", pad=0.09)
    fig.tight_layout()
    plt.show()
