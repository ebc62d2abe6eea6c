"""Source of the student notebook mnist_digits.ipynb, in jupytext's "percent" format.

Every ``# %%`` line starts a code cell and every ``# %% [markdown]`` line a Markdown cell whose
lines are comments (``# `` is stripped). Everything above the first cell marker, this docstring
included, is not part of the notebook. ``mnist_lab.notebook.write_notebook`` turns this file into
the notebook; edit the notebook here, never the generated .ipynb. The notebook runs in the
student's folder next to digits.py, notebook_helpers.py, tests/ and data/, where mnist_lab is NOT
installed: it may only use numpy, tensorflow, otter and notebook_helpers (the machinery students
need not read: TensorFlow's log lines, reloading digits.py, the check reports, the figures).

Every fact the text states was checked by running it (TensorFlow 2.21, Keras 3.15, the sample);
the text quotes numbers only as "about", because the printed ones are what students compare.
"""

# %% [markdown]
# # Handwritten digits with a neural network (MNIST)
#
# In this notebook you train a small neural network that recognizes handwritten digits, using
# **your own functions** from `digits.py`:
#
# | Function | What it does | Section |
# |---|---|---|
# | `normalize(images)` | scales grey levels from 0..255 to 0..1 | 3 |
# | `flatten(images)` | turns each 28 × 28 image into one row of 784 values | 4 |
# | `build_model()` | creates and compiles the network | 5, 6 |
# | `predict_digit(model, image)` | says which digit one raw image shows | 9 |
# | `confusion(y_true, y_pred)` | counts which digit was predicted as which | 11 |
#
# The notebook follows the workflow of the exercise: load and inspect the data, normalize,
# flatten, build and compile the model, train it, evaluate it, predict digits, and read the
# confusion matrix. Then it trains for longer to show over-fitting, and ends with experiments
# for you to try and the questions of the exercise.
#
# **How to work:** run the cells from top to bottom (Shift+Enter). Before one of your functions
# is used, a check cell runs its public checks and lists them (✓ passed, ✗ failed). If a check
# fails, the notebook **stops there** with a short message: open `digits.py`, complete or fix
# that function, save the file, and run the check cell again. The notebook loads your saved
# `digits.py` by itself; there is no need to restart anything. The public checks test the
# contract of each function; the autograder runs more, hidden, checks.
#
# After each result, **"What to look at"** says what the numbers or the figure show. Your
# numbers can differ a little from the ones the text mentions; compare with what you see.
#
# Keep this notebook in its folder: it needs `digits.py`, `notebook_helpers.py` (the notebook's
# machinery), the `tests/` folder (the public checks) and `data/mnist_sample.npz` next to it.

# %%
# Setup: run this cell first. You do not need to change it. The machinery behind the notebook
# (keeping TensorFlow's log lines out of it, loading digits.py again whenever you save it, the
# check reports and the figures) is in notebook_helpers.py, next to digits.py.
import notebook_helpers as helpers  # first: it must come before TensorFlow loads
import numpy as np
import otter
import tensorflow as tf

normalize, flatten, build_model, predict_digit, confusion = helpers.load_digits()
grader = otter.Notebook(tests_dir="tests")  # runs the public checks in tests/
SEED = helpers.SEED  # the same seed gives the same weights, curves and accuracy on every run

# %% [markdown]
# ## 1. Load the data
#
# MNIST holds 70,000 images of handwritten digits, each 28 × 28 pixels, and the digit each one
# shows (its *label*). It comes already split into 60,000 training images and 10,000 test
# images, and the people who wrote the test digits are not among the writers of the training
# digits: the test set measures how well a model reads the handwriting of *new* people.
#
# Each pixel is an integer from 0 to 255 that says how much ink it holds: **0 = background,
# 255 = full ink**. Drawn with a grey colour map, as below, the background looks black and the
# digit white.
#
# This notebook uses the sample in `data/mnist_sample.npz`: the first 10,000 training and the
# first 2,000 test images. It works offline and trains in seconds. Experiment 5 in section 13
# uses all 70,000 images.

# %%
USE_FULL_MNIST = False  # True: all 70,000 images (Keras downloads 11 MB once; see section 13)

(x_train, y_train), (x_test, y_test) = helpers.load_mnist(full=USE_FULL_MNIST)

# %% [markdown]
# **What to look at.** The images come as an array of shape (n, 28, 28): n images of 28 rows
# and 28 columns of `uint8` grey levels. The labels are one digit per image, shape (n,).

# %% [markdown]
# ## 2. Inspect the data
#
# An image is a 28 × 28 array of numbers. The cell prints the middle of the first training
# image, counts the images of each digit, and shows the first 16 images with their labels.

# %%
print(f"the first training image (label {y_train[0]}), rows and columns 4 to 23:")
with np.printoptions(linewidth=120):
    print(x_train[0, 4:24, 4:24])
print("training images of each digit 0..9:", np.bincount(y_train, minlength=10))

titles = [f"label {label}" for label in y_train[:16]]
helpers.show_digits(x_train[:16], titles, title="The first 16 training images and their labels")

# %% [markdown]
# **What to look at.** The digit is where the numbers are large: 0 is background, values up to
# 255 are ink, and the values in between along the edges come from anti-aliasing when the
# digits were scaled to fit the image. Every digit has roughly a tenth of the images, so a model
# that guesses at random is right about 10 % of the time: the baseline any real model must beat.

# %% [markdown]
# ## 3. `normalize`: pixel values from 0..255 to 0..1
#
# A neuron multiplies each input by a weight and adds them up. Keras starts the first layer with
# small random weights (between about −0.08 and +0.08 here), chosen for inputs of about size 1,
# and Adam changes each weight by roughly 0.001 per step. Raw grey levels up to 255 make every
# first sum 255 times larger: the untrained network is wildly over-confident and training is
# rough (experiment 1 in section 13 shows it). All MNIST pixels already share one range, 0..255;
# what normalizing changes is the **size** of the numbers.
#
# The pixels come as `uint8`: whole numbers from 0 to 255, one byte each. Arithmetic on them
# stays in `uint8`, so results above 255 wrap around, and dividing the array *in place* fails
# because the results are not whole numbers:

# %%
pixels = np.array([200, 100, 255], dtype=np.uint8)
print(f"{pixels} + 100 = {pixels + 100}   (uint8 wraps around above 255)")
try:
    pixels /= 255
except TypeError as error:
    print(f"pixels /= 255 -> {type(error).__name__}: {error}")

# %% [markdown]
# So `normalize` divides every grey level by 255 and returns a **new** floating-point array,
# leaving its input alone: 0 stays 0.0 and full ink becomes 1.0.
#
# Complete `normalize` in `digits.py`, save the file, and run the check:

# %%
helpers.report(grader.check("normalize"))

# %%
x_train_norm = normalize(x_train)
x_test_norm = normalize(x_test)
print(f"before: dtype {x_train.dtype}, values {x_train.min()} to {x_train.max()}")
print(f"after:  dtype {x_train_norm.dtype}, values {x_train_norm.min()} to {x_train_norm.max()}")
print(f"pixels that are background (exactly 0): {np.mean(x_train == 0):.0%}")
helpers.show_pixel_histograms(x_train[:1000], x_train_norm[:1000])

# %% [markdown]
# **What to look at.** The two histograms have exactly the same shape: only the numbers on the
# x-axis changed. Normalizing rescales the values; it removes no information. The y-axis is
# logarithmic (each grid step is 10 times more pixels) because most pixels are background: on
# an ordinary axis the bar at 0 would flatten all the others.

# %% [markdown]
# ## 4. `flatten`: from a 28 × 28 grid to a row of 784 values
#
# A `Dense` layer combines the values along the **last axis** of its input. Given images of
# shape (n, 28, 28), it would work on each row of 28 pixels separately; for every neuron to see
# the whole image, each image must be one flat row of 784 values. `flatten` reads each image row
# by row (the 28 pixels of the top row first, then the second row, and so on: NumPy's default
# "C" order) into 28 × 28 = 784 values. The data go from shape (n, 28, 28) to (n, 784).
#
# Complete `flatten` in `digits.py`, save the file, and run the check:

# %%
helpers.report(grader.check("flatten"))

# %%
x_train_flat = flatten(x_train_norm)
x_test_flat = flatten(x_test_norm)
print(f"training images: {x_train_norm.shape} -> {x_train_flat.shape}")
print(f"test images:     {x_test_norm.shape} -> {x_test_flat.shape}")
back = x_train_flat[0].reshape(28, 28)  # cut the row into 28 rows of 28 again, row by row
print("the row, cut back into 28 rows, is the image again:", np.array_equal(back, x_train_norm[0]))
helpers.show_flatten(x_train_norm[0], x_train_flat[0])

# %% [markdown]
# **What to look at.** In the row, the ink comes in short bursts, one for each image row the
# digit crosses, 28 positions apart. If the check above printed `False`, your `flatten` reads
# the pixels in another order (for example column by column, `order="F"`): fix it, because the
# contract says row by row.
#
# Flattening keeps every value but loses which pixels were **neighbours**: a pixel and the one
# below it end up 28 places apart. A `Dense` layer does not know which inputs are neighbours; it
# would learn just as well if the pixels of every image were shuffled in the same way
# (experiment 4 in section 13). Convolutional networks keep the grid and use the neighbourhood,
# which is why they do better on images.

# %% [markdown]
# ## 5. `build_model`: layers of neurons
#
# The network: 784 input values → a hidden `Dense` layer of 128 neurons with the ReLU activation
# → an output `Dense` layer of 10 neurons with softmax, one neuron per digit. The input is
# declared with `keras.Input(shape=(784,))`: it has no neurons and no weights. `build_model`
# also compiles the model (section 6).
#
# Complete `build_model` in `digits.py`, save the file, and run the check:

# %%
helpers.report(grader.check("build_model"))

# %%
tf.keras.backend.clear_session()  # forget the models the checks built (and their names)
tf.keras.utils.set_random_seed(SEED)
model = build_model()
model.summary()

dense_layers = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Dense)]
for layer in dense_layers:
    inputs, units = layer.kernel.shape
    parameters = inputs * units + units
    print(f"{layer.name}: {inputs} × {units} weights + {units} biases = {parameters:,} parameters")
print(f"Total: {model.count_params():,} parameters")

# %% [markdown]
# **What to look at.** Every hidden neuron has one weight per input value plus a bias, 784 + 1;
# every output neuron one weight per hidden neuron plus a bias, 128 + 1. In the output shapes,
# `None` stands for the batch size: the model takes any number of images at once.

# %% [markdown]
# ### A perceptron and a `Dense` layer (slide question 5)
#
# A **perceptron** is a single artificial neuron: it multiplies the inputs x by its weights w,
# adds a bias b and outputs step(w · x + b), that is 1 or 0 ("yes" or "no"). It is trained with
# the perceptron learning rule, which changes w only after a wrong answer.
#
# A **`Dense` layer** is many neurons side by side, each connected to every input. Their
# weights form a matrix W with one column per neuron, and the layer computes f(xW + b) for a
# whole batch of inputs x at once. Here W has shape (784, 128). Keras's `Dense` applies no
# activation unless you give one; ours use ReLU, max(0, z), and softmax, which turns the 10
# outputs into probabilities that add up to 1 (each output depends on all ten). Unlike the step
# function, these have useful gradients, so the whole network is trained by gradient descent
# with backpropagation.
#
# A network of `Dense` layers is called a **multi-layer perceptron** (MLP): that is what you
# built. The non-linear activation between the layers matters: without it, two layers would
# collapse into one linear map, (xW₁ + b₁)W₂ + b₂ = x(W₁W₂) + (b₁W₂ + b₂), and could draw only
# straight decision boundaries. The cell computes the hidden layer by hand and uses one of its
# neurons as a perceptron:

# %%
hidden = dense_layers[0]
W, b = hidden.kernel.numpy(), hidden.bias.numpy()
print(f"hidden layer: W {W.shape}, b {b.shape}, activation {hidden.activation.__name__}")
x = x_train_flat[:1]  # one image as a batch of one: shape (1, 784)
by_hand = np.maximum(x @ W + b, 0)  # relu(x W + b), computed with NumPy
print(f"x {x.shape} @ W {W.shape} + b -> {by_hand.shape}")
print("NumPy and Keras give the same 128 outputs:", np.allclose(by_hand, hidden(x), atol=1e-5))
z = x[0] @ W[:, 0] + b[0]  # neuron 0 alone: one column of W and one bias
print(f"neuron 0: w · x + b = {z:.3f}; as a perceptron, step(w · x + b) = {int(z > 0)}")

# %% [markdown]
# **What to look at.** Computed by hand, the layer gives exactly what Keras gives: a `Dense`
# layer is a matrix product, a bias and an activation, nothing more. The weights are still the
# random starting ones; training (section 7) changes them.

# %% [markdown]
# ## 6. `compile`: what the model learns from
#
# `build_model` ends with `model.compile(...)`, which chooses three things:
#
# - the **loss**, the number that training makes smaller. *Sparse categorical cross-entropy*
#   gives each image the loss −ln p, where p is the probability the model gives to the **true**
#   digit: 0 when p = 1, and large when p is small. *Sparse* means the labels are plain digits
#   (7), not one-hot vectors (0, 0, 0, 0, 0, 0, 0, 1, 0, 0). The loss of a batch is the mean.
# - the **optimizer**, how the weights change. Adam follows the gradient of each batch's loss
#   with steps of about its learning rate, 0.001, scaled for every weight by running averages
#   of its past gradients.
# - the **metric**, what is reported but not optimized: *accuracy*, the share of images whose
#   most probable digit is the true one.
#
# The cell shows them, then asks the untrained model about the first training image and
# measures it on all training images:

# %%
print(f"loss: {model.loss}")
rate = float(model.optimizer.learning_rate)
print(f"optimizer: {type(model.optimizer).__name__}, learning rate {rate:g}")
print(f"metrics: {model.get_compile_config()['metrics']}")

first = model.predict(x_train_flat[:1], verbose=0)[0]  # ten probabilities for one image
p = first[y_train[0]]  # the probability of the true digit
print("\nuntrained model, ten probabilities for the first image:", first.round(2))
print(f"probability of its true digit {y_train[0]}: p = {p:.3f}, loss -ln p = {-np.log(p):.3f}")
untrained = model.evaluate(x_train_flat, y_train, verbose=0, return_dict=True)
print(
    f"untrained model on all {len(y_train):,} training images: loss {untrained['loss']:.3f}, "
    f"accuracy {untrained.get('accuracy', np.nan):.1%}"
)
print(f"ln 10 = {np.log(10):.3f}: the loss of a model that gives every digit p = 1/10")

# %% [markdown]
# **What to look at.** Before training, the model spreads its probability over all ten digits,
# none far from 0.1: it has no idea yet. Its loss on all training images is near ln 10 ≈ 2.30
# and its accuracy near 10 %, the level of guessing. That is a useful sanity check: a loss far
# from 2.30 before training points to a bug, for example inputs that were not normalized
# (experiment 1 in section 13).

# %% [markdown]
# ## 7. `fit`: training
#
# `fit` shows the training images to the network several times (*epochs*), in small groups
# (*batches*) of 32 images, Keras's default batch size. After each batch, Adam changes every
# weight a little to lower that batch's loss. `validation_split=0.1` keeps the **last** 10 % of
# the training images aside as a *validation* set: the network never learns from them, and at
# the end of each epoch Keras measures loss and accuracy on them. With 9,000 images left for
# training, an epoch of the sample has ⌈9,000 / 32⌉ = 282 batches: the number Keras's progress
# bar counts (the notebook prints one line per epoch instead of the bar).

# %%
EPOCHS = 5
BATCH_SIZE = 32
VALIDATION_SPLIT = 0.1

tf.keras.utils.set_random_seed(SEED)
history = model.fit(
    x_train_flat,
    y_train,
    epochs=EPOCHS,
    batch_size=BATCH_SIZE,
    validation_split=VALIDATION_SPLIT,
    verbose=0,  # no progress bar: helpers.PrintEpoch prints one line per epoch
    callbacks=[helpers.PrintEpoch()],
)

# %%
helpers.show_history(history, title="Training the model (section 7)")

# %% [markdown]
# **What to look at.** Both losses fall and both accuracies rise: the network learns, and what
# it learns carries over to validation images it never trained on.
#
# In the first epoch the *training* accuracy is **lower** than the validation accuracy. That is
# not a mistake. Keras's training numbers are the **average over all batches of the epoch**,
# measured while the weights were still changing, so the first epoch's average includes the
# first batches of a network that had barely started. The validation numbers are measured once,
# at the end of the epoch, with that epoch's final weights. Section 8 measures the final model
# on the training images properly.

# %% [markdown]
# ## 8. `evaluate`: training, validation and test accuracy
#
# `evaluate` measures the final model, with fixed weights, on any images. The cell measures it
# on the 9,000 images it trained on, on the 1,000 validation images, and on the 2,000 test
# images, and prints Keras's epoch averages beside them. An accuracy measured on n images is
# uncertain by about ±√(a(1 − a)/n) (one standard error), because another set of n images
# would give a slightly different number.

# %%
n_train = int(len(x_train_flat) * (1 - VALIDATION_SPLIT))  # fit kept the last 10 % aside
parts = {
    "training images (learned from)": (x_train_flat[:n_train], y_train[:n_train]),
    "validation images (last 10 %)": (x_train_flat[n_train:], y_train[n_train:]),
    "test images": (x_test_flat, y_test),
}
scores = {
    name: model.evaluate(images, labels, verbose=0, return_dict=True)
    for name, (images, labels) in parts.items()
}
print(f"{'final model on the':<32} {'images':>6} {'loss':>7} {'accuracy':>9} {'± error':>8}")
for name, (_, labels) in parts.items():
    loss, accuracy = scores[name]["loss"], scores[name]["accuracy"]
    error = np.sqrt(accuracy * (1 - accuracy) / len(labels))
    print(f"{name:<32} {len(labels):>6,} {loss:>7.4f} {accuracy:>9.2%} {error:>8.2%}")
print(
    f"\nKeras's averages in the last epoch: training accuracy {history.history['accuracy'][-1]:.2%}"
    f" (while learning), validation accuracy {history.history['val_accuracy'][-1]:.2%}"
)
test_accuracy = scores["test images"]["accuracy"]

# %% [markdown]
# **What to look at.**
#
# - On its training images, the final model scores **higher** than Keras's training average of
#   the last epoch: that average still includes the weights from the start of the epoch. On the
#   validation images, `evaluate` gives exactly Keras's validation number: both measure the same
#   final weights. To compare training with test accuracy (slide question 6), use the final
#   model's numbers, not the epoch average.
# - The final model does better on the images it learned from than on new ones: its weights
#   were fitted to them. A small gap is normal; a large and growing one is a sign of
#   **over-fitting** (section 12). Part of any gap is chance: look at the ± column.
# - **Validation and test** images are both new to the network, but they have different jobs.
#   The validation set is for *your* choices: how many epochs, how many neurons (sections 12
#   and 13). Every choice made by looking at it makes it a little optimistic. The test set is
#   used **once**, at the end, for an honest estimate. In MNIST the test digits also come from
#   other writers than the training and validation digits, a likely reason why the test
#   accuracy here is lower than the validation accuracy.
# - For context: guessing gives 10 %. A model with no hidden layer (one `Dense` layer of 10
#   with softmax) reaches about 92–93 % on full MNIST; this network about 97–98 % on full MNIST
#   (experiment 5 in section 13), but only about 92 % when it learns from the 9,000 training
#   images of the sample. Small convolutional networks exceed 99 %.

# %% [markdown]
# ## 9. `predict_digit`: ten probabilities, one digit
#
# `model.predict` works on a **batch**: it takes an array of shape (n, 784), n images at once,
# and returns shape (n, 10): for each image the ten softmax outputs, one probability per digit,
# adding up to 1. The predicted digit is the position of the largest one, which `np.argmax`
# finds. For one raw image, `predict_digit` prepares it exactly like the training images
# (normalize, then flatten as a batch of one: shape (1, 784)), gets back shape (1, 10), and
# takes `np.argmax` of row 0 (or `np.argmax(..., axis=1)`).
#
# Complete `predict_digit` in `digits.py`, save the file, and run the check:

# %%
helpers.report(grader.check("predict_digit"))

# %%
batch = flatten(normalize(x_test[:1]))  # the first test image as a batch of one
one = model.predict(batch, verbose=0)
print(f"input {batch.shape} -> output {one.shape}")
print("ten probabilities:", one[0].round(3), f" sum {one[0].sum():.3f}")
print(f"np.argmax(one[0]) = {np.argmax(one[0])}   (true digit {y_test[0]})")

three = model.predict(flatten(normalize(x_test[:3])), verbose=0)  # a batch of three
print(f"\nthree images -> output {three.shape}")
print(f"np.argmax(three, axis=1) = {np.argmax(three, axis=1)}: one digit per image")
row, digit = divmod(int(np.argmax(three)), 10)
print(f"np.argmax(three) = {np.argmax(three)}: without axis, one position among all 30 numbers")
print(f"   (row {row}, digit {digit}): one number for three images!")

# %% [markdown]
# The figure shows the ten probabilities for three test images: one the model is sure about,
# the correct one it is least sure about, and the mistake it is most confident about.

# %%
test_probabilities = model.predict(x_test_flat, verbose=0)  # shape (2000, 10)
y_pred = np.argmax(test_probabilities, axis=1)  # the predicted digit of every test image
confidence = test_probabilities.max(axis=1)  # the probability of that digit
right, wrong = np.flatnonzero(y_pred == y_test), np.flatnonzero(y_pred != y_test)
examples = [right[0], right[np.argmin(confidence[right])], wrong[np.argmax(confidence[wrong])]]
captions = ["a sure answer", "the least sure right answer", "the surest mistake"]
helpers.show_probabilities(
    x_test[examples], test_probabilities[examples], y_test[examples], captions
)

# %% [markdown]
# **What to look at.** A clear digit gets one tall bar. An unclear one spreads its probability
# over two or three digits that look alike. The most confident mistake may be drawn with a
# probability near 1: softmax outputs say how the model ranks the digits, not how often it is
# right, and networks like this one are often over-confident. `np.argmax` turns the ten
# numbers into one answer (slide question 8).
#
# Below, `predict_digit` on raw test images: the first 12, and 4 the model gets wrong.

# %%
chosen = [*range(12), *wrong[-4:]]
found = [predict_digit(model, x_test[index]) for index in chosen]  # raw images, 0..255
is_wrong = [digit != y_test[index] for digit, index in zip(found, chosen, strict=True)]
titles = [
    f"{'✗' if miss else '✓'} predicted {digit}\n(true {y_test[index]})"
    for digit, index, miss in zip(found, chosen, is_wrong, strict=True)
]
helpers.show_digits(
    x_test[chosen], titles, title="predict_digit on 16 raw test images", wrong=is_wrong
)

# %% [markdown]
# ## 10. An image of the wrong shape (slide question 9)
#
# The model takes inputs of shape (batch, 784). What happens with a colour image of 28 × 28 × 3,
# a red, a green and a blue value for each pixel, 2,352 values in all? And with 28 × 28 × 1,
# the shape the slide calls right? The cell tries the usual ways of passing them in:

# %%
colour_image = np.stack([x_test[0]] * 3, axis=-1)  # the first test digit in RGB: (28, 28, 3)
grey_image = x_test[0][:, :, np.newaxis]  # the same digit with one channel: (28, 28, 1)
attempts = {
    "predict_digit(model, colour_image)": lambda: predict_digit(model, colour_image),
    "colour_image.reshape(1, 784)": lambda: colour_image.reshape(1, 784),
    "model.predict(normalize(colour_image).reshape(1, -1))": lambda: model.predict(
        normalize(colour_image).reshape(1, -1), verbose=0
    ),
    "model.predict(normalize(grey_image)[np.newaxis])": lambda: model.predict(
        normalize(grey_image)[np.newaxis], verbose=0
    ),
    "model.predict(normalize(colour_image).reshape(-1, 784))": lambda: model.predict(
        normalize(colour_image).reshape(-1, 784), verbose=0
    ),
    "predict_digit(model, grey_image)": lambda: predict_digit(model, grey_image),
}
for code, attempt in attempts.items():
    helpers.what_happens(code, attempt)

three_rows = model.predict(normalize(colour_image).reshape(-1, 784), verbose=0)
print(f"\nthe three 'images' of reshape(-1, 784) are predicted as {np.argmax(three_rows, axis=1)}")
print(f"and np.argmax without axis says {np.argmax(three_rows)}")

# %% [markdown]
# **What to look at.**
#
# - Most ways end in an error instead of a prediction. Only `predict_digit`'s own message says
#   plainly what is wrong, because it checks the shape before anything else. NumPy refuses to
#   reshape 2,352 values into 784. Keras refuses too, but its message depends on what the model
#   ran before: a model that has never run `predict` says "expected axis -1 of input shape to
#   have value 784, but received input with shape (1, 2352)"; once `predict` has run, as here,
#   you get TensorFlow's "Matrix size-incompatible" or even "Cannot take the length of shape
#   with unknown rank".
# - The 28 × 28 × 1 image is refused as well: this model needs every image flattened to 784
#   values first. `predict_digit` does that, so it accepts (28, 28) and (28, 28, 1).
# - The dangerous case raises **no error**: `reshape(-1, 784)` cuts the 2,352 values into 3 rows
#   of 784 mixed-up values, the model returns 3 predictions for 3 meaningless "images", and
#   `np.argmax` without `axis` returns a position from 0 to 29. Never "fix" a shape with −1
#   without checking the result.
#
# To use a colour photo, turn it into what MNIST looks like: one grey channel (a weighted mean
# of R, G and B, or `tf.image.rgb_to_grayscale`), 28 × 28 pixels, light ink on a dark
# background (invert a photo of dark ink on white paper), and the digit centred: MNIST scaled
# each digit into a 20 × 20 box and placed its centre of mass in the middle of the 28 × 28 image.

# %%
grey = colour_image @ np.array([0.299, 0.587, 0.114])  # weighted mean of R, G, B: (28, 28)
paper = 255 - x_test[0]  # the same digit as dark ink on white paper
print(f"true digit {y_test[0]}")
print(f"the colour image turned grey:  predict_digit says {predict_digit(model, grey)}")
print(f"dark ink on white paper:       predict_digit says {predict_digit(model, paper)}")
print(f"the same image inverted back:  predict_digit says {predict_digit(model, 255 - paper)}")

# %% [markdown]
# **What to look at.** Turned grey, the colour image is read correctly. Dark ink on white paper
# is the opposite of what the network learned (0 = background): on inverted test images it is
# almost always wrong, and often sure of itself. Inverted back, the answer is right again.

# %% [markdown]
# ## 11. `confusion`: which digits are mixed up? (slide question 7)
#
# A confusion matrix counts, for every true digit (row), how often the network predicted each
# digit (column). Correct predictions are on the diagonal; everything else is a mistake. It shows
# *which* digits the model confuses, which one accuracy number hides.
#
# Complete `confusion` in `digits.py`, save the file, and run the check:

# %%
helpers.report(grader.check("confusion"))

# %%
matrix = confusion(y_test, y_pred)  # y_pred: np.argmax of the test probabilities (section 9)
print(matrix)
helpers.show_confusion(matrix)

with np.errstate(divide="ignore", invalid="ignore"):  # a digit never predicted: no precision
    recall = np.diag(matrix) / matrix.sum(axis=1)
    precision = np.diag(matrix) / matrix.sum(axis=0)
print("digit:     ", "".join(f"{digit:>6}" for digit in range(len(matrix))))
print("recall:    ", "".join(f"{value:>6.0%}" for value in recall))
print("precision: ", "".join(f"{value:>6.0%}" for value in precision))

# %% [markdown]
# **What to look at.** The figure colours only the mistakes, on their own scale, so even a
# handful of them stands out; the diagonal (grey, counts in bold) holds the correct answers.
# Along a **row** you read the *recall* of a digit: of all true 4s, the share recognized as 4.
# Down a **column** you read the *precision*: of all images predicted as 9, the share that
# really are 9s. The largest mistakes are usually between digits that share strokes, such as
# 4 and 9, 3, 5 and 8, or 7 and 2. The mistakes the network makes most often:

# %%
mistakes = matrix.copy()
np.fill_diagonal(mistakes, 0)
article = {8: "an"}  # "an 8", "a 4"
for flat_index in np.argsort(mistakes, axis=None, kind="stable")[::-1][:5]:
    true, predicted = divmod(int(flat_index), len(matrix))
    count, total = mistakes[true, predicted], matrix[true].sum()
    print(
        f"{article.get(true, 'a')} {true} taken for {article.get(predicted, 'a')} {predicted}: "
        f"{count} times ({count / total:.1%} of the {true}s)"
    )

titles = [f"true {y_test[i]} → {y_pred[i]}\np = {confidence[i]:.2f}" for i in wrong[:16]]
helpers.show_digits(
    x_test[wrong[:16]],
    titles,
    title=f"{len(wrong)} of {len(y_test):,} test images are misclassified; the first 16 "
    "(p: the probability of the predicted digit)",
    wrong=[True] * len(titles),
)

# %% [markdown]
# **What to look at.** Some of the misclassified digits would make a person hesitate too; others
# are clear to us but drawn in an unusual style, slanted, or off-centre. Look at how sure the
# network was (p) about its wrong answers.

# %% [markdown]
# ## 12. Training longer: over-fitting (slide question 6)
#
# What if the network trains for 20 epochs instead of 5? The cell trains the same model afresh
# (same seed, so its first five epochs are exactly those of section 7) and draws its curves; the
# dotted line marks the epoch with the lowest validation loss.

# %%
tf.keras.utils.set_random_seed(SEED)
long_model = build_model()
tf.keras.utils.set_random_seed(SEED)
long_history = long_model.fit(
    x_train_flat,
    y_train,
    epochs=20,
    batch_size=BATCH_SIZE,
    validation_split=VALIDATION_SPLIT,
    verbose=0,
    callbacks=[helpers.PrintEpoch()],
)
helpers.show_history(long_history, title="The same model trained for 20 epochs")
best_epoch = int(np.argmin(long_history.history["val_loss"])) + 1
long_train = long_model.evaluate(x_train_flat[:n_train], y_train[:n_train], verbose=0)[1]
long_test = long_model.evaluate(x_test_flat, y_test, verbose=0)[1]
print(f"lowest validation loss: after epoch {best_epoch}")
print(f"after 20 epochs: training accuracy {long_train:.2%}, test accuracy {long_test:.2%}")
print(f"after 5 epochs (section 8): test accuracy {test_accuracy:.2%}")

# %% [markdown]
# **What to look at.** The training loss keeps falling towards 0 and the training accuracy
# reaches (nearly) 100 %: the network learns its training images by heart. The validation loss
# stops falling after a few epochs and then **rises**, while the validation accuracy stays about
# flat: the network grows more and more confident, also about the images it gets wrong, and
# cross-entropy punishes confident mistakes hard. A growing gap between training and validation
# is the sign of **over-fitting**. The accuracy can even still improve a little for a while
# (compare the two test accuracies): loss and accuracy measure different things.
#
# Remedies: stop training where the validation loss is lowest
# (`tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)`
# does that for you), regularization such as dropout (`tf.keras.layers.Dropout`) that makes
# memorizing harder, or more training data (experiment 5 in section 13).

# %% [markdown]
# ## 13. Try it yourself
#
# The exercise asks you to run the code and check what it does. Change **one** setting at a time
# in the cell below, run it, and compare with sections 7 and 8; with the settings as they are,
# it repeats section 7 exactly (same seed, same data). Before each run, write down what you
# expect.
#
# 1. `NORMALIZE = False`: train on the raw grey levels 0..255. Compare the loss before training
#    with ln 10 ≈ 2.30, the first epochs, and the test accuracy.
# 2. `HIDDEN_UNITS = 32`, then `512`: fewer or more neurons in the hidden layer. How do the
#    number of parameters, the training accuracy and the test accuracy change?
# 3. `EPOCHS = 10` with `HIDDEN_UNITS = 512`: does a bigger network over-fit sooner?
# 4. `SHUFFLE_PIXELS = True`: the 784 pixels of every image in the same random order. To you the
#    images become noise; does the network mind?
# 5. Full MNIST: set `USE_FULL_MNIST = True` in section 1 and run all cells again (menu Run →
#    Run All Cells). Keras downloads the data (11 MB) the first time, so you need the internet
#    once. With six times more training images every epoch takes six times longer: the whole
#    notebook then runs for about five minutes. How much does the extra data help?

# %%
NORMALIZE = True  # False: the raw grey levels 0..255
HIDDEN_UNITS = 128  # for example 32 or 512
EPOCHS = 5  # for example 10
SHUFFLE_PIXELS = False  # True: the same random order of the 784 pixels in every image


def experiment_inputs(images):
    rows = flatten(normalize(images) if NORMALIZE else images.astype("float32"))
    if SHUFFLE_PIXELS:
        rows = rows[:, np.random.default_rng(0).permutation(rows.shape[1])]
    return rows


inputs_train, inputs_test = experiment_inputs(x_train), experiment_inputs(x_test)
tf.keras.utils.set_random_seed(SEED)
experiment = helpers.with_hidden_units(build_model(), HIDDEN_UNITS)
before = experiment.evaluate(inputs_train, y_train, verbose=0)[0]
print(f"{experiment.count_params():,} parameters; loss before training {before:.2f}")
tf.keras.utils.set_random_seed(SEED)
experiment_history = experiment.fit(
    inputs_train,
    y_train,
    epochs=EPOCHS,
    batch_size=BATCH_SIZE,
    validation_split=VALIDATION_SPLIT,
    verbose=0,
    callbacks=[helpers.PrintEpoch()],
)
trained = experiment.evaluate(inputs_train[:n_train], y_train[:n_train], verbose=0)[1]
tested = experiment.evaluate(inputs_test, y_test, verbose=0)[1]
print(f"final model: training accuracy {trained:.2%}, test accuracy {tested:.2%}")
print(f"section 8:   training accuracy {scores['training images (learned from)']['accuracy']:.2%}, "
      f"test accuracy {test_accuracy:.2%}")  # fmt: skip
helpers.show_history(experiment_history, title="Your experiment")

# %% [markdown]
# ## 14. Questions
#
# Think about these questions; the sections named after each one help with it:
#
# 1. Why do the image data need to be normalized (e.g., divided by 255.0)? (sections 3, 6, 13)
# 2. Why must we split the data into training and test sets? (sections 1, 8)
# 3. The MNIST dataset contains grayscale images with a resolution of 28×28 pixels. If the
#    model uses a fully connected (Dense) input layer, how many input values must be provided
#    to the model for each image? (sections 4, 5)
# 4. What is the purpose of a Dense layer with 10 neurons in the model? (sections 5, 9)
# 5. What is the difference between a perceptron and a Dense layer? (section 5)
# 6. Why is training accuracy usually higher than test accuracy? (sections 7, 8, 12)
# 7. What does a confusion matrix tell you about the model? (section 11)
# 8. Why is `np.argmax()` used when predicting digits? (section 9)
# 9. What happens if you feed an image with incorrect dimensions (e.g., 28 × 28 × 3 instead of
#    28 × 28 × 1)? (section 10)
#
# **Check yourself in the quiz:** open [quiz.html](quiz.html) (in the same folder as this
# notebook) in your web browser. It runs offline and sends nothing anywhere.
