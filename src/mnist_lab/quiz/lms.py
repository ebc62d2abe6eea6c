"""What the three LMS exports (QTI, Moodle XML, GIFT) share: text to HTML, number formatting,
the grouping of variants, and byte-repeatable zip files."""

from __future__ import annotations

import html
import re
from decimal import Decimal

from mnist_lab.quiz.bank import Bank, Question

_INLINE_CODE = re.compile(r"`([^`]+)`")


def text_html(text: str) -> str:
    """Plain bank text as HTML: escaped, with `backticks` as <code>."""
    escaped = html.escape(text, quote=False)
    return _INLINE_CODE.sub(r"<code>\1</code>", escaped)


def paragraph_html(text: str) -> str:
    return f"<p>{text_html(text)}</p>"


def number_text(value: float) -> str:
    """The shortest exact text of a number: 784 not 784.0, 0.7843 not 0.78430000000000002."""
    if value == int(value):
        return str(int(value))
    return repr(value)


def number_range(question: Question) -> tuple[str, str]:
    """The inclusive bounds answer - tolerance and answer + tolerance, computed in decimal so
    that 0.7843 - 0.005 is written 0.7793, not 0.7792999999999999."""
    assert question.answer is not None
    answer = Decimal(number_text(question.answer))
    tolerance = Decimal(number_text(question.tolerance))
    return _decimal_text(answer - tolerance), _decimal_text(answer + tolerance)


def _decimal_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def short_answer_forms(question: Question) -> tuple[str, ...]:
    """The accepted answers an LMS should list, without repeats, in bank order.

    An LMS trims a response and compares the rest as typed, ignoring case when told to, which is
    exactly the bank's rule (mnist_lab.quiz.responses), so the forms are the accepted answers."""
    return tuple(dict.fromkeys(answer.strip() for answer in question.accepted))


def rubric_html(question: Question) -> str:
    """A free-text question's marking rubric, for graders."""
    from mnist_lab.templating import format_points

    items = "".join(
        f"<li>{format_points(item.points)}: {text_html(item.criterion)}</li>"
        for item in question.rubric
    )
    return f"<p>Marking rubric ({format_points(question.points)}):</p><ul>{items}</ul>"


def checklist_html(question: Question) -> str:
    """What a good answer to a free-text question addresses, for students."""
    items = "".join(f"<li>{text_html(item.check)}</li>" for item in question.rubric)
    return f"<p>A good answer addresses:</p><ul>{items}</ul>"


def grader_information_html(question: Question) -> str:
    """What a grader of a free-text answer needs: the reference answer and the rubric."""
    return f"<p>Reference answer: {text_html(question.reference_answer)}</p>{rubric_html(question)}"


def groups(bank: Bank) -> list[tuple[str | None, tuple[Question, ...]]]:
    """The bank in order as (template id or None, questions): plain questions one by one
    (template None), the variants of one template together, where its first variant stood."""
    result: list[tuple[str | None, tuple[Question, ...]]] = []
    seen: set[str] = set()
    for question in bank.questions:
        if question.variant_of is None:
            result.append((None, (question,)))
        elif question.variant_of not in seen:
            seen.add(question.variant_of)
            members = tuple(q for q in bank.questions if q.variant_of == question.variant_of)
            result.append((question.variant_of, members))
    return result
