"""Render the quiz bank as HTML: the student's self-check page and the instructor's answer key.

Both pages are single self-contained files (the stylesheet and script are inlined; a
Content-Security-Policy with their hashes forbids every other resource, so the page makes no
request of any kind and works from ``file://``). The templates live in ``mnist_lab.templates``
(``base.html``, ``student_quiz.html``, ``answer_key.html``), rendered with the package's one jinja2
environment (``mnist_lab.templating``).

The student page contains no answer as text: the answer data is sealed in "locked boxes" that
only the right response opens; quiz.js documents the scheme and opens them, ``_seal`` below makes
them. The page's score equals ``bank.grade_response`` (proven by tests/quiz/test_scoring_parity.py).
Each choice question shows its options in an order drawn from the build's seed (``order.py``).
By default no reference answer is on the page, not even sealed; ``model_answers=True`` (a
practice-only release) seals each one so that it opens with a right response, or, for free
text, after any attempt.
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
from mnist_lab.quiz.bank import Bank, Question
from mnist_lab.quiz.figures import render_figure
from mnist_lab.quiz.lms import groups
from mnist_lab.quiz.order import option_orders, ordered_options
from mnist_lab.quiz.responses import (
    NUMBER_PROBLEMS,
    READING_NOTES,
    TEXT_PROBLEMS,
    comparison_form,
    fold_character,
    numeric_interval,
)
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
# Numeric answers: a bucket is this many times as wide as the interval of right values (Moodle's
# tolerance interval, responses.numeric_interval); anything above 1 keeps the interval within
# two neighbouring buckets. Because Moodle widens every interval by 1e-14 * |answer|, a bucket
# index never exceeds about 5e13, far below 2**53, where Python's and JavaScript's integers agree.
BUCKET_PER_INTERVAL = 2.0
SECTIONS = (
    ("slides", "The nine questions from the slides", ""),
    ("extra", "More questions on the same material", ""),
    (
        "practice",
        "Optional practice: the same calculations with other numbers",
        "These repeat the calculations above with other image and layer sizes. They are optional "
        "and do not count towards the total above.",
    ),
)
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
    assert question.answer is not None  # validated by the bank
    low, high = numeric_interval(question.answer, question.tolerance)
    return BUCKET_PER_INTERVAL * (high - low)


def _numeric_buckets(question: Question) -> range:
    """Every bucket a right response can fall in, and one more on each side."""
    assert question.answer is not None  # validated by the bank
    width = bucket_width(question)
    low, high = numeric_interval(question.answer, question.tolerance)
    return range(math.floor(low / width) - 1, math.floor(high / width) + 2)


def section_of(question: Question) -> str:
    """Where the page shows ``question``: "slides", "extra" or "practice" (the variants)."""
    return "practice" if question.variant_of is not None else question.source


def _question_data(
    question: Question, page_key: str, salt: str, *, model_answers: bool
) -> dict[str, Any]:
    """What the page needs to grade ``question``, with every answer sealed. In a practice page
    (``model_answers``) a right response also opens the reference answer (payload key "r")."""

    def key(kind: str, token: str) -> bytes:
        return _box_key(salt, page_key, kind, token)

    reference = {"r": question.reference_answer} if model_answers else {}
    data: dict[str, Any] = {"type": question.type, "points": question.points}
    boxes: list[dict[str, str]] = []
    if question.type in ("single", "multiple"):
        data["options"] = [option_value(n) for n in range(1, len(question.options) + 1)]
        for value, option in zip(data["options"], question.options, strict=True):
            payload = {"c": 1 if option.correct else 0, "f": option.feedback}
            boxes.append(
                _seal(key("option", value), {**payload, **(reference if option.correct else {})})
            )
        general = {"fc": question.feedback_correct, "fi": question.feedback_incorrect}
        boxes.append(_seal(key("general", ""), general))
    elif question.type == "numeric":
        data["bucket"] = bucket_width(question)
        payload = {"a": question.answer, "t": question.tolerance, "f": question.feedback_correct}
        for bucket in _numeric_buckets(question):
            boxes.append(_seal(key("bucket", str(bucket)), {**payload, **reference}))
        boxes.append(_seal(key("general", ""), {"fi": question.feedback_incorrect}))
    elif question.type == "short":
        data["normalise"] = list(question.normalise)
        tokens = sorted(
            {comparison_form(answer, question.normalise) for answer in question.accepted}
        )
        for token in tokens:
            payload = {"f": question.feedback_correct, **reference}
            boxes.append(_seal(key("answer", token), payload))
        boxes.append(_seal(key("general", ""), {"fi": question.feedback_incorrect}))
    else:  # free text: what a good answer addresses, opened by any attempt
        checklist = {"k": [item.check for item in question.rubric], **reference}
        boxes.append(_seal(key("checklist", ""), checklist))
    data["boxes"] = sorted(boxes, key=lambda box: box["t"])  # no order to read anything from
    return data


@cache
def casefold_table() -> dict[str, str]:
    """The characters whose simple case folding (``responses.fold_character``) differs from
    their ``str.lower`` (K (Kelvin) -> k, ß stays ß ...): with it, the page's per-character
    toLowerCase equals Python's ``fold_character``."""
    table = {}
    for point in range(sys.maxunicode + 1):
        if 0xD800 <= point <= 0xDFFF:
            continue
        character = chr(point)
        if fold_character(character) != character.lower():
            table[character] = fold_character(character)
    return table


def default_salt(bank: Bank) -> str:
    """A salt that changes with the bank, so rebuilding the same bank gives the same page."""
    canonical = json.dumps(bank.to_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(("mnist-lab quiz page" + canonical).encode("utf-8")).hexdigest()[:32]


def page_questions(bank: Bank, *, seed: int) -> list[Question]:
    """The bank's questions as the page shows them: each choice question's options in the
    order drawn from ``seed`` (see order.py)."""
    from dataclasses import replace

    orders = option_orders(bank.questions, seed=seed)
    return [
        replace(question, options=ordered_options(question, orders)) for question in bank.questions
    ]


def page_data(
    bank: Bank, *, salt: str, seed: int = 0, model_answers: bool = False
) -> dict[str, Any]:
    questions = page_questions(bank, seed=seed)
    needs_casefold = any(
        question.type == "short" and "case" in question.normalise for question in questions
    )
    return {
        "salt": salt,
        "casefold": casefold_table() if needs_casefold else {},
        "messages": {**NUMBER_PROBLEMS, **TEXT_PROBLEMS, **READING_NOTES},
        "questions": {
            question_key(number): {
                **_question_data(question, question_key(number), salt, model_answers=model_answers),
                "section": section_of(question),
            }
            for number, question in enumerate(questions, start=1)
        },
    }


def _script_json(data: Any) -> Markup:
    """JSON that is safe inside a <script> element (no "</script>", no "<!--")."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


# ---------------------------------------------------------------------------------------------
# Entry functions


def _sections(questions: list[Question]) -> list[dict[str, Any]]:
    """The page's sections in order, each with its questions as (page number, question)."""
    numbered = list(enumerate(questions, start=1))
    sections = []
    for key, heading, note in SECTIONS:
        mine = [(number, q) for number, q in numbered if section_of(q) == key]
        if mine:
            points = sum(q.points for _, q in mine if q.auto_graded)
            sections.append(
                {"key": key, "heading": heading, "note": note, "questions": mine, "points": points}
            )
    return sections


def _figure(question: Question, number: int) -> Markup | None:
    if question.figure is None:
        return None
    return render_figure(question.figure, id_prefix=f"{question_key(number)}-figure")


def render_student_page(
    *,
    bank: Bank,
    title: str | None = None,
    salt: str | None = None,
    seed: int = 0,
    model_answers: bool = False,
) -> str:
    """The student's self-check page for ``bank``: one HTML file with no answer in it.

    ``title`` defaults to the bank's title; ``salt`` (default: derived from the bank's content)
    makes the page's answer hashes unique to it; ``seed`` draws the order of every question's
    options; ``model_answers`` adds the sealed reference answers of a practice-only page.
    """
    page_title = _check_title(bank.title if title is None else title)
    if salt is not None and (not isinstance(salt, str) or not salt):
        raise QuizPageError(f"the salt must be non-empty text, got {salt!r}")
    script = _asset(SCRIPT_RESOURCE, "</script")
    style = _asset(STYLE_RESOURCE, "</style")
    data = page_data(
        bank,
        salt=default_salt(bank) if salt is None else salt,
        seed=seed,
        model_answers=model_answers,
    )
    questions = page_questions(bank, seed=seed)
    main = [q for q in questions if section_of(q) != "practice"]
    return (
        environment()
        .get_template(STUDENT_TEMPLATE)
        .render(
            page_title=page_title,
            bank=bank,
            questions=questions,
            sections=_sections(questions),
            main_count=len(main),
            main_points=sum(q.points for q in main if q.auto_graded),
            model_answers=model_answers,
            figure=_figure,
            type_labels=TYPE_LABELS,
            quiz_data=_script_json(data),
            script=Markup(script),
            stylesheet=Markup(style),
            csp=_content_security_policy(script=script, style=style),
            version=__version__,
        )
    )


def lms_totals(bank: Bank) -> tuple[int, float]:
    """(questions, points) of a quiz imported from the LMS exports: one variant per template."""
    drawn = [members[0] for _, members in groups(bank)]
    return len(drawn), sum(question.points for question in drawn)


def render_answer_key(*, bank: Bank, title: str | None = None, seed: int = 0) -> str:
    """The instructor's answer key for ``bank``: reference answers, marking rubrics, correct
    options and the rationale of every option (in the order the page with ``seed`` shows
    them), accepted answers, numeric answers with their tolerance, objectives, tags and points;
    printable."""
    page_title = _check_title(bank.title if title is None else title)
    style = _asset(STYLE_RESOURCE, "</style")
    questions = page_questions(bank, seed=seed)
    lms_questions, lms_points = lms_totals(bank)
    return (
        environment()
        .get_template(ANSWER_KEY_TEMPLATE)
        .render(
            page_title=page_title,
            bank=bank,
            questions=questions,
            sections=_sections(questions),
            seed=seed,
            lms_questions=lms_questions,
            lms_points=lms_points,
            figure=_figure,
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
