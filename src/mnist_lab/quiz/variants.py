"""Parameterised questions: the same question with other numbers, one set per seed.

A template draws its parameters (image size, number of classes, layer sizes) from a
``random.Random`` seeded with ``sha256(f"{seed}:{template id}")``, so the same seed always gives
the same questions, on every machine and Python version, and one template's draws do not depend
on how many other templates exist. Each variant is an ordinary ``Question`` with ``variant_of``
set to the template id and an id that contains its parameters (``...-32x32x3``), so an LMS
re-import updates it instead of duplicating it.

A student's own variant: ``student_seed("jane.doe@example.org")`` hashes the (stripped,
case-folded) student id, optionally with a course seed, into a seed an instructor can recompute.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from mnist_lab.constants import NUM_CLASSES
from mnist_lab.quiz.bank import Bank, BankError, Problem, Question

MAX_VARIANTS = 20  # per template; every template has more distinct parameter sets than this
MAX_DRAWS = 10_000  # per template and seed: far more than enough; a smaller template is a bug
SEED_BYTES = 8  # seeds are 64-bit non-negative integers


def derive_seed(*parts: object) -> int:
    """A 64-bit seed from its parts, stable across runs (unlike ``hash``) and platforms."""
    digest = hashlib.sha256(":".join(str(part) for part in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:SEED_BYTES], "big")


def student_seed(student_id: str, *, course_seed: int = 0) -> int:
    """The seed of one student's quiz: ``derive_seed(course_seed, normalised student id)``."""
    normalised = " ".join(student_id.split()).casefold()
    if not normalised:
        raise ValueError("a student id must not be empty")
    return derive_seed(course_seed, normalised)


def _count(number: int) -> str:
    return f"{number:,}"


@dataclass(frozen=True)
class Template:
    """A question whose numbers are drawn from ``draw`` and filled in by ``make``."""

    id: str
    draw: Callable[[random.Random], tuple[int, ...]]
    make: Callable[[str, tuple[int, ...]], Question]

    def variant_id(self, parameters: tuple[int, ...]) -> str:
        return f"{self.id}-{'x'.join(str(value) for value in parameters)}"

    def variants(self, *, seed: int, count: int) -> tuple[Question, ...]:
        """``count`` distinct variants, the same for the same seed."""
        rng = random.Random(derive_seed(seed, self.id))
        seen: set[tuple[int, ...]] = set()
        questions: list[Question] = []
        for draws, parameters in enumerate(_draws(rng, self.draw)):
            if len(questions) == count:
                break
            if draws == MAX_DRAWS:
                raise ValueError(f"template {self.id} has fewer than {count} parameter sets")
            if parameters not in seen:
                seen.add(parameters)
                questions.append(self.make(self.variant_id(parameters), parameters))
        return tuple(questions)


def _draws(rng: random.Random, draw: Callable[[random.Random], tuple[int, ...]]) -> Iterator:
    while True:
        yield draw(rng)


_COMMON = {"points": 1.0, "source": "extra"}

IMAGE_SIDES = (16, 20, 24, 28, 32, 40, 48, 64, 96, 128)
MAX_ASPECT_RATIO = 2  # a 128 × 24 image is no image anyone classifies; 32 × 64 is
CHANNELS = (1, 3)
LAYER_WIDTHS = (16, 32, 64, 100, 128, 200, 256, 512)
# Class counts such as real data sets have (from 3: two classes are often one sigmoid unit): 26
# letters, 43 German traffic signs, 47 and 62 EMNIST classes, 100 CIFAR-100 classes, ... Not 10,
# the MNIST digits: that question is in the bank, and its wrong-answer feedback names 10.
CLASS_COUNTS = (3, 4, 5, 6, 7, 8, 9, 11, 12, 15, 16, 20, 24, 26, 36, 40, 43, 47, 50, 62, 100)


def _image_inputs(variant_id: str, parameters: tuple[int, ...]) -> Question:
    height, width, channels = parameters
    kind = "greyscale images (one channel)" if channels == 1 else "colour images (red, green, blue)"
    total = height * width * channels
    return Question(
        id=variant_id,
        type="numeric",
        stem=(
            f"A data set contains {kind} of {height} × {width} pixels. If the model uses a fully "
            "connected (Dense) input layer, how many input values must be provided for each image?"
        ),
        answer=float(total),
        tolerance=0.0,
        reference_answer=(
            f"The image is flattened into one value per pixel and channel, so the model needs "
            f"{height} × {width} × {channels} = {_count(total)} input values per image."
        ),
        feedback_correct=f"Right: {height} × {width} × {channels} = {_count(total)}.",
        feedback_incorrect=(
            "Multiply height, width and the number of channels: every pixel contributes one "
            "value per channel."
        ),
        objective="Compute the number of values of an image from its height, width and channels.",
        tags=("input-shape", "variant"),
        variant_of="mnist-var-image-inputs",
        **_COMMON,
    )


def _output_units(variant_id: str, parameters: tuple[int, ...]) -> Question:
    (classes,) = parameters
    return Question(
        id=variant_id,
        type="numeric",
        stem=(
            f"A classifier must tell apart {classes} different classes; every image belongs to "
            "exactly one of them. How many neurons does its softmax output layer need?"
        ),
        answer=float(classes),
        tolerance=0.0,
        reference_answer=(
            f"The output layer needs one neuron per class, so {classes} neurons; with softmax "
            f"their {classes} outputs are the probabilities of the {classes} classes."
        ),
        feedback_correct=f"Right: one output neuron per class, {classes} in all.",
        feedback_incorrect=(
            f"The MNIST model has {NUM_CLASSES} output neurons because there are "
            f"{NUM_CLASSES} digits: the output layer has one neuron per class."
        ),
        objective="Relate the size of the output layer to the number of classes.",
        tags=("output-layer", "variant"),
        variant_of="mnist-var-output-units",
        **_COMMON,
    )


def _dense_params(variant_id: str, parameters: tuple[int, ...]) -> Question:
    inputs, units = parameters
    total = inputs * units + units
    return Question(
        id=variant_id,
        type="numeric",
        stem=(
            f"A `Dense({units})` layer receives {_count(inputs)} input values. How many "
            "trainable parameters (weights and biases) does it have?"
        ),
        answer=float(total),
        tolerance=0.0,
        reference_answer=(
            f"Each of the {units} neurons has one weight per input and one bias, so the layer "
            f"has {_count(inputs)} × {units} + {units} = {_count(total)} parameters."
        ),
        feedback_correct=f"Right: {_count(inputs)} × {units} + {units} = {_count(total)}.",
        feedback_incorrect=(
            "Count one weight for every pair of input and neuron (inputs × units), then add one "
            "bias per neuron."
        ),
        objective="Compute the number of parameters of a Dense layer.",
        tags=("dense", "parameters", "variant"),
        variant_of="mnist-var-dense-params",
        **_COMMON,
    )


def _model_params(variant_id: str, parameters: tuple[int, ...]) -> Question:
    inputs, hidden, classes = parameters
    first = inputs * hidden + hidden
    second = hidden * classes + classes
    return Question(
        id=variant_id,
        type="numeric",
        stem=(
            f"A model takes {_count(inputs)} inputs (`keras.Input(shape=({inputs},))`) and has a "
            f'hidden `Dense({hidden}, activation="relu")` layer and an output '
            f'`Dense({classes}, activation="softmax")` layer. How many trainable parameters does '
            "it have in total?"
        ),
        answer=float(first + second),
        tolerance=0.0,
        reference_answer=(
            f"The hidden layer has {_count(inputs)} × {hidden} + {hidden} = {_count(first)} "
            f"parameters and the output layer {hidden} × {classes} + {classes} = "
            f"{_count(second)}, so the model has {_count(first + second)} trainable parameters."
        ),
        feedback_correct=f"Right: {_count(first)} + {_count(second)} = {_count(first + second)}.",
        feedback_incorrect=(
            "Add the parameters of both Dense layers; each has inputs × units weights plus one "
            "bias per unit, and the output layer's inputs are the hidden layer's outputs."
        ),
        objective="Compute the number of parameters of a small fully connected network.",
        tags=("dense", "parameters", "variant"),
        variant_of="mnist-var-model-params",
        **_COMMON,
    )


def _square_or_not(rng: random.Random) -> tuple[int, int]:
    height = rng.choice(IMAGE_SIDES)
    if rng.random() < 0.5:
        return height, height
    widths = [
        w
        for w in IMAGE_SIDES
        if w != height and max(w, height) <= MAX_ASPECT_RATIO * min(w, height)
    ]
    return height, rng.choice(widths)


TEMPLATES: tuple[Template, ...] = (
    Template(
        "mnist-var-image-inputs",
        lambda rng: (*_square_or_not(rng), rng.choice(CHANNELS)),
        _image_inputs,
    ),
    Template("mnist-var-output-units", lambda rng: (rng.choice(CLASS_COUNTS),), _output_units),
    Template(
        "mnist-var-dense-params",
        lambda rng: (rng.choice(IMAGE_SIDES) ** 2 * rng.choice(CHANNELS), rng.choice(LAYER_WIDTHS)),
        _dense_params,
    ),
    Template(
        "mnist-var-model-params",
        lambda rng: (
            rng.choice(IMAGE_SIDES) ** 2,
            rng.choice(LAYER_WIDTHS),
            rng.choice(CLASS_COUNTS),
        ),
        _model_params,
    ),
)


def generate_variants(*, seed: int, variants: int) -> tuple[Question, ...]:
    """``variants`` variants of every template, grouped by template, the same for one seed."""
    if not 0 <= variants <= MAX_VARIANTS:
        raise ValueError(f"variants must be between 0 and {MAX_VARIANTS}, got {variants}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return tuple(
        question
        for template in TEMPLATES
        for question in template.variants(seed=seed, count=variants)
    )


def bank_with_variants(bank: Bank, *, seed: int, variants: int) -> Bank:
    """The bank followed by ``variants`` generated variants per template (0: the bank itself)."""
    extra = generate_variants(seed=seed, variants=variants)
    clashes = sorted({question.id for question in bank.questions} & {q.id for q in extra})
    if clashes:  # a bank author used a generated id by hand; refuse rather than shadow it
        raise BankError(
            Problem("questions.yaml", qid, "id", "this id is also the id of a generated variant")
            for qid in clashes
        )
    return replace(bank, questions=bank.questions + extra)
