"""The page's JavaScript grader gives exactly the score of ``bank.grade_response``, and reads
typed responses exactly as ``mnist_lab.quiz.responses`` does.

Every question of the real bank (and of a set of generated variants) is graded in the real
headless Chromium through ``MnistQuiz.gradeResponse`` and in Python, on: every option (single),
every subset of options (multiple), the answer and the exact edges of Moodle's tolerance
interval with their neighbouring floats, and the answer written the ways students write numbers
(thousands separators, unit text, x10^n, decimal commas, other digits) (numeric), every accepted
answer with case, punctuation, whitespace and Unicode variations (short), and malformed responses
of every JSON type (all). The readings themselves (value, ignored unit text, the page's "not
understood" problem and its suggestion) are compared too.
"""

from __future__ import annotations

import itertools
import math
import string
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from mnist_lab.quiz.bank import Bank, Question, grade_response, load_bank
from mnist_lab.quiz.html import (
    bucket_width,
    option_value,
    page_questions,
    question_key,
    render_student_page,
)
from mnist_lab.quiz.responses import numeric_interval, read_number, read_text
from mnist_lab.quiz.variants import bank_with_variants

pytestmark = pytest.mark.slow

MALFORMED = [None, True, False, 0, 1, -1.5, "", "   ", "no-such-option", [], {}, ["no-such-option"]]
MALFORMED += ["o_0", "o_99", ["o_0"]]  # shaped like page values, but not a question's option
# Text variations that exercise case folding, trimming and whitespace (each is prepended,
# appended or substituted in the accepted answers below).
WHITESPACE_SAMPLES = [" ", "\t", "\n", "\r", "\x00", "\x0b", "\x0c", "\x1c", "\x85", "\xa0"]
WHITESPACE_SAMPLES += ["\u2003", "\u3000", "\ufeff"]
CASE_SAMPLES = {"s": ["ſ", "S"], "k": ["K", "\u212a"], "i": ["I", "İ", "ı"], "a": ["A", "ª"]}
# How students write numbers, as templates filled with a number's digits ({} = the answer).
NUMBER_FORMS = [
    "{} px", "{}px", "{} values", "{} pixels", " {}\t", "+{}", "{}.", "{}.0", "{}e0", "{}E0",
    "{}x10^0", "{}*10^0", "{}×10^0", "{}x10**0", "{}X10^0", "{}/1", "{}_0", "{} 0", "{},0",
    "{}.5.5", "{}e", "{}e+", "≈{}", "~{}", "−{}", "({})", "{}%", "{} 000",
]  # fmt: skip
# Readings that exercise every rule and problem, independent of any answer.
NUMBER_TEXTS = [
    "784", "784 px", "1,290", "1 290", "1\u2009290", "1\xa0290", "1_290", "1.290", "1.290,5",
    "0,78", "0,7843", ",5", "7,84", "1,2,3", "12,345,678", "12,345,678.5", "1,29", "0,784",
    "-1,290.5", "1,290e3", "1,290px", "7.84x10^2", "7.84*10^2", "7.84×10^2", "7.84x10**2",
    "7.84X10^2", "7.84e2", "7.84E+2", "7.84e-2", ".5", "5.", "+784", "-.5", "200/255", "١٢", "٧٨٤",
    "７８４", "7８4", "𝟕𝟖𝟒", "inf", "-inf", "nan", "1e400", "-1e400", "1e-400", "abc", "x",
    "e5", ".", "-", "+", "", "   ", "\t784\n", "\x00784\x0b", "\xa0784", "784\xa0", "0x10",
    "1e5.5", "1..2", "1,,290", ",", "1,", "1 , 290", "1, 290", "12 345,5", "0.5 0.5",
]  # fmt: skip


@pytest.fixture(scope="module")
def page(browser, tmp_path_factory):
    path = tmp_path_factory.mktemp("parity") / "quiz.html"
    path.write_text(render_student_page(bank=raw_bank(), seed=0), "utf-8")
    browser_page = browser.new_page()
    errors: list[str] = []
    browser_page.on("pageerror", lambda error: errors.append(str(error)))
    browser_page.goto(path.as_uri())
    yield browser_page
    browser_page.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def raw_bank() -> Bank:
    return bank_with_variants(load_bank(), seed=2024, variants=2)


def parity_bank() -> Bank:
    """The bank with its options in the page's order (the page names them by position)."""
    bank = raw_bank()
    return replace(bank, questions=tuple(page_questions(bank, seed=0)))


def numeric_responses(question: Question) -> Iterator[Any]:
    answer, tolerance = question.answer, question.tolerance
    assert answer is not None
    low, high = numeric_interval(answer, tolerance)
    width = bucket_width(question)
    for edge in (low, high, answer - tolerance, answer + tolerance):
        yield edge
        yield math.nextafter(edge, math.inf)
        yield math.nextafter(edge, -math.inf)
        yield repr(edge)
    for multiple in (0.5, 1, 1.5, 2, 3, 10, 1e6):
        yield answer + multiple * width
        yield answer - multiple * width
    yield from (answer, -answer, answer * (1 + 1e-15), answer + 1, answer - 1, 0.0, -0.0)
    yield from (1e300, -1e300, 5e-324, 2.0**53, 2.0**80)
    written = format(answer, "g") if not answer.is_integer() else str(int(answer))
    for form in NUMBER_FORMS:
        yield form.format(written)
    if answer.is_integer():
        whole = int(answer)
        yield from (f"{whole:,}", f"{whole:,}".replace(",", " "), f"{whole:,}".replace(",", "."))
        yield from (f"{whole:,}".replace(",", "_"), f"{whole:,}".replace(",", "'"), f"{whole:e}")
        yield f"{whole / 100:g}x10^2"
    else:
        yield from (written.replace(".", ","), f"{answer:.2f}".replace(".", ","), f"{answer:.2f}")
        yield from (f"{answer * 255:g}/255", f"{answer * 100:g}%")
    digits = written.replace(".", "")
    yield digits.translate(str.maketrans("0123456789", "０１２３４５６７８９"))  # full width
    yield digits.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))  # Arabic-Indic
    yield from NUMBER_TEXTS


def short_responses(question: Question) -> Iterator[Any]:
    for accepted in question.accepted:
        yield accepted
        yield accepted.upper()
        yield accepted.title()
        yield f"  {accepted}  "
        yield accepted.replace(" ", "   ")
        yield accepted.replace(" ", "\t")
        yield accepted.replace(".", " . ")
        yield f"{accepted}."
        yield f"{accepted}(x)"
        yield f"{accepted}( )"
        yield f"({accepted})!"
        yield accepted + "s"
        yield accepted[:-1]
        yield accepted.replace("e", "e\u0301")  # decomposed accents: NFC composes them
        for space in WHITESPACE_SAMPLES:
            yield space + accepted + space
        for letter, lookalikes in CASE_SAMPLES.items():
            for lookalike in lookalikes:
                yield accepted.replace(letter, lookalike)
        yield accepted.upper().replace("SS", "ß")
        yield "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in accepted)
    yield from ("ß", "ẞ", "ς", "ΑΣ", "ǅ", "ﬁ", "Ꭰ", "ꭰ", string.punctuation, "a  b", "a\u3000b")


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


def test_javascript_reads_numbers_and_short_answers_as_python_does(page) -> None:
    texts = [
        response
        for question in parity_bank().questions
        if question.type == "short"
        for response in short_responses(question)
    ]
    texts += ["Straße", "ΌΣΟΣ", "\u0130stanbul", "a\x1cb\x1dc", "a\u200bb", "x" * 70]
    cases = [(text, rules) for text in texts for rules in ([], ["case"])]
    read = page.evaluate(
        "cases => cases.map(([text, rules]) => MnistQuiz.readText(text, rules))", cases
    )
    wrong = [
        f"{text!r} {rules}: Python {read_text(text, rules).to_dict()}, JavaScript {got}"
        for (text, rules), got in zip(cases, read, strict=True)
        if read_text(text, rules).to_dict() != got
    ]
    assert wrong == [], "\n".join(wrong)
    assert {got["problem"] for got in read} == {None, "spacing", "arguments", "punctuation"}

    numbers = [
        response
        for question in parity_bank().questions
        if question.type == "numeric"
        for response in numeric_responses(question)
    ]
    read = page.evaluate("values => values.map(value => MnistQuiz.readNumber(value))", numbers)
    wrong = [
        f"{value!r}: Python {read_number(value).to_dict()}, JavaScript {got}"
        for value, got in zip(numbers, read, strict=True)
        if read_number(value).to_dict() != got
    ]
    assert wrong == [], "\n".join(wrong)
    problems = {got["problem"] for got in read}
    assert problems == {None, "not-a-number", "digits", "comma", "comma-unclear", "trailing"}


def test_javascript_tolerance_interval_equals_python(page) -> None:
    pairs = [(q.answer, q.tolerance) for q in parity_bank().questions if q.type == "numeric"]
    pairs += [(0.3, 0.0), (1e300, 0.0), (0.0, 0.0), (-5.5, 0.25), (1e-20, 1e-30), (7.0, 1e300)]
    got = page.evaluate("pairs => pairs.map(([a, t]) => MnistQuiz.numericInterval(a, t))", pairs)
    assert got == [list(numeric_interval(answer, tolerance)) for answer, tolerance in pairs]


def test_javascript_sha256_equals_hashlib(page) -> None:
    import hashlib

    texts = ["", "abc", "a" * 55, "a" * 56, "a" * 63, "a" * 64, "a" * 65, "ß\u20ac\U0001f600" * 30]
    texts += ["\x1f".join(("salt", "mnist-input-count", "bucket", str(n))) for n in range(-3, 3)]
    digests = page.evaluate("texts => texts.map(MnistQuiz.sha256Hex)", texts)
    assert digests == [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in texts]
