"""write_quiz and `mnist-lab quiz`: all five files, byte-repeatable, nothing written for a bad
bank or a bad --out, and no answer readable in the student page."""

from __future__ import annotations

import html
import re
import zipfile
from importlib import resources
from pathlib import Path

import pytest
import yaml

from mnist_lab.cli import main
from mnist_lab.quiz.bank import BankError, load_bank
from mnist_lab.quiz.build import OUTPUT_FILES, QuizError, write_quiz
from mnist_lab.quiz.lms import number_text
from mnist_lab.quiz.variants import bank_with_variants

SEED, VARIANTS = 3, 2


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("quiz") / "out"
    return write_quiz(out_dir=out, seed=SEED, variants=VARIANTS)


@pytest.fixture(scope="module")
def bank():
    return bank_with_variants(load_bank(), seed=SEED, variants=VARIANTS)


def test_writes_the_five_files_and_reports_them(written, bank):
    assert sorted(path.name for path in written.out_dir.iterdir()) == sorted(OUTPUT_FILES)
    assert written.files == list(OUTPUT_FILES)
    assert written.questions == len(bank.questions)
    assert sum(written.questions_by_type.values()) == written.questions
    assert set(written.questions_by_type) == {"single", "multiple", "numeric", "short", "text"}
    assert written.to_dict()["seed"] == SEED
    assert zipfile.is_zipfile(written.out_dir / "quiz-qti.zip")


def test_same_inputs_give_the_same_bytes(written, tmp_path):
    again = write_quiz(out_dir=tmp_path / "again", seed=SEED, variants=VARIANTS)
    for name in OUTPUT_FILES:
        assert (again.out_dir / name).read_bytes() == (written.out_dir / name).read_bytes(), name
    other = write_quiz(out_dir=tmp_path / "other", seed=SEED + 1, variants=VARIANTS)
    assert (other.out_dir / "quiz.gift").read_bytes() != (
        written.out_dir / "quiz.gift"
    ).read_bytes()


def _visible_texts(bank) -> list[str]:
    """What the page shows as text anyway: the title, the stems and the option texts."""
    texts = [bank.title]
    for question in bank.questions:
        texts.append(question.stem)
        texts += [option.text for option in question.options]
    return texts


def _appears(needle: str, haystack: str) -> bool:
    return re.search(r"(?<![\w.])" + re.escape(needle) + r"(?![\w])", haystack) is not None


def test_student_page_contains_no_answer(written, bank):
    page = (written.out_dir / "quiz.html").read_text("utf-8")
    plain = html.unescape(page)
    visible = _visible_texts(bank)
    for question in bank.questions:
        assert question.reference_answer not in plain, question.id
        for option in question.options:
            if option.correct:  # its feedback would mark it ("Right: ...")
                assert option.feedback not in plain, (question.id, option.id)
        if question.feedback_correct:
            assert question.feedback_correct not in plain, question.id
        secrets = list(question.accepted)
        if question.answer is not None:
            number = number_text(question.answer)
            secrets += [number, f"{question.answer:,.0f}" if number.isdigit() else number]
        for secret in secrets:
            if any(_appears(secret, text) for text in visible):
                continue  # e.g. "784" is in several stems; that reveals nothing
            assert not _appears(secret, plain), (question.id, secret)
    assert not re.search(r"data-correct|\"correct\"\s*:", page)


def test_answer_key_has_every_reference_answer(written, bank):
    page = (written.out_dir / "answer-key.html").read_text("utf-8")
    key = html.unescape(re.sub(r"</?code>", "", page))
    for question in bank.questions:
        assert question.reference_answer.replace("`", "") in key, question.id


def _bad_bank(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    packaged = resources.files("mnist_lab.quiz").joinpath("questions.yaml")
    data = yaml.safe_load(packaged.read_text("utf-8"))
    data["questions"][2]["tolerance"] = -1
    path.write_text(yaml.safe_dump(data), "utf-8")
    return path


def test_a_malformed_bank_writes_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "quiz.gift").write_text("previous", "utf-8")
    with pytest.raises(
        BankError, match=r"bad\.yaml, question 'mnist-input-count', field 'tolerance'"
    ):
        write_quiz(out_dir=out, bank_path=_bad_bank(tmp_path))
    assert [p.name for p in out.iterdir()] == ["quiz.gift"]
    assert (out / "quiz.gift").read_text("utf-8") == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "out"]  # no staging left


def test_other_files_in_out_are_kept_and_old_outputs_replaced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine", "utf-8")
    (out / "quiz.gift").write_text("old", "utf-8")
    write_quiz(out_dir=out, variants=0)
    assert (out / "notes.txt").read_text("utf-8") == "mine"
    assert (out / "quiz.gift").read_text("utf-8").startswith("// ")


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"variants": 21}, "--variants must be between 0 and 20"),
        ({"variants": -1}, "--variants must be between 0 and 20"),
        ({"seed": -5}, "--seed must be 0 or more"),
    ],
)
def test_bad_options_are_refused_before_writing(tmp_path, options, words):
    with pytest.raises(QuizError, match=words):
        write_quiz(out_dir=tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_out_must_not_be_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("x", "utf-8")
    with pytest.raises(QuizError, match="is a file"):
        write_quiz(out_dir=target)


def test_cli_writes_the_quiz(tmp_path, capsys):
    assert main(["quiz", "--out", str(tmp_path / "q"), "--seed", "7", "--variants", "1"]) == 0
    output = capsys.readouterr().out
    assert f"wrote 5 files to {tmp_path / 'q'}/" in output
    assert "questions:" in output
    assert sorted(p.name for p in (tmp_path / "q").iterdir()) == sorted(OUTPUT_FILES)


def test_cli_reports_a_bad_out_in_one_line(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x", "utf-8")
    assert main(["quiz", "--out", str(target)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("mnist-lab: error: --out")
    assert error.count("\n") == 1
