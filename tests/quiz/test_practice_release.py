"""A practice-only release (`mnist-lab build --practice-quiz`, `mnist-lab quiz --practice-quiz`):
its quiz page carries the sealed model answers; a normal release's page has none, and both
grading guides carry the rubric of every free-text question."""

from __future__ import annotations

import json

import pytest

from mnist_lab.build import MANIFEST, BuildOptions, build_release
from mnist_lab.cli import main
from mnist_lab.quiz.bank import load_bank
from mnist_lab.quiz.html import render_student_page
from mnist_lab.quiz.variants import bank_with_variants


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("releases")
    for name, practice in (("normal", False), ("practice", True)):
        options = BuildOptions(execute_notebook=False, practice_quiz=practice, quiz_seed=4)
        build_release(out=folder / name, options=options)
    return folder


def test_only_the_practice_release_has_model_answers_in_its_quiz_page(releases) -> None:
    bank = bank_with_variants(load_bank(), seed=4, variants=3)
    normal = (releases / "normal" / "student" / "quiz.html").read_text("utf-8")
    practice = (releases / "practice" / "student" / "quiz.html").read_text("utf-8")
    assert normal == render_student_page(bank=bank, seed=4)
    assert practice == render_student_page(bank=bank, seed=4, model_answers=True)
    assert "followed by a model answer" in practice
    assert "followed by a model answer" not in normal
    for name, expected in (("normal", False), ("practice", True)):
        manifest = json.loads((releases / name / MANIFEST).read_text("utf-8"))
        assert manifest["options"]["practice_quiz"] is expected


def test_both_grading_guides_carry_every_free_text_rubric(releases) -> None:
    for name in ("normal", "practice"):
        guide = (releases / name / "instructor" / "grading-guide.md").read_text("utf-8")
        assert "## Quiz: marking the free-text questions" in guide
        for question in load_bank().questions:
            if question.type == "text":
                assert f"### `{question.id}`" in guide
                for item in question.rubric:
                    assert f"| {item.points:g} | {item.criterion} | {item.check} |" in guide
        assert ("practice page also shows the reference answer" in guide) == (name == "practice")


def test_the_quiz_command_writes_a_practice_page_when_asked(tmp_path, capsys) -> None:
    assert main(["quiz", "--out", str(tmp_path / "p"), "--practice-quiz", "--variants", "0"]) == 0
    assert main(["quiz", "--out", str(tmp_path / "n"), "--variants", "0"]) == 0
    bank = load_bank()
    practice = (tmp_path / "p" / "quiz.html").read_text("utf-8")
    assert practice == render_student_page(bank=bank, model_answers=True)
    assert (tmp_path / "n" / "quiz.html").read_text("utf-8") == render_student_page(bank=bank)
