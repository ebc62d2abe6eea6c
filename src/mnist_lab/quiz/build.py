"""Write every output of the question bank (``mnist-lab quiz``): the student's self-check page,
the instructor's answer key, the QTI zip (Canvas and other QTI 1.2 LMSs), Moodle XML and GIFT.
The seed draws the variants and the order of the options on the page; ``model_answers`` makes a
practice-only page that shows each reference answer after a right response (free text: after
any attempt).

The bank is loaded and validated first, and everything is rendered into a staging folder next
to ``out_dir``; only when all files exist are they moved into ``out_dir``. A malformed bank or a
rendering error therefore leaves ``out_dir`` as it was. The same bank, seed and variant count
give byte-identical files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnist_lab.constants import STUDENT_PAGE
from mnist_lab.errors import UserError
from mnist_lab.quiz.bank import Bank, load_bank
from mnist_lab.quiz.gift import gift_text
from mnist_lab.quiz.moodle import moodle_xml
from mnist_lab.quiz.qti import qti_package
from mnist_lab.quiz.variants import MAX_VARIANTS, bank_with_variants

DEFAULT_VARIANTS = 3
ANSWER_KEY = "answer-key.html"
QTI_ZIP = "quiz-qti.zip"
MOODLE_XML = "quiz-moodle.xml"
GIFT_FILE = "quiz.gift"
OUTPUT_FILES = (STUDENT_PAGE, ANSWER_KEY, QTI_ZIP, MOODLE_XML, GIFT_FILE)


class QuizError(UserError, RuntimeError):
    """The quiz cannot be written where it was asked to go, or with the options given."""


@dataclass
class QuizResult:
    """What ``write_quiz`` wrote."""

    out_dir: Path
    seed: int
    variants: int
    model_answers: bool = False
    files: list[str] = field(default_factory=list)  # names inside out_dir, in writing order
    questions: int = 0  # including variants
    questions_by_type: dict[str, int] = field(default_factory=dict)
    points: float = 0.0  # the self-check page's total (every question, every variant)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "seed": self.seed,
            "variants": self.variants,
            "model_answers": self.model_answers,
            "files": list(self.files),
            "questions": self.questions,
            "questions_by_type": dict(self.questions_by_type),
            "points": self.points,
        }


def _render(bank: Bank, *, seed: int, model_answers: bool) -> dict[str, bytes]:
    from mnist_lab.quiz.html import render_answer_key, render_student_page

    page = render_student_page(bank=bank, seed=seed, model_answers=model_answers)
    return {
        STUDENT_PAGE: page.encode("utf-8"),
        ANSWER_KEY: render_answer_key(bank=bank, seed=seed).encode("utf-8"),
        QTI_ZIP: qti_package(bank=bank),
        MOODLE_XML: moodle_xml(bank=bank),
        GIFT_FILE: gift_text(bank=bank).encode("utf-8"),
    }


def write_quiz(
    *,
    out_dir: Path,
    seed: int = 0,
    variants: int = DEFAULT_VARIANTS,
    bank_path: Path | None = None,
    model_answers: bool = False,
) -> QuizResult:
    """Validate the bank (``bank_path``, default the packaged one), add ``variants`` variants
    per template drawn with ``seed``, and write the five quiz files into ``out_dir``. With
    ``model_answers`` the student page is for practice only: it shows the reference answers.

    ``out_dir`` may be absent or a folder; files of other names in it are left alone. Raises
    ``BankError`` for a malformed bank and ``QuizError`` for a bad ``out_dir``, seed or count.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise QuizError(f"--out {out_dir}: is a file, expected a folder")
    if not 0 <= variants <= MAX_VARIANTS:
        raise QuizError(f"--variants must be between 0 and {MAX_VARIANTS}, got {variants}")
    if seed < 0:
        raise QuizError(f"--seed must be 0 or more, got {seed}")
    bank = bank_with_variants(load_bank(bank_path), seed=seed, variants=variants)
    contents = _render(bank, seed=seed, model_answers=model_answers)

    parent = out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".mnist-lab-quiz-", dir=parent))
    try:
        for name, data in contents.items():
            (staging / name).write_bytes(data)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in contents:
            os.replace(staging / name, out_dir / name)  # same file system: atomic per file
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    by_type: dict[str, int] = {}
    for question in bank.questions:
        by_type[question.type] = by_type.get(question.type, 0) + 1
    return QuizResult(
        out_dir=out_dir,
        seed=seed,
        variants=variants,
        model_answers=model_answers,
        files=list(contents),
        questions=len(bank.questions),
        questions_by_type=by_type,
        points=bank.total_points,
    )
