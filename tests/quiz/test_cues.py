"""A test-wise student who does not read the questions scores what guessing scores.

On the page every choice question shows its options in the order of the build's seed. For each
strategy a test-wise student might use (always pick the first option, the last, the longest, the
shortest, the most hedged, the one with the fewest absolute words; for multiple choice also the
top two by that cue) the expected score over the whole bank is compared with the expected score
of picking the same number of options at random. A strategy fails the bank when it beats guessing
by more than two standard deviations of guessing: a clear margin, and not a matter of luck.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import replace

import pytest

from mnist_lab.quiz.bank import Bank, Option, Question, load_bank
from mnist_lab.quiz.html import page_questions
from mnist_lab.quiz.variants import bank_with_variants

HEDGES = {
    "usually", "often", "typically", "can", "could", "may", "might", "about", "likely", "some",
    "most", "generally", "tends", "roughly", "mainly", "partly", "still", "somewhat",
}  # fmt: skip
ABSOLUTES = {
    "always", "never", "only", "exactly", "all", "every", "none", "cannot", "must", "completely",
    "impossible", "nothing", "no",
}  # fmt: skip
SIGMAS = 2.0

Cue = Callable[[int, Option, int], float]  # (position, option, option count) -> higher is picked


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def hedging(option: Option) -> float:
    found = words(option.text)
    return sum(word in HEDGES for word in found) - sum(word in ABSOLUTES for word in found)


CUES: dict[str, Cue] = {
    "first": lambda position, option, count: -position,
    "last": lambda position, option, count: position,
    "longest": lambda position, option, count: len(option.text),
    "shortest": lambda position, option, count: -len(option.text),
    "most hedged": lambda position, option, count: hedging(option),
    "fewest absolutes": lambda position, option, count: (
        -sum(word in ABSOLUTES for word in words(option.text))
    ),
}


def score(question: Question, picked: set[int]) -> float:
    """bank.grade_response's rule, on option positions."""
    right = sum(question.options[i].correct for i in picked)
    wrong = len(picked) - right
    if question.type == "single":
        return question.points if right == 1 and wrong == 0 else 0.0
    return question.points * max(0.0, (right - wrong) / len(question.correct_options))


def guessing(question: Question, size: int) -> tuple[float, float]:
    """Mean and variance of the score of ``size`` options picked at random."""
    scores = [
        score(question, set(subset))
        for subset in itertools.combinations(range(len(question.options)), size)
    ]
    mean = sum(scores) / len(scores)
    return mean, sum((s - mean) ** 2 for s in scores) / len(scores)


def strategy(question: Question, cue: Cue, size: int) -> float:
    """Expected score of picking the ``size`` options the cue ranks highest (ties at random)."""
    values = [cue(i, option, len(question.options)) for i, option in enumerate(question.options)]
    ranked = sorted(set(values), reverse=True)
    picked: set[int] = set()
    tied: list[int] = []
    for value in ranked:
        group = [i for i, v in enumerate(values) if v == value]
        if len(picked) + len(group) <= size:
            picked |= set(group)
        else:
            tied = group
            break
    missing = size - len(picked)
    if missing == 0:
        return score(question, picked)
    subsets = list(itertools.combinations(tied, missing))
    return sum(score(question, picked | set(subset)) for subset in subsets) / len(subsets)


def beaten(questions: list[Question]) -> list[str]:
    """Every strategy that beats guessing by more than SIGMAS standard deviations."""
    choice = [q for q in questions if q.type in ("single", "multiple")]
    found = []
    for size in (1, 2):
        pool = [q for q in choice if size == 1 or q.type == "multiple"]
        chance = [guessing(q, size) for q in pool]
        mean = sum(m for m, _ in chance)
        spread = math.sqrt(sum(v for _, v in chance))
        for name, cue in CUES.items():
            got = sum(strategy(q, cue, size) for q in pool)
            if got > mean + SIGMAS * spread:
                found.append(
                    f"pick {size} by '{name}': {got:.2f} points, guessing {mean:.2f} ± {spread:.2f}"
                    f" over {len(pool)} questions"
                )
    return found


@pytest.fixture(scope="module")
def bank() -> Bank:
    return load_bank()


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 7, 42, 2024, 123456789])
def test_no_test_wise_strategy_beats_guessing_on_the_page(bank, seed) -> None:
    questions = page_questions(bank_with_variants(bank, seed=seed, variants=3), seed=seed)
    assert beaten(questions) == []


def test_the_measure_catches_the_cues_of_a_bank_that_has_them(bank) -> None:
    """Not vacuous: the bank's own order (authors list the right option first) and a bank
    whose right options are padded with a justification are both caught."""
    in_bank_order = list(bank.questions)
    assert any("'first'" in found for found in beaten(in_bank_order))
    padded = [
        replace(
            q,
            options=tuple(
                replace(o, text=o.text + " This is usually what happens in practice.")
                if o.correct
                else o
                for o in q.options
            ),
        )
        for q in page_questions(bank, seed=0)
    ]
    found = beaten(padded)
    assert any("'longest'" in line for line in found)
    assert any("'most hedged'" in line for line in found)


def test_multiple_choice_questions_have_different_numbers_of_correct_options(bank) -> None:
    counts = {len(q.correct_options) for q in bank.questions if q.type == "multiple"}
    assert len(counts) >= 3, counts
    assert 1 in counts  # "select every correct statement" does not promise more than one


def test_correct_options_are_not_systematically_longest(bank) -> None:
    """Over the single-choice questions the right option is the longest about as often as any
    option is: at most once in three questions (guessing: once in four)."""
    single = [q for q in bank.questions if q.type == "single"]
    longest_right = sum(max(q.options, key=lambda option: len(option.text)).correct for q in single)
    assert longest_right <= len(single) / 3, f"{longest_right} of {len(single)}"
