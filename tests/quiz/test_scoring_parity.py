"""The page's JavaScript grader gives exactly the score of ``bank.grade_response``.

Every question of the real bank (and of a set of generated variants) is graded in the real
headless Chromium through ``MnistQuiz.gradeResponse`` and in Python, on: every option (single),
every subset of options (multiple), the answer and the exact edges of the tolerance band with
their neighbouring floats (numeric), every accepted answer with case, punctuation, whitespace and
Unicode variations (short), and malformed responses of every JSON type (all).
"""

from __future__ import annotations

import itertools
import math
import string
from collections.abc import Iterator
from typing import Any

import pytest

from mnist_lab.quiz import bank as bank_module
from mnist_lab.quiz.bank import Bank, Question, grade_response, load_bank, normalise_text
from mnist_lab.quiz.html import bucket_width, option_value, question_key, render_student_page
from mnist_lab.quiz.variants import bank_with_variants

pytestmark = pytest.mark.slow

MALFORMED = [None, True, False, 0, 1, -1.5, "", "   ", "no-such-option", [], {}, ["no-such-option"]]
MALFORMED += ["o_0", "o_99", ["o_0"]]  # shaped like page values, but not a question's option
# Text variations that exercise Python's casefold, isspace and punctuation (each is prepended,
# appended or substituted in the accepted answers below).
WHITESPACE_SAMPLES = [" ", "\t", "\n", "\x1c", "\x1f", "\x85", "\xa0", "\u2003", "\u3000", "\ufeff"]
CASE_SAMPLES = {"s": ["ſ", "S"], "k": ["K", "\u212a"], "i": ["I", "İ", "ı"], "a": ["A", "ª"]}


@pytest.fixture(scope="module")
def page(browser, tmp_path_factory):
    banks = parity_bank()
    path = tmp_path_factory.mktemp("parity") / "quiz.html"
    path.write_text(render_student_page(bank=banks), "utf-8")
    browser_page = browser.new_page()
    errors: list[str] = []
    browser_page.on("pageerror", lambda error: errors.append(str(error)))
    browser_page.goto(path.as_uri())
    yield browser_page
    browser_page.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def parity_bank() -> Bank:
    return bank_with_variants(load_bank(), seed=2024, variants=2)


def numeric_responses(question: Question) -> Iterator[Any]:
    answer, tolerance = question.answer, question.tolerance
    assert answer is not None
    reach = tolerance + bank_module.NUMERIC_SLACK
    width = bucket_width(question)
    for edge in (answer - reach, answer + reach, answer - tolerance, answer + tolerance):
        yield edge
        yield math.nextafter(edge, math.inf)
        yield math.nextafter(edge, -math.inf)
    for multiple in (0.5, 1, 1.5, 2, 3, 10, 1e6):
        yield answer + multiple * width
        yield answer - multiple * width
    yield from (answer, -answer, answer * (1 + 1e-15), answer + 1, answer - 1, 0.0, -0.0)
    yield from (1e300, -1e300, 5e-324, 2.0**53, 2.0**80)
    written = format(answer, "g") if not answer.is_integer() else str(int(answer))
    yield from (written, f"  {written}\t", f"{written}.0", f"+{written}", f"{answer:e}")
    yield from (f"\x1c{written}\x85", f"\ufeff{written}", f"{written}abc", f"{written},5")
    digits = str(int(answer)) if answer.is_integer() else written
    yield digits.translate(str.maketrans("0123456789", "０１２３４５６７８９"))  # full width
    yield digits.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))  # Arabic-Indic
    if answer.is_integer() and abs(answer) >= 10:
        yield digits[0] + "_" + digits[1:]  # PEP 515 underscores are numbers in Python
        yield digits[0] + "__" + digits[1:]
        yield "_" + digits
    yield from ("nan", "inf", "-Infinity", "1e400", "0x10", ".", "1e", "e5", "1 0")


def short_responses(question: Question) -> Iterator[Any]:
    for accepted in question.accepted:
        yield accepted
        yield accepted.upper()
        yield accepted.title()
        yield f"  {accepted}  "
        yield accepted.replace(" ", "   ")
        yield accepted.replace(".", " . ")
        yield f"{accepted}."
        yield f"({accepted})!"
        yield accepted + "s"
        yield accepted[:-1]
        for space in WHITESPACE_SAMPLES:
            yield space + accepted + space
        for letter, lookalikes in CASE_SAMPLES.items():
            for lookalike in lookalikes:
                yield accepted.replace(letter, lookalike)
        yield accepted.upper().replace("SS", "ß")
        yield "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in accepted)
    yield from ("ß", "ς", "ΑΣ", "ǅ", "ﬁ", "Ꭰ", "ꭰ", string.punctuation)


def responses(question: Question) -> Iterator[Any]:
    option_ids = [option.id for option in question.options]
    if question.type == "single":
        yield from option_ids
        yield from ([option_id] for option_id in option_ids)
        yield from (option_id.upper() for option_id in option_ids)
    elif question.type == "multiple":
        for size in range(len(option_ids) + 1):
            yield from (list(subset) for subset in itertools.combinations(option_ids, size))
        yield option_ids + option_ids  # duplicates count once
        yield [*option_ids[:1], "no-such-option"]
        yield option_ids[0]  # a bare string is not a collection of ids
    elif question.type == "numeric":
        yield from numeric_responses(question)
    elif question.type == "short":
        yield from short_responses(question)
    else:
        yield from ("A perceptron is one neuron.", "")
    yield from MALFORMED


def on_the_page(question: Question, response: Any) -> Any:
    """The response as the page holds it: options are named by position (o_1, o_2 ...)."""
    values = {option.id: option_value(n) for n, option in enumerate(question.options, start=1)}
    if isinstance(response, str):
        return values.get(response, response)
    if isinstance(response, list):
        return [values.get(item, item) if isinstance(item, str) else item for item in response]
    return response


def test_javascript_scores_equal_python_scores_on_every_question(page) -> None:
    bank = parity_bank()
    number = {question.id: n for n, question in enumerate(bank.questions, start=1)}
    cases = [(q, response) for q in bank.questions for response in responses(q)]
    scores = page.evaluate(
        "cases => cases.map(([id, response]) => MnistQuiz.gradeResponse(id, response))",
        [[question_key(number[q.id]), on_the_page(q, response)] for q, response in cases],
    )
    mismatches = [
        f"{question.id} ({question.type}) {response!r}: Python {expected!r}, JavaScript {got!r}"
        for (question, response), got in zip(cases, scores, strict=True)
        if (expected := grade_response(question, response)) != got
        or (expected is None) != (got is None)
    ]
    assert mismatches == [], "\n".join(mismatches)
    # The cases reach every outcome, so the equality above is not vacuous.
    by_type: dict[str, set[str]] = {}
    for (question, _), score in zip(cases, scores, strict=True):
        kind = (
            "none"
            if score is None
            else "full"
            if score == question.points
            else "zero"
            if score == 0
            else "part"
        )
        by_type.setdefault(question.type, set()).add(kind)
    assert by_type == {
        "single": {"full", "zero"},
        "multiple": {"full", "zero", "part"},
        "numeric": {"full", "zero"},
        "short": {"full", "zero"},
        "text": {"none"},
    }
    assert len(cases) > 1000


def test_javascript_normalisation_and_number_reading_equal_python(page) -> None:
    texts = [
        response
        for question in parity_bank().questions
        if question.type == "short"
        for response in short_responses(question)
    ]
    texts += ["Straße", "ΌΣΟΣ", "\u0130stanbul", "a\x1cb\x1dc", "a\u200bb", "x" * 70]
    rule_sets = [
        list(rules)
        for size in range(4)
        for rules in itertools.combinations(bank_module.NORMALISATIONS, size)
    ]
    cases = [(text, rules) for text in texts for rules in rule_sets]
    normalised = page.evaluate(
        "cases => cases.map(([text, rules]) => MnistQuiz.normaliseText(text, rules))", cases
    )
    wrong = [
        f"{text!r} {rules}: Python {normalise_text(text, rules)!r}, JavaScript {got!r}"
        for (text, rules), got in zip(cases, normalised, strict=True)
        if normalise_text(text, rules) != got
    ]
    assert wrong == [], "\n".join(wrong)

    numbers = [
        response
        for question in parity_bank().questions
        if question.type == "numeric"
        for response in numeric_responses(question)
    ]
    read = page.evaluate("values => values.map(value => MnistQuiz.parseNumber(value))", numbers)
    wrong = [
        f"{value!r}: Python {bank_module._as_number(value)!r}, JavaScript {got!r}"
        for value, got in zip(numbers, read, strict=True)
        if bank_module._as_number(value) != got
    ]
    assert wrong == [], "\n".join(wrong)


def test_javascript_sha256_equals_hashlib(page) -> None:
    import hashlib

    texts = ["", "abc", "a" * 55, "a" * 56, "a" * 63, "a" * 64, "a" * 65, "ß\u20ac\U0001f600" * 30]
    texts += ["\x1f".join(("salt", "mnist-input-count", "bucket", str(n))) for n in range(-3, 3)]
    digests = page.evaluate("texts => texts.map(MnistQuiz.sha256Hex)", texts)
    assert digests == [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in texts]
