"""GIFT: reserved characters escaped, every type written, essays with the reference answer only
in a comment, categories for variants."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from mnist_lab.quiz.bank import load_bank, parse_bank
from mnist_lab.quiz.gift import escape, gift_text, question_gift
from mnist_lab.quiz.lms import checklist_html, paragraph_html
from mnist_lab.quiz.variants import bank_with_variants

SPECIAL = "a~b=c#d{e}f:g\\h"


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def test_escape_covers_every_reserved_character():
    escaped = escape(SPECIAL + "\nnext")
    assert escaped == "a\\~b\\=c\\#d\\{e\\}f\\:g\\\\h\\nnext"
    assert _unescape(escaped) == SPECIAL + "\nnext"
    # no reserved character is left unescaped
    assert not re.search(r"(?<!\\)[~=#{}:]", escaped.replace("\\\\", ""))


def _tricky_bank():
    return parse_bank(
        {
            "title": "T",
            "questions": [
                {
                    "id": "tricky",
                    "type": "single",
                    "stem": "Is {x} = 1: yes # or ~ no?",
                    "options": [
                        {"id": "a", "text": "a = b", "correct": True, "feedback": "x: {y} # z."},
                        {"id": "b", "text": "~c", "correct": False, "feedback": "no \\ way."},
                    ],
                    "reference_answer": "Yes: {x} = 1.",
                    "objective": "O.",
                    "tags": ["t"],
                    "points": 1,
                }
            ],
        },
        file="tricky.yaml",
    )


def test_special_characters_in_bank_text_are_escaped():
    body = question_gift(_tricky_bank().questions[0])
    stem = body[body.index("[html]") + len("[html]") : body.index("{\n")]
    assert _unescape(stem) == "<p>Is {x} = 1: yes # or ~ no?</p>"
    assert "\t=a \\= b#<p>x\\: \\{y\\} \\# z.</p>" in body
    assert "\t~\\~c#<p>no \\\\ way.</p>" in body


@pytest.fixture(scope="module")
def bank():
    return bank_with_variants(load_bank(), seed=9, variants=2)


@pytest.fixture(scope="module")
def text(bank):
    return gift_text(bank=bank)


def test_every_question_has_its_id_as_title(text, bank):
    titles = re.findall(r"^::(.+?)::", text, re.M)
    assert titles == [q.id for q in bank.questions if q.variant_of is None] + [
        q.id for q in bank.questions if q.variant_of is not None
    ]


def test_essay_reference_answer_and_rubric_only_in_comments(text, bank):
    for question in bank.questions:
        if question.type != "text":
            continue
        lines = [line for line in text.splitlines() if question.reference_answer in line]
        assert lines
        assert all(line.startswith("// ") for line in lines)
        for item in question.rubric:
            assert next(line for line in text.splitlines() if item.criterion in line).startswith(
                "// Rubric: 1 point(s) when the answer "
            )
        assert f"::{question.id}::" in text
        block = text[text.index(f"::{question.id}::") :].split("\n\n")[0]
        # An essay whose general feedback is what a good answer addresses.
        assert block.rstrip().endswith("}")
        general = _unescape(block[block.index("{####") + 5 : -1])
        assert general == checklist_html(question)


def test_numeric_answers_have_tolerance_and_wrong_answer_feedback(text, bank):
    question = bank.question("mnist-pixel-after-normalize")
    assert "\t=0.7843:0.005#" in text[text.index(f"::{question.id}::") :]
    assert "{#\n\t=100480:0#" in text
    for question in bank.questions:
        if question.type == "numeric":
            block = text[text.index(f"::{question.id}::") :].split("\n\n")[0]
            wrong = [line for line in block.splitlines() if line.startswith("\t~")]
            # Moodle's GIFT importer turns "~#feedback" into a catch-all wrong answer.
            assert wrong == [f"\t~#{escape(paragraph_html(question.feedback_incorrect))}"]


def test_multiple_choice_weights(text):
    block = text[text.index("::mnist-softmax::") :].split("\n\n")[0]  # 4 of 6 correct
    assert block.count("~%25%") == 4
    assert block.count("~%-25%") == 2
    block = text[text.index("::mnist-validation-vs-test::") :].split("\n\n")[0]  # 1 of 4
    assert block.count("~%100%") == 1
    assert block.count("~%-100%") == 3


def test_variant_categories(text, bank):
    templates = sorted({q.variant_of for q in bank.questions if q.variant_of})
    categories = re.findall(r"^\$CATEGORY: (.+)$", text, re.M)
    assert len(categories) == 1 + len(templates)
    assert sorted(c.rsplit("/", 1)[1] for c in categories[1:]) == templates


def test_output_is_repeatable(text):
    assert text == gift_text(bank=bank_with_variants(load_bank(), seed=9, variants=2))


def test_a_title_with_special_characters_is_only_in_comments_and_categories():
    bank = replace(_tricky_bank(), title="A: {B}")
    text = gift_text(bank=bank)
    assert text.startswith("// A: {B}\n")
