"""Source of the student notebook mnist_digits.ipynb, in jupytext's "percent" format.

Every ``# %%`` line starts a code cell and every ``# %% [markdown]`` line a Markdown cell whose
lines are comments (``# `` is stripped). Everything above the first cell marker, this docstring
included, is not part of the notebook. ``mnist_lab.notebook.write_notebook`` turns this file into
the notebook; edit the notebook here, never the generated .ipynb. The notebook runs in the
student's folder next to digits.py, tests/ and data/, where mnist_lab is NOT installed: it may
only use numpy, tensorflow, matplotlib, otter and IPython.
"""
# ruff: noqa: E402

# %% [markdown]
# # Handwritten digits with a neural network (MNIST)
#
# In this notebook you train a small neural network that recognises handwritten digits, using
# **your own functions** from `digits.py`:
#
# | Function | What it does |
# |---|---|
# | `normalize(images)` | scales grey levels from 0..255 to 0..1 |
# | `flatten(images)` | turns each 28 × 28 image into one row of 784 values |
# | `build_model()` | creates and compiles the network |
# | `confusion(y_true, y_pred)` | counts which digit was predicted as which |
# | `predict_digit(model, image)` | says which digit one raw image shows |
#
# **How to work:** run the cells from top to bottom (Shift+Enter). Before a function is used,
# a check cell runs its public checks. If a check fails, the notebook **stops there** with a
# short message: open `digits.py`, complete or fix that function, save the file, and run the
# check cell again (the notebook reloads `digits.py` by itself). The notebook ends with the
# questions of the exercise; answer them in the quiz page `quiz.html`.
#
# Keep this notebook in its folder: it needs `digits.py`, the `tests/` folder (the public
# checks) and `data/mnist_sample.npz` next to it.

# %%
# Setup: run this cell first. You do not need to change it.
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's start-up messages

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import otter
import tensorflow as tf
from IPython import get_ipython

SEED = 42  # the same seed gives the same weights, curves and accuracy on every run
FUNCTIONS = ("normalize", "flatten", "build_model", "confusion", "predict_digit")
plt.rcParams.update({"figure.dpi": 100, "axes.titlesize": 12, "axes.labelsize": 11})
MAX_REPORTED_FAILURES = 3  # a failed check shows at most this many failing cases
tf.get_logger().setLevel("ERROR")  # hide TensorFlow's Python warnings about retracing


class StopHere(Exception):
    """Stops the notebook with a few clear lines instead of a long traceback."""

    def __init__(self, *lines):
        super().__init__("\n".join(lines))
        self.lines = lines

    def _render_traceback_(self):  # Jupyter shows these lines in place of the traceback
        return ["\x1b[1;31m⛔ The notebook stops here.\x1b[0m", *self.lines]


def failure_reason(message, max_lines=6):
    """The useful lines of an otter failure message: the error, without otter's header."""
    lines = message.strip().splitlines()
    reason, in_source = [], False
    for line in lines:
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


def case_title(result):
    """A check's title: the first line of its docstring, or otter's name for it."""
    doc = getattr(getattr(result.test_case.body, "test_func", None), "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else result.test_case.name


def stop_unless_passed(checked):
    """Report the public checks of one function; stop the notebook if any of them failed."""
    results = checked.test_case_results
    failed = [result for result in results if not result.passed]
    if not failed:
        checks = "1 public check" if len(results) == 1 else f"all {len(results)} public checks"
        print(f"✅ {checked.name}: {checks} passed.")
        return
    name = checked.name
    if all("NotImplementedError" in result.message for result in failed):
        raise StopHere(
            f"{name} is not written yet: it still raises NotImplementedError.",
            f"Write {name} in digits.py, save the file, then run this cell again.",
        )
    lines = [f"{name}: {len(failed)} of {len(results)} public checks failed."]
    for result in failed[:MAX_REPORTED_FAILURES]:
        lines.append(f"  ✗ {case_title(result)}")
        lines.extend(f"      {line}" for line in failure_reason(result.message))
    if len(failed) > MAX_REPORTED_FAILURES:
        lines.append(f"  ... and {len(failed) - MAX_REPORTED_FAILURES} more")
    lines.append(f"Fix {name} in digits.py, save the file, then run this cell again.")
    raise StopHere(*lines)


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

missing_checks = [name for name in FUNCTIONS if not (Path("tests") / f"{name}.py").is_file()]
if missing_checks:
    raise StopHere(
        f"The public checks tests/{missing_checks[0]}.py (and maybe others) are missing.",
        "Keep the tests folder of the exercise next to this notebook.",
    )

# Reload digits.py before each cell when you have saved changes to it.
ipython = get_ipython()
ipython.run_line_magic("load_ext", "autoreload")
ipython.run_line_magic("autoreload", "1")
ipython.run_line_magic("aimport", "digits")

from digits import build_model, confusion, flatten, normalize, predict_digit

grader = otter.Notebook(tests_dir="tests")
tf.keras.utils.set_random_seed(SEED)
tf.config.experimental.enable_op_determinism()
print(f"Ready: TensorFlow {tf.__version__}, your functions from {Path(digits.__file__).name}.")

# %% [markdown]
# ## 1. The data
#
# MNIST holds 70,000 images of handwritten digits (60,000 for training, 10,000 for testing),
# each 28 × 28 pixels with grey levels from 0 (black) to 255 (white), and the digit each one
# shows (its *label*). By default this notebook uses the sample in `data/mnist_sample.npz`: the
# first 10,000 training and 2,000 test images. It works offline and trains in seconds. Set
# `USE_FULL_MNIST = True` to use all 70,000 images instead; Keras downloads them (about 11 MB)
# the first time, so that needs the internet once.

# %%
USE_FULL_MNIST = False
SAMPLE_PATH = Path("data") / "mnist_sample.npz"
KERAS_CACHE = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets/mnist.npz"

if USE_FULL_MNIST:
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
    data_source = "the full MNIST data set (keras.datasets.mnist)"
else:
    # The sample; without it, a copy Keras downloaded before. Never a download: works offline.
    data_path = SAMPLE_PATH if SAMPLE_PATH.is_file() else KERAS_CACHE
    if not data_path.is_file():
        raise StopHere(
            f"{SAMPLE_PATH.as_posix()} was not found next to this notebook.",
            "Put the data folder back, or set USE_FULL_MNIST = True (needs the internet once).",
        )
    with np.load(data_path) as arrays:
        x_train, y_train = arrays["x_train"], arrays["y_train"]
        x_test, y_test = arrays["x_test"], arrays["y_test"]
    data_source = f"the sample {SAMPLE_PATH.as_posix()}"
    if data_path == KERAS_CACHE:
        data_source = f"the full MNIST data set (Keras' copy in {KERAS_CACHE})"

print(f"Data: {data_source}")
print(f"Training images: {x_train.shape}, dtype {x_train.dtype}; labels: {y_train.shape}")
print(f"Test images:     {x_test.shape}, dtype {x_test.dtype}; labels: {y_test.shape}")

# %% [markdown]
# Each image is a 28 × 28 array of numbers. Here are the first 16 training images with their
# labels:

# %%
fig, axes = plt.subplots(2, 8, figsize=(12, 3.6))
for index, ax in enumerate(axes.flat):
    ax.imshow(x_train[index], cmap="gray", vmin=0, vmax=255)
    ax.set_title(f"label {y_train[index]}")
    ax.axis("off")
fig.suptitle("The first 16 training images and their labels")
plt.show()

# %% [markdown]
# ## 2. `normalize`: pixel values from 0..255 to 0..1
#
# Neural networks learn best from small input values of similar size. `normalize` divides
# every grey level by 255, so black stays 0.0 and white becomes 1.0.
#
# Complete `normalize` in `digits.py`, save the file, and run the check:

# %%
stop_unless_passed(grader.check("normalize"))

# %%
x_train_norm = normalize(x_train)
x_test_norm = normalize(x_test)
print(f"before: dtype {x_train.dtype}, values {x_train.min()} to {x_train.max()}")
print(f"after:  dtype {x_train_norm.dtype}, values {x_train_norm.min()} to {x_train_norm.max()}")

fig, (before, after) = plt.subplots(1, 2, figsize=(12, 3.8))
before.hist(x_train[:1000].ravel(), bins=32, color="tab:gray")
before.set(title="Before normalize: grey levels 0..255", xlabel="pixel value")
after.hist(x_train_norm[:1000].ravel(), bins=32, color="tab:blue")
after.set(title="After normalize: values 0..1", xlabel="pixel value")
for ax in (before, after):
    ax.set(ylabel="number of pixels (log scale)", yscale="log")
fig.suptitle("Pixel values of 1,000 training images (most pixels are black background)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. `flatten`: from a 28 × 28 grid to a row of 784 values
#
# The first layer of our network is a `Dense` layer: it expects each image as one flat row of
# numbers. `flatten` reads each image row by row (top row first) into a row of 28 × 28 = 784
# values; the shape of the data goes from (n, 28, 28) to (n, 784).
#
# Complete `flatten` in `digits.py`, save the file, and run the check:

# %%
stop_unless_passed(grader.check("flatten"))

# %%
x_train_flat = flatten(x_train_norm)
x_test_flat = flatten(x_test_norm)
print(f"training images: {x_train_norm.shape} -> {x_train_flat.shape}")
print(f"test images:     {x_test_norm.shape} -> {x_test_flat.shape}")

side = x_train_norm.shape[1]
fig = plt.figure(figsize=(13, 4.2))
layout = fig.add_gridspec(2, 2, width_ratios=(1, 3.4), height_ratios=(1, 3))
grid_ax = fig.add_subplot(layout[:, 0])
grid_ax.imshow(x_train_norm[0], cmap="gray", vmin=0, vmax=1)
grid_ax.set(title=f"Before: a {side} × {side} grid", xlabel="column", ylabel="row")
strip_ax = fig.add_subplot(layout[0, 1])
strip_ax.imshow(x_train_flat[:1], cmap="gray", vmin=0, vmax=1, aspect="auto")
strip_ax.set(title=f"After flatten: one row of {x_train_flat.shape[1]} values", yticks=[])
strip_ax.tick_params(labelbottom=False)
line_ax = fig.add_subplot(layout[1, 1], sharex=strip_ax)
line_ax.plot(x_train_flat[0], color="tab:blue", linewidth=1)
for start in range(0, x_train_flat.shape[1], side):
    line_ax.axvline(start, color="lightgray", linewidth=0.5, zorder=0)
line_ax.set(
    xlabel=f"position in the row (grey lines: the start of each of the {side} image rows)",
    ylabel="pixel value",
)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 4. `build_model`: the network
#
# The network has a hidden `Dense` layer of 128 neurons (ReLU) and an output `Dense` layer of
# 10 neurons (softmax), one per digit: it outputs 10 probabilities that add up to 1.
#
# Complete `build_model` in `digits.py`, save the file, and run the check:

# %%
stop_unless_passed(grader.check("build_model"))

# %%
tf.keras.backend.clear_session()  # forget the models the checks built (and their names)
tf.keras.utils.set_random_seed(SEED)
model = build_model()
model.summary()

for layer in model.layers:
    shapes = [tuple(weights.shape) for weights in layer.get_weights()]
    if len(shapes) == 2:
        (inputs, units), _ = shapes
        print(
            f"{layer.name}: {inputs} × {units} weights + {units} biases "
            f"= {inputs * units + units:,} parameters"
        )
parameter_count = model.count_params()
print(f"Total: {parameter_count:,} parameters")

# %% [markdown]
# ## 5. Training
#
# `fit` shows the training images to the network several times (*epochs*), in small groups
# (*batches*), and after each batch nudges the parameters to lower the loss. The last 10 % of
# the training images are kept aside as a *validation* set: the network never learns from them,
# so they show how well it does on images it has not seen.

# %%
EPOCHS = 5
BATCH_SIZE = 64
VALIDATION_SPLIT = 0.1


class ShowEpoch(tf.keras.callbacks.Callback):
    """Prints one line per epoch: loss and accuracy on the training and validation images."""

    def on_epoch_end(self, epoch, logs=None):
        print(
            f"epoch {epoch + 1}/{EPOCHS}: "
            f"training loss {logs['loss']:.4f}, accuracy {logs['accuracy']:.2%} | "
            f"validation loss {logs['val_loss']:.4f}, accuracy {logs['val_accuracy']:.2%}"
        )


tf.keras.utils.set_random_seed(SEED)
history = model.fit(
    x_train_flat,
    y_train,
    epochs=EPOCHS,
    batch_size=BATCH_SIZE,
    validation_split=VALIDATION_SPLIT,
    verbose=0,
    callbacks=[ShowEpoch()],
)

# %%
epochs = np.arange(1, len(history.history["loss"]) + 1)
fig, (loss_ax, accuracy_ax) = plt.subplots(1, 2, figsize=(12, 4))
for ax, metric, label in ((loss_ax, "loss", "loss"), (accuracy_ax, "accuracy", "accuracy")):
    ax.plot(epochs, history.history[metric], "o-", label="training")
    ax.plot(epochs, history.history[f"val_{metric}"], "s--", label="validation")
    ax.set(title=f"{label.capitalize()} per epoch", xlabel="epoch", ylabel=label, xticks=epochs)
    ax.grid(alpha=0.3)
    ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 6. Test accuracy
#
# The test images were never used in training, not even for validation: they give an honest
# estimate of how well the network recognises new handwriting.

# %%
test_loss, test_accuracy = model.evaluate(x_test_flat, y_test, verbose=0)
print(f"Training accuracy (last epoch):   {history.history['accuracy'][-1]:.2%}")
print(f"Validation accuracy (last epoch): {history.history['val_accuracy'][-1]:.2%}")
print(f"Test accuracy: {test_accuracy:.2%} on {len(y_test):,} test images")

# %% [markdown]
# ## 7. `confusion`: which digits are mixed up?
#
# A confusion matrix counts, for every true digit (row), how often the network predicted each
# digit (column). Correct predictions are on the diagonal; everything else is a mistake.
#
# Complete `confusion` in `digits.py`, save the file, and run the check:

# %%
stop_unless_passed(grader.check("confusion"))

# %%
probabilities = model.predict(x_test_flat, verbose=0)
y_pred = np.argmax(probabilities, axis=1)  # the digit with the highest probability
matrix = confusion(y_test, y_pred)
num_classes = matrix.shape[0]

fig, ax = plt.subplots(figsize=(7.5, 6.5))
image = ax.imshow(matrix, cmap="Blues")
for true in range(num_classes):
    for predicted in range(num_classes):
        count = matrix[true, predicted]
        colour = "white" if count > matrix.max() / 2 else "black"
        ax.text(predicted, true, str(count), ha="center", va="center", color=colour, fontsize=9)
ax.set(
    title="Confusion matrix of the test images",
    xlabel="predicted digit",
    ylabel="true digit",
    xticks=range(num_classes),
    yticks=range(num_classes),
)
fig.colorbar(image, ax=ax, label="number of test images")
fig.tight_layout()
plt.show()

# %% [markdown]
# The mistakes the network makes most often (the largest numbers off the diagonal):

# %%
mistakes = matrix.copy()
np.fill_diagonal(mistakes, 0)
for flat_index in np.argsort(mistakes, axis=None, kind="stable")[::-1][:5]:
    true, predicted = divmod(int(flat_index), num_classes)
    count, total = mistakes[true, predicted], matrix[true].sum()
    print(f"a {true} taken for a {predicted}: {count} times ({count / total:.1%} of the {true}s)")

# %% [markdown]
# Some of the misclassified test images, with their true and predicted labels:

# %%
wrong = np.flatnonzero(y_pred != y_test)
fig, axes = plt.subplots(2, 8, figsize=(12, 4.8))
for ax, index in zip(axes.flat, wrong, strict=False):
    ax.imshow(x_test[index], cmap="gray", vmin=0, vmax=255)
    ax.set_title(f"true {y_test[index]}\npredicted {y_pred[index]}", color="tab:red", fontsize=10)
for ax in axes.flat:
    ax.axis("off")
fig.suptitle(f"{len(wrong)} of {len(y_test):,} test images are misclassified; the first 16")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 8. `predict_digit`: one raw image in, one digit out
#
# To use the network on a new image, `predict_digit` must prepare it exactly like the training
# images (normalize, flatten a batch of one), ask the model for the 10 probabilities, and pick
# the most probable digit with `np.argmax`.
#
# Complete `predict_digit` in `digits.py`, save the file, and run the check:

# %%
stop_unless_passed(grader.check("predict_digit"))

# %%
fig, axes = plt.subplots(1, 8, figsize=(12, 2.4))
for index, ax in enumerate(axes):
    digit = predict_digit(model, x_test[index])  # the raw image, grey levels 0..255
    correct = digit == y_test[index]
    ax.imshow(x_test[index], cmap="gray", vmin=0, vmax=255)
    colour = "tab:green" if correct else "tab:red"
    ax.set_title(f"predicted {digit}\n(true {y_test[index]})", color=colour)
    ax.axis("off")
fig.suptitle("predict_digit on the first 8 test images")
fig.tight_layout()
plt.show()

# %% [markdown]
# What happens with an image of the wrong shape, for example a colour image of 28 × 28 × 3
# (red, green and blue values for every pixel)? It holds 2,352 values, not 784, so it cannot
# become one row of the network's input. `predict_digit` should refuse it with a `ValueError`
# that says which shape it expects:

# %%
colour_image = np.stack([x_test[0]] * 3, axis=-1)  # the same digit, as an RGB image
print(f"image shape: {colour_image.shape}")
try:
    predict_digit(model, colour_image)
except ValueError as error:
    print(f"ValueError: {error}")
else:
    print("No error: predict_digit should raise a ValueError for this shape (see its docstring).")

# %% [markdown]
# ## 9. Questions
#
# Think about these questions; the notebook above helps with each of them:
#
# 1. Why do the image data need to be normalized (e.g., divided by 255.0)?
# 2. Why must we split the data into training and test sets?
# 3. The MNIST dataset contains grayscale images with a resolution of 28×28 pixels. If the
#    model uses a fully connected (Dense) input layer, how many input values must be provided
#    to the model for each image?
# 4. What is the purpose of a Dense layer with 10 neurons in the model?
# 5. What is the difference between a perceptron and a Dense layer?
# 6. Why is training accuracy usually higher than test accuracy?
# 7. What does a confusion matrix tell you about the model?
# 8. Why is `np.argmax()` used when predicting digits?
# 9. What happens if you feed an image with incorrect dimensions (e.g., 28 × 28 × 3 instead of
#    28 × 28 × 1)?
#
# **Answer them in the quiz:** open [quiz.html](quiz.html) (in the same folder as this
# notebook) in your web browser.
