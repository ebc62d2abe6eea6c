"""Moodle XML: only allowed grade fractions, multiple-answer fractions adding up to exactly 100 %,
tolerances, per-answer feedback, essays with grader information, categories for variants."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mnist_lab.quiz.bank import load_bank
from mnist_lab.quiz.lms import checklist_html, text_html
from mnist_lab.quiz.moodle import (
    ALLOWED_FRACTIONS,
    MoodleExportError,
    category_path,
    fraction_text,
    moodle_xml,
)
from mnist_lab.quiz.variants import bank_with_variants

etree = pytest.importorskip("lxml.etree")


@pytest.fixture(scope="module")
def bank():
    return bank_with_variants(load_bank(), seed=4, variants=2)


@pytest.fixture(scope="module")
def root(bank):
    return etree.fromstring(moodle_xml(bank=bank))


def _questions(root):
    return {
        q.findtext("name/text"): q for q in root.iter("question") if q.get("type") != "category"
    }


def test_every_fraction_is_one_moodle_accepts(root):
    fractions = [answer.get("fraction") for answer in root.iter("answer")]
    assert fractions
    assert set(fractions) <= ALLOWED_FRACTIONS


def test_multiple_answer_fractions_add_up_to_exactly_100(root, bank):
    questions = _questions(root)
    for question in bank.questions:
        if question.type != "multiple":
            continue
        element = questions[question.id]
        assert element.findtext("single") == "false"
        positive = [Decimal(a.get("fraction")) for a in element.iter("answer")]
        assert sum(f for f in positive if f > 0) == 100
        assert len([f for f in positive if f > 0]) == len(question.correct_options)


def test_answers_carry_the_option_feedback(root, bank):
    questions = _questions(root)
    for question in bank.questions:
        feedback = [
            "".join(a.find("feedback").itertext()) for a in questions[question.id].iter("answer")
        ]
        for option in question.options:
            expected = text_html(option.feedback)
            assert any(expected in text for text in feedback), (question.id, option.id)


def test_numerical_answers_have_the_tolerance(root, bank):
    questions = _questions(root)
    tolerant = bank.question("mnist-pixel-after-normalize")
    answer = questions[tolerant.id].find("answer")
    assert float(answer.findtext("text")) == tolerant.answer
    assert float(answer.findtext("tolerance")) == tolerant.tolerance
    assert questions["mnist-dense-128-params"].find("answer").findtext("text") == "100480"


def test_essays_have_reference_answer_and_rubric_for_graders_and_a_checklist(root, bank):
    questions = _questions(root)
    for question in bank.questions:
        if question.type == "text":
            element = questions[question.id]
            assert element.get("type") == "essay"
            grader = element.findtext("graderinfo/text")
            assert text_html(question.reference_answer) in grader
            for item in question.rubric:
                assert text_html(item.criterion) in grader
            general = element.findtext("generalfeedback/text")
            assert general == checklist_html(question)
            assert text_html(question.reference_answer) not in general


def test_variants_are_in_one_category_per_template(root, bank):
    current = None
    seen: dict[str, str] = {}
    for element in root.iter("question"):
        if element.get("type") == "category":
            current = element.findtext("category/text")
        else:
            seen[element.findtext("name/text")] = current
    for question in bank.questions:
        assert seen[question.id] == category_path(bank, question.variant_of)
    assert category_path(bank, "t").endswith("/t")


def test_names_and_idnumbers_are_the_bank_ids(root, bank):
    questions = _questions(root)
    assert set(questions) == {q.id for q in bank.questions}
    for name, element in questions.items():
        assert element.findtext("idnumber") == name


def test_output_is_byte_repeatable(bank):
    assert moodle_xml(bank=bank) == moodle_xml(
        bank=bank_with_variants(load_bank(), seed=4, variants=2)
    )


@pytest.mark.parametrize("percent", ["33.333333333", "3", "-7"])
def test_a_fraction_outside_moodles_list_is_refused(percent):
    with pytest.raises(MoodleExportError, match="not a grade fraction Moodle accepts"):
        fraction_text(Decimal(percent))


def test_category_names_escape_slashes(bank):
    from dataclasses import replace

    assert category_path(replace(bank, title="A/B")) == "$course$/top/A//B"
