"""How a typed response is read: one rule for ``grade_response``, the self-check page and Moodle.

Numbers (numeric questions) are read the way an English-language Moodle 4 reads them (measured in
Moodle 4.2; ``quiz.js`` repeats this function line by line):

1. the ends are trimmed (space, tab, newline, carriage return, NUL, vertical tab: PHP's ``trim``);
2. every space inside is removed: ``1 290`` is 1290;
3. ``x10^n``, ``×10^n``, ``*10^n`` and ``x10**n`` mean ``e n``: ``7.84x10^2`` is 784;
4. every comma is removed, because a comma separates thousands: ``1,290`` is 1290 (and ``0,78``
   is 78: an English-language Moodle has no decimal comma);
5. the longest ASCII number at the start (``[+-]digits[.digits][e[+-]digits]``) is the value and
   whatever follows is ignored as unit text: ``784 px`` is 784, ``1_290`` is 1; a response with
   no number there (``abc``, ``٧٨٤``, ``inf``) has no value and earns nothing.

A value is right when ``answer - r <= value <= answer + r`` with Moodle's nominal tolerance
``r = tolerance + 1e-14 * max(|tolerance|, |answer|, 1e-14)``.

Short answers: the text is put in Unicode NFC form and its ends are trimmed as above; when the
question ignores case, each character is case-folded on its own (simple case folding, as Moodle's
case-insensitive comparison does); everything else, spaces inside included, must equal an
accepted answer exactly.

The page shows no verdict where the rule may read something other than the student meant (a
decimal comma, digits after the number, digits of another script, a double space, arguments in
brackets, a full stop at the end). It says "Not
understood" and how to write the answer instead; the score an LMS gives such a response is still
the one the rule above computes, so page, grader and LMS never disagree on a score.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

# PHP's trim(), which Moodle applies to every typed response (PARAM_RAW_TRIMMED).
TRIMMED = " \t\n\r\0\x0b"
# Moodle widens a tolerance by 10**-precision (PHP's default precision is 14) times the larger
# of |tolerance| and |answer|, so that 0.1 + 0.2 style representation errors never matter.
MOODLE_EPSILON = 1e-14
_EXPONENT_FORMS = re.compile(r"(?:e|E|(?:x|\*|×)10(?:\^|\*\*))([+-]?[0-9]+)")
_LEADING_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[-+]?[0-9]+)?")
# 1,290 and 12,345,678.5: a comma in this position is a thousands separator, not a decimal comma.
_THOUSANDS_COMMAS = re.compile(r"[+-]?[1-9][0-9]{0,2}(?:,[0-9]{3})+(?![0-9])")
_ARGUMENTS = re.compile(r"\([^()]*[^()\s][^()]*\)$")
_END_PUNCTUATION = (".", "!", "?", ";", ",", ":")

# What the page says instead of a verdict, by problem; {response}, {suggestion}, {value} and
# {unit} are filled in by the page. The examples are numbers no question of the bank asks for,
# and no digit stands alone (a variant's answer might be that digit).
NUMBER_PROBLEMS = {
    "not-a-number": "Not understood: “{response}” is not a number. Write a number such as 2.5 "
    "or 0.25, with a point for decimals.",
    "digits": "Not understood: “{response}” has digits of another script; write them as 0, 1, "
    "2 and so on.",
    "comma": "Not understood: “{response}”. A comma here only separates thousands, as in "
    "12,345; write decimals with a point: {suggestion}.",
    "comma-unclear": "Not understood: “{response}”. A comma here only separates thousands, as "
    "in 12,345; write decimals with a point, for example 2.5.",
    "trailing": "Not understood: “{response}” reads as {value} followed by “{unit}”. Write one "
    "plain number, for example 2.5 or 0.25.",
}
TEXT_PROBLEMS = {
    "spacing": "Not understood: your answer has two spaces in a row, or a tab. Write single "
    "spaces between words: the graded quiz compares them exactly as typed.",
    "arguments": "Not understood: give only the name, without arguments in brackets.",
    "punctuation": "Not understood: write only the answer, without a full stop or other "
    "punctuation at the end.",
}
# What the page adds to a verdict when the typed text is not the plain number it was read as.
READING_NOTES = {
    "read-as": "Read as {value}.",
    "read-as-unit": "Read as {value}; the text “{unit}” after it is ignored.",
}


# ---------------------------------------------------------------------------------------------
# Numbers


@dataclass(frozen=True)
class NumberReading:
    """What a typed number means: the value an LMS reads, and why the page would not judge it."""

    value: float | None  # None: no number (0 points)
    unit: str = ""  # the text after the number, which the value ignores
    problem: str | None = None  # a key of NUMBER_PROBLEMS, or None
    suggestion: str = ""  # how to write what the student probably meant ("0.78")

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "unit": self.unit,
            "problem": self.problem,
            "suggestion": self.suggestion,
        }


def _moodle_number(text: str) -> tuple[float | None, str]:
    """Steps 2 to 5 of the rule on trimmed text: the value (None: no number) and the unit text."""
    compact = _EXPONENT_FORMS.sub(r"e\1", text.replace(" ", "")).replace(",", "")
    match = _LEADING_NUMBER.match(compact)
    if match is None:
        return None, compact
    value = float(match.group())
    return (value if math.isfinite(value) else None), compact[match.end() :]


def _has_other_digits(text: str) -> bool:
    return any(character.isdecimal() and not "0" <= character <= "9" for character in text)


def _comma_problem(text: str) -> tuple[str, str] | None:
    """("comma", how to write it) when a comma in ``text`` is not a thousands separator."""
    compact = text.replace(" ", "")
    if "," not in compact:
        return None
    grouped = _THOUSANDS_COMMAS.match(compact)
    if grouped is not None and "," not in compact[grouped.end() :]:
        return None
    # Read as a decimal comma (points then separate thousands): 0,78 -> 0.78, 1.290,5 -> 1290.5
    german = compact.replace(".", "").replace(",", ".")
    number = _LEADING_NUMBER.match(german)
    rest = german[number.end() :] if number else german
    if number is None or any(character in "0123456789.," for character in rest):
        return "comma-unclear", ""
    return "comma", number.group()


def read_number(response: Any) -> NumberReading:
    """How ``response`` (text typed by a student, or a number) is read; see the module docstring."""
    if isinstance(response, bool):
        return NumberReading(None, problem="not-a-number")
    if isinstance(response, (int, float)):
        value = float(response)
        if math.isfinite(value):
            return NumberReading(value)
        return NumberReading(None, problem="not-a-number")
    if not isinstance(response, str):
        return NumberReading(None, problem="not-a-number")
    text = response.strip(TRIMMED)
    value, unit = _moodle_number(text)
    if _has_other_digits(text):
        return NumberReading(value, unit, "digits")
    if value is None:
        return NumberReading(None, unit, "not-a-number")
    comma = _comma_problem(text)
    if comma is not None:
        return NumberReading(value, unit, comma[0], comma[1])
    if any(character in "0123456789" for character in unit):
        return NumberReading(value, unit, "trailing")
    return NumberReading(value, unit)


def describe(problem: str, response: str, reading: NumberReading | None = None) -> str:
    """The page's words for ``problem`` (a key of NUMBER_PROBLEMS or TEXT_PROBLEMS)."""
    template = {**NUMBER_PROBLEMS, **TEXT_PROBLEMS}[problem]
    fields = {"response": response.strip(TRIMMED), "suggestion": "", "value": "", "unit": ""}
    if reading is not None:
        value = "" if reading.value is None else repr(reading.value).removesuffix(".0")
        fields.update(suggestion=reading.suggestion, value=value, unit=reading.unit)
    return template.format(**fields)


def numeric_interval(answer: float, tolerance: float) -> tuple[float, float]:
    """The inclusive interval of right values, exactly as Moodle computes it (nominal
    tolerance); the page repeats these floating-point operations in the same order."""
    reach = tolerance + MOODLE_EPSILON * max(abs(tolerance), abs(answer), MOODLE_EPSILON)
    return answer - reach, answer + reach


def is_within(value: float, answer: float, tolerance: float) -> bool:
    low, high = numeric_interval(answer, tolerance)
    return low <= value <= high


# ---------------------------------------------------------------------------------------------
# Short answers


@dataclass(frozen=True)
class TextReading:
    """What a typed short answer is compared as, and why the page would not judge it."""

    value: str | None  # the text compared with the accepted answers; None: not text
    problem: str | None = None  # a key of TEXT_PROBLEMS, or None

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "problem": self.problem}


def fold_character(character: str) -> str:
    """Simple case folding of one character: its case fold or lower case when that is one
    character (ẞ -> ß, K (Kelvin) -> k), else the character itself (ß stays ß, not ss)."""
    for folded in (character.casefold(), character.lower()):
        if len(folded) == 1:
            return folded
    return character


def fold_case(text: str) -> str:
    return "".join(fold_character(character) for character in text)


def comparison_form(text: str, normalise: Collection[str]) -> str:
    """``text`` as it is compared: NFC, ends trimmed, and case-folded if ``normalise`` says so."""
    text = unicodedata.normalize("NFC", text).strip(TRIMMED)
    return fold_case(text) if "case" in normalise else text


def _text_problem(text: str) -> str | None:
    for index, character in enumerate(text):
        if character.isspace() and (character != " " or text[index + 1 : index + 2].isspace()):
            return "spacing"
    if _ARGUMENTS.search(text):
        return "arguments"
    if text.endswith(_END_PUNCTUATION):
        return "punctuation"
    return None


def read_text(response: Any, normalise: Collection[str]) -> TextReading:
    """How a short-answer ``response`` is read; see the module docstring."""
    if not isinstance(response, str):
        return TextReading(None)
    value = comparison_form(response, normalise)
    return TextReading(value, _text_problem(unicodedata.normalize("NFC", response).strip(TRIMMED)))
