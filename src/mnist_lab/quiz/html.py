"""Render the quiz bank as HTML: the student's self-check page and the instructor's answer key.

Both pages are single self-contained files (the stylesheet and script are inlined; a
Content-Security-Policy with their hashes forbids every other resource, so the page makes no
request of any kind and works from ``file://``). The templates live in ``mnist_lab.templates``
(``base.html``, ``student_quiz.html``, ``answer_key.html``), rendered with the package's one jinja2
environment (``mnist_lab.templating``).

The student page contains no answer as text: the answer data is sealed in "locked boxes" that
only the right response opens; quiz.js documents the scheme and opens them, ``_seal`` below makes
them. The page's score equals ``bank.grade_response`` (proven by tests/quiz/test_scoring_parity.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from functools import cache
from typing import Any

from markupsafe import Markup

from mnist_lab import __version__
from mnist_lab.errors import UserError
from mnist_lab.quiz.bank import NUMERIC_SLACK, Bank, Question, normalise_text
from mnist_lab.templating import (
    TEMPLATES_PACKAGE,
    TemplatingError,
    content_security_policy,
    environment,
    format_number,
    format_points,
    inline_asset,
    inline_code,
)

SCRIPT_RESOURCE = "quiz.js"
STYLE_RESOURCE = "quiz.css"
STUDENT_TEMPLATE = "student_quiz.html"
ANSWER_KEY_TEMPLATE = "answer_key.html"
# Numeric answers: a bucket is this many times as wide as the accepted interval
# [answer - tolerance - slack, answer + tolerance + slack]; anything above 1 keeps the interval
# within two neighbouring buckets.
BUCKET_PER_INTERVAL = 2.0
# Bucket indices are written as decimal integers by Python and by JavaScript; both agree on
# every integer below 2**53 (JavaScript's safe integers).
LARGEST_BUCKET = 2**53 - 2
SEPARATOR = "\x1f"
TYPE_LABELS = {
    "single": "single choice",
    "multiple": "multiple choice",
    "numeric": "numeric",
    "short": "short answer",
    "text": "free text",
}


def question_key(number: int) -> str:
    """How the page names question ``number`` (1-based): by position, never by its bank id, which
    is chosen by the author and may contain the answer (``mnist-argmax-name``)."""
    return f"q{number}"


def option_value(number: int) -> str:
    """How the page names option ``number`` (1-based); "_" cannot occur in a bank id, so a page
    value is never mistaken for one."""
    return f"o_{number}"


class QuizPageError(UserError, ValueError):
    """A question cannot be put on a page; the message names the question and the field."""


# ---------------------------------------------------------------------------------------------
# The package's jinja2 environment (mnist_lab.templating), with the quiz page's globals


environment().globals.update(question_key=question_key, option_value=option_value)


def _asset(name: str, closing_tag: str) -> str:
    try:
        return inline_asset("mnist_lab.quiz", name, closing_tag)
    except TemplatingError as error:
        raise QuizPageError(str(error)) from None


_content_security_policy = content_security_policy


def _check_title(title: str) -> str:
    if not isinstance(title, str) or not title.strip():
        raise QuizPageError(f"the page title must be non-empty text, got {title!r}")
    return title.strip()


# ---------------------------------------------------------------------------------------------
# Locked boxes (see the design note at the top of quiz.js)


def _box_key(salt: str, question_id: str, kind: str, token: str) -> bytes:
    return hashlib.sha256(SEPARATOR.join((salt, question_id, kind, token)).encode("utf-8")).digest()


def _seal(key: bytes, payload: dict[str, Any]) -> dict[str, str]:
    plain = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    stream = b"".join(
        hashlib.sha256(key + b"stream" + counter.to_bytes(4, "big")).digest()
        for counter in range(math.ceil(len(plain) / 32))
    )
    sealed = bytes(byte ^ mask for byte, mask in zip(plain, stream[: len(plain)], strict=True))
    return {"t": hashlib.sha256(key + b"tag").hexdigest()[:32], "d": sealed.hex()}


def bucket_width(question: Question) -> float:
    """Width of the numeric buckets of ``question`` (see quiz.js)."""
    return BUCKET_PER_INTERVAL * 2 * (question.tolerance + NUMERIC_SLACK)


def _numeric_buckets(question: Question) -> range:
    """Every bucket an accepted response can fall in, and one more on each side."""
    assert question.answer is not None  # validated by the bank
    width = bucket_width(question)
    reach = question.tolerance + NUMERIC_SLACK
    if (abs(question.answer) + reach) / width + 2 > LARGEST_BUCKET:
        raise QuizPageError(
            f"question {question.id!r}, field 'answer': {question.answer!r} is too large for its "
            f"tolerance {question.tolerance!r} to be checked on the page "
            f"(|answer| / tolerance must stay below about 2**51)"
        )
    low = math.floor((question.answer - reach) / width) - 1
    high = math.floor((question.answer + reach) / width) + 1
    return range(low, high + 1)


def _question_data(question: Question, page_key: str, salt: str) -> dict[str, Any]:
    """What the page needs to grade ``question``, with every answer sealed."""

    def key(kind: str, token: str) -> bytes:
        return _box_key(salt, page_key, kind, token)

    data: dict[str, Any] = {"type": question.type, "points": question.points}
    boxes: list[dict[str, str]] = []
    if question.type in ("single", "multiple"):
        data["options"] = [option_value(n) for n in range(1, len(question.options) + 1)]
        for value, option in zip(data["options"], question.options, strict=True):
            payload = {"c": 1 if option.correct else 0, "f": option.feedback}
            boxes.append(_seal(key("option", value), payload))
        general = {"fc": question.feedback_correct, "fi": question.feedback_incorrect}
        boxes.append(_seal(key("general", ""), general))
    elif question.type == "numeric":
        data["bucket"] = bucket_width(question)
        payload = {"a": question.answer, "t": question.tolerance, "f": question.feedback_correct}
        for bucket in _numeric_buckets(question):
            boxes.append(_seal(key("bucket", str(bucket)), payload))
        boxes.append(_seal(key("general", ""), {"fi": question.feedback_incorrect}))
    elif question.type == "short":
        data["normalise"] = list(question.normalise)
        tokens = sorted(
            {normalise_text(answer, question.normalise) for answer in question.accepted}
        )
        for token in tokens:
            boxes.append(_seal(key("answer", token), {"f": question.feedback_correct}))
        boxes.append(_seal(key("general", ""), {"fi": question.feedback_incorrect}))
    data["boxes"] = sorted(boxes, key=lambda box: box["t"])  # no order to read anything from
    return data


@cache
def casefold_table() -> dict[str, str]:
    """The characters whose ``str.casefold`` differs from their ``str.lower`` (ß -> ss, ς -> σ,
    Cherokee ...): with it, the page's per-character toLowerCase equals Python's casefold."""
    table = {}
    for point in range(sys.maxunicode + 1):
        if 0xD800 <= point <= 0xDFFF:
            continue
        character = chr(point)
        if character.casefold() != character.lower():
            table[character] = character.casefold()
    return table


def default_salt(bank: Bank) -> str:
    """A salt that changes with the bank, so rebuilding the same bank gives the same page."""
    canonical = json.dumps(bank.to_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(("mnist-lab quiz page" + canonical).encode("utf-8")).hexdigest()[:32]


def page_data(bank: Bank, *, salt: str) -> dict[str, Any]:
    needs_casefold = any(
        question.type == "short" and "case" in question.normalise for question in bank.questions
    )
    return {
        "salt": salt,
        "casefold": casefold_table() if needs_casefold else {},
        "questions": {
            question_key(number): _question_data(question, question_key(number), salt)
            for number, question in enumerate(bank.questions, start=1)
        },
    }


def _script_json(data: Any) -> Markup:
    """JSON that is safe inside a <script> element (no "</script>", no "<!--")."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


# ---------------------------------------------------------------------------------------------
# Entry functions


def render_student_page(*, bank: Bank, title: str | None = None, salt: str | None = None) -> str:
    """The student's self-check page for ``bank``: one HTML file with no answer in it.

    ``title`` defaults to the bank's title; ``salt`` (default: derived from the bank's content)
    makes the page's answer hashes unique to it.
    """
    page_title = _check_title(bank.title if title is None else title)
    if salt is not None and (not isinstance(salt, str) or not salt):
        raise QuizPageError(f"the salt must be non-empty text, got {salt!r}")
    script = _asset(SCRIPT_RESOURCE, "</script")
    style = _asset(STYLE_RESOURCE, "</style")
    data = page_data(bank, salt=default_salt(bank) if salt is None else salt)
    auto_graded = [question for question in bank.questions if question.auto_graded]
    return (
        environment()
        .get_template(STUDENT_TEMPLATE)
        .render(
            page_title=page_title,
            bank=bank,
            questions=bank.questions,
            auto_graded_points=sum(question.points for question in auto_graded),
            type_labels=TYPE_LABELS,
            quiz_data=_script_json(data),
            script=Markup(script),
            stylesheet=Markup(style),
            csp=_content_security_policy(script=script, style=style),
            version=__version__,
        )
    )


def render_answer_key(*, bank: Bank, title: str | None = None) -> str:
    """The instructor's answer key for ``bank``: reference answers, correct options and the
    rationale of every option, accepted answers, numeric answers with their tolerance,
    objectives, tags and points; printable."""
    page_title = _check_title(bank.title if title is None else title)
    style = _asset(STYLE_RESOURCE, "</style")
    return (
        environment()
        .get_template(ANSWER_KEY_TEMPLATE)
        .render(
            page_title=page_title,
            bank=bank,
            questions=bank.questions,
            type_labels=TYPE_LABELS,
            stylesheet=Markup(style),
            csp=_content_security_policy(script=None, style=style),
            version=__version__,
        )
    )


__all__ = [
    "TEMPLATES_PACKAGE",
    "QuizPageError",
    "casefold_table",
    "environment",
    "format_number",
    "format_points",
    "inline_code",
    "render_answer_key",
    "render_student_page",
]
