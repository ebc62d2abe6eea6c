"""Reference answers on the self-check page: absent by default, sealed in a practice page.

A default page must not contain the model answers in any form, not even sealed; a practice-only
page (``model_answers=True``, ``mnist-lab build --practice-quiz``) seals each one so that only a
right response, or any attempt at a free-text question, opens it. Boxes are opened here the way
quiz.js opens them.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import replace

import pytest

from mnist_lab.quiz.bank import Bank, load_bank
from mnist_lab.quiz.html import (
    _box_key,
    _numeric_buckets,
    bucket_width,
    option_value,
    page_data,
    page_questions,
    question_key,
    render_student_page,
)
from mnist_lab.quiz.responses import comparison_form
from mnist_lab.quiz.variants import bank_with_variants

SALT = "a fixed salt"


@pytest.fixture(scope="module")
def bank() -> Bank:
    return bank_with_variants(load_bank(), seed=5, variants=1)


def open_box(boxes: list[dict], key: bytes) -> dict | None:
    """quiz.js's openBox."""
    tag = hashlib.sha256(key + b"tag").hexdigest()[:32]
    for box in boxes:
        if box["t"] == tag:
            sealed = bytes.fromhex(box["d"])
            stream = b"".join(
                hashlib.sha256(key + b"stream" + n.to_bytes(4, "big")).digest()
                for n in range(math.ceil(len(sealed) / 32))
            )
            return json.loads(bytes(a ^ b for a, b in zip(sealed, stream, strict=False)))
    return None


def every_box(data: dict) -> list[dict | None]:
    """Every box of the page, opened with every token a student could reach."""
    opened = []
    for page_key, question in data["questions"].items():
        for kind, token in [("general", ""), ("checklist", "")] + [
            ("option", value) for value in question.get("options", [])
        ]:
            opened.append(open_box(question["boxes"], _box_key(SALT, page_key, kind, token)))
    return opened


def test_a_default_page_does_not_depend_on_the_reference_answers(bank: Bank) -> None:
    """Not even sealed: changing every reference answer leaves the page byte for byte equal."""
    changed = replace(
        bank,
        questions=tuple(
            replace(q, reference_answer=f"Something else entirely, {n}.")
            for n, q in enumerate(bank.questions)
        ),
    )
    assert render_student_page(bank=bank, salt=SALT) == render_student_page(bank=changed, salt=SALT)
    practice = render_student_page(bank=bank, salt=SALT, model_answers=True)
    assert practice != render_student_page(bank=changed, salt=SALT, model_answers=True)
    assert not any("r" in box for box in every_box(page_data(bank, salt=SALT)) if box)


def test_a_practice_page_opens_each_model_answer_only_with_a_right_response(bank: Bank) -> None:
    data = page_data(bank, salt=SALT, seed=0, model_answers=True)
    questions = page_questions(bank, seed=0)
    for number, question in enumerate(questions, start=1):
        page_key = question_key(number)
        boxes = data["questions"][page_key]["boxes"]

        def box(kind: str, token: str, page_key: str = page_key, boxes: list = boxes):
            return open_box(boxes, _box_key(SALT, page_key, kind, token))

        if question.options:
            for n, option in enumerate(question.options, start=1):
                payload = box("option", option_value(n))
                assert ("r" in payload) == option.correct, (question.id, option.id)
                if option.correct:
                    assert payload["r"] == question.reference_answer
        elif question.type == "numeric":
            right = [box("bucket", str(b)) for b in _numeric_buckets(question)]
            assert all(payload["r"] == question.reference_answer for payload in right)
            far = math.floor(
                (question.answer + 100 * (question.tolerance + 1)) / bucket_width(question)
            )
            assert box("bucket", str(far)) is None
        elif question.type == "short":
            for answer in question.accepted:
                payload = box("answer", comparison_form(answer, question.normalise))
                assert payload["r"] == question.reference_answer
        else:  # free text: the checklist and the model answer open after any attempt
            payload = box("checklist", "")
            assert payload == {
                "k": [item.check for item in question.rubric],
                "r": question.reference_answer,
            }
        assert "r" not in (box("general", "") or {})


def test_free_text_checklists_are_sealed_but_never_the_rubric_criteria(bank: Bank) -> None:
    page = render_student_page(bank=bank, salt=SALT)
    for question in bank.questions:
        for item in question.rubric:
            assert item.check not in page
            assert item.criterion not in page
    opened = [box for box in every_box(page_data(bank, salt=SALT)) if box and "k" in box]
    free_text = [q for q in bank.questions if q.type == "text"]
    assert [box["k"] for box in opened] == [[i.check for i in q.rubric] for q in free_text]
    assert not re.search("criterion", json.dumps(opened))
