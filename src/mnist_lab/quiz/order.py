"""The order in which the self-check page shows each question's options.

The bank lists options in the order an author thinks of them, which is often right answer first.
The page therefore shows every choice question in its own order, drawn from the build's seed:
the same seed gives the same page, another seed another one. A draw in which always picking the
first or the last option (or, in multiple choice, the first or last two) would beat guessing by
more than one standard deviation over the page is drawn again, so no seed yields a page where
the position of an option hints at the answer. The answer key lists the options in the same
order, so a student and an instructor talking about "option C" mean the same option. The LMS
exports keep the bank's order; an LMS shuffles them itself.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable, Sequence

from mnist_lab.quiz.bank import Option, Question
from mnist_lab.quiz.variants import derive_seed

MAX_DRAWS = 1000  # about half of all draws pass, so this bound is never reached in practice
Order = tuple[int, ...]


def _score(question: Question, options: Sequence[Option], picked: Iterable[int]) -> float:
    """bank.grade_response's rule, on positions of ``options``."""
    chosen = [options[i] for i in picked]
    right = sum(option.correct for option in chosen)
    wrong = len(chosen) - right
    if question.type == "single":
        return question.points if (right, wrong) == (1, 0) else 0.0
    return question.points * max(0.0, (right - wrong) / len(question.correct_options))


def _guessing(question: Question, size: int) -> tuple[float, float]:
    """Mean and variance of the score of ``size`` options picked at random."""
    options = question.options
    scores = [
        _score(question, options, subset)
        for subset in itertools.combinations(range(len(options)), size)
    ]
    mean = sum(scores) / len(scores)
    return mean, sum((score - mean) ** 2 for score in scores) / len(scores)


def position_hints(questions: Sequence[Question], orders: dict[str, Order]) -> list[str]:
    """The position strategies ("first", "last", by number of options picked) that beat
    guessing by more than one standard deviation on a page with these orders."""
    hints = []
    for size in (1, 2):
        pool = [q for q in questions if q.id in orders and (size == 1 or q.type == "multiple")]
        if not pool:
            continue
        chance = [_guessing(question, size) for question in pool]
        limit = sum(m for m, _ in chance) + math.sqrt(sum(v for _, v in chance))
        for name in ("first", "last"):
            total = 0.0
            for question in pool:
                options = [question.options[i] for i in orders[question.id]]
                picked = (
                    range(size) if name == "first" else range(len(options) - size, len(options))
                )
                total += _score(question, options, picked)
            if total > limit:
                hints.append(f"{name} {size}")
    return hints


def _draw(questions: Sequence[Question], seed: int, attempt: int) -> dict[str, Order]:
    orders = {}
    for question in questions:
        order = list(range(len(question.options)))
        random.Random(derive_seed(seed, "option-order", attempt, question.id)).shuffle(order)
        orders[question.id] = tuple(order)
    return orders


def option_orders(questions: Iterable[Question], *, seed: int) -> dict[str, Order]:
    """For each choice question (by id): the bank indices of its options in page order."""
    choice = [q for q in questions if q.type in ("single", "multiple")]
    for attempt in range(MAX_DRAWS):
        orders = _draw(choice, seed, attempt)
        if not position_hints(choice, orders):
            break
    return orders


def ordered_options(question: Question, orders: dict[str, Order]) -> tuple[Option, ...]:
    """The question's options in page order (the bank's order for other question types)."""
    if question.id not in orders:
        return question.options
    return tuple(question.options[index] for index in orders[question.id])
