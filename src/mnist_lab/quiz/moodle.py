"""The bank as Moodle XML (Question bank > Import > Moodle XML format).

Scores equal ``bank.grade_response``: single choice gives the correct option 100 % and the
others 0 %; multiple choice (Moodle's multichoice with single=false, which adds the fractions
of the chosen options and keeps the total between 0 and 100 %) gives each correct option
100/k % and each wrong one -100/k %, so the positive fractions add up to exactly 100 %
(validation restricts k to values where 100/k is exact in Moodle's list); numerical questions
have one 100 % answer with the bank's absolute tolerance (Moodle reads a typed number exactly as
``mnist_lab.quiz.responses`` does) and a catch-all wrong answer carrying the wrong-answer
feedback; short answers list every accepted form at 100 %; free text becomes an essay whose
grader information is the reference answer and the marking rubric, and whose general feedback
is what a good answer addresses.

Each question's name and idnumber are its bank id, so it is recognisable after an import;
variants of one template go into their own category, from which a quiz draws one random
question. (Moodle's XML import always adds questions; the stable names and idnumbers are what
let an instructor find and replace an earlier import.)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

from mnist_lab.quiz.bank import Bank, Question
from mnist_lab.quiz.lms import (
    checklist_html,
    grader_information_html,
    groups,
    number_text,
    paragraph_html,
    short_answer_forms,
    text_html,
)

# The grade fractions Moodle accepts (percent), as Moodle writes them.
MOODLE_FRACTIONS = (
    "100", "90", "83.33333", "80", "75", "70", "66.66667", "60", "50", "40", "33.33333", "30",
    "25", "20", "16.66667", "14.28571", "12.5", "11.11111", "10", "5", "0",
)  # fmt: skip
ALLOWED_FRACTIONS = frozenset(MOODLE_FRACTIONS) | {f"-{f}" for f in MOODLE_FRACTIONS if f != "0"}


class MoodleExportError(ValueError):
    """A question needs a grade fraction Moodle does not accept."""


def fraction_text(percent: Decimal) -> str:
    """A fraction as Moodle writes it, refused unless it is one of Moodle's allowed values."""
    text = format(percent.normalize(), "f")
    if text not in ALLOWED_FRACTIONS:
        raise MoodleExportError(f"{text} % is not a grade fraction Moodle accepts")
    return text


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _text(parent: ET.Element, tag: str, html: str, *, format: str = "html") -> ET.Element:
    element = _sub(parent, tag, format=format)
    _sub(element, "text", html)
    return element


def _answer(parent: ET.Element, fraction: str, text: str, feedback: str, *, fmt: str) -> ET.Element:
    answer = _sub(parent, "answer", fraction=fraction, format=fmt)
    _sub(answer, "text", text)
    _text(answer, "feedback", feedback)
    return answer


def _question(question: Question) -> ET.Element:
    moodle_type = {
        "single": "multichoice",
        "multiple": "multichoice",
        "numeric": "numerical",
        "short": "shortanswer",
        "text": "essay",
    }[question.type]
    element = ET.Element("question", type=moodle_type)
    _sub(_sub(element, "name"), "text", question.id)
    _text(element, "questiontext", paragraph_html(question.stem))
    # Shown to students after their attempt (per the quiz's review options): the reference
    # answer, or for free text what a good answer addresses, as on the self-check page.
    if question.type == "text":
        general = checklist_html(question)
    else:
        general = paragraph_html(question.reference_answer)
    _text(element, "generalfeedback", general)
    _sub(element, "defaultgrade", number_text(question.points))
    _sub(element, "penalty", "0")
    _sub(element, "hidden", "0")
    _sub(element, "idnumber", question.id)

    if question.type in ("single", "multiple"):
        _sub(element, "single", "true" if question.type == "single" else "false")
        _sub(element, "shuffleanswers", "true")
        _sub(element, "answernumbering", "abc")
        _sub(element, "showstandardinstruction", "0")
        _text(element, "correctfeedback", paragraph_html(question.feedback_correct))
        partial = question.feedback_incorrect if question.type == "multiple" else ""
        _text(element, "partiallycorrectfeedback", paragraph_html(partial) if partial else "")
        _text(element, "incorrectfeedback", paragraph_html(question.feedback_incorrect))
        _sub(element, "shownumcorrect")
        share = Decimal(100) / len(question.correct_options)
        for option in question.options:
            if question.type == "single":
                fraction = Decimal(100) if option.correct else Decimal(0)
            else:
                fraction = share if option.correct else -share
            _answer(
                element,
                fraction_text(fraction),
                text_html(option.text),
                paragraph_html(option.feedback),
                fmt="html",
            )
    elif question.type == "numeric":
        answer = _answer(
            element,
            "100",
            number_text(question.answer),
            paragraph_html(question.feedback_correct),
            fmt="moodle_auto_format",
        )
        _sub(answer, "tolerance", number_text(question.tolerance))
        other = _answer(
            element, "0", "*", paragraph_html(question.feedback_incorrect), fmt="moodle_auto_format"
        )
        _sub(other, "tolerance", "0")
        _sub(element, "unitgradingtype", "0")
        _sub(element, "unitpenalty", "0")
        _sub(element, "showunits", "3")  # no unit input
        _sub(element, "unitsleft", "0")
    elif question.type == "short":
        _sub(element, "usecase", "0" if "case" in question.normalise else "1")
        for form in short_answer_forms(question):
            # "*" is Moodle's wildcard; a literal star is written \*.
            _answer(
                element,
                "100",
                form.replace("*", "\\*"),
                paragraph_html(question.feedback_correct),
                fmt="moodle_auto_format",
            )
        _answer(
            element, "0", "*", paragraph_html(question.feedback_incorrect), fmt="moodle_auto_format"
        )
    else:
        _sub(element, "responseformat", "editor")
        _sub(element, "responserequired", "1")
        _sub(element, "responsefieldlines", "10")
        _sub(element, "attachments", "0")
        _sub(element, "attachmentsrequired", "0")
        _text(element, "graderinfo", grader_information_html(question))
        _text(element, "responsetemplate", "")

    tags = _sub(element, "tags")
    for tag in (*question.tags, question.source):
        _sub(_sub(tags, "tag"), "text", tag)
    return element


def category_path(bank: Bank, template: str | None = None) -> str:
    """Moodle's category path ("/" separates levels, so a "/" in a name is written "//")."""
    parts = ["$course$", "top", bank.title.replace("/", "//")]
    if template is not None:
        parts.append(template)
    return "/".join(parts)


def _category(path: str, info: str) -> ET.Element:
    element = ET.Element("question", type="category")
    _sub(_sub(element, "category"), "text", path)
    _text(element, "info", info)
    return element


def moodle_xml(*, bank: Bank) -> bytes:
    """The Moodle XML file: the bank's category with the plain questions, then one category
    per variant template."""
    quiz = ET.Element("quiz")
    quiz.append(_category(category_path(bank), text_html(bank.title)))
    variant_groups = []
    for template, questions in groups(bank):
        if template is None:
            quiz.append(_question(questions[0]))
        else:
            variant_groups.append((template, questions))
    for template, questions in variant_groups:
        info = f"Variants of {template}: add one random question from this category to a quiz."
        quiz.append(_category(category_path(bank, template), text_html(info)))
        for question in questions:
            quiz.append(_question(question))
    ET.indent(quiz, space="  ")
    return ET.tostring(quiz, encoding="UTF-8", xml_declaration=True) + b"\n"
