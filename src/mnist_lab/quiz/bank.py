"""The question bank: typed model, loading and validation, and the one grader.

The bank is data (``questions.yaml``, packaged beside this module). ``load_bank`` turns it into
frozen dataclasses after checking every question; all problems are collected and raised as one
``BankError`` whose lines name the file, the question id and the field, so an author fixes the
whole file in one pass. ``grade_response`` is the scoring rule every output copies: the page's
JavaScript, the QTI respconditions, the Moodle fractions and the GIFT weights; typed numbers and
short answers are read by the rule of ``mnist_lab.quiz.responses``, which is Moodle's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from mnist_lab.errors import UserError
from mnist_lab.quiz.figures import FIGURES
from mnist_lab.quiz.responses import comparison_form, is_within, read_number

QuestionType = Literal["single", "multiple", "numeric", "short", "text"]
QUESTION_TYPES: tuple[str, ...] = get_args(QuestionType)
# The one normalisation an LMS can apply to short answers as well (Moodle's and Canvas's "ignore
# case"); the ends of a response are always trimmed, everything else is compared as typed.
NORMALISATIONS = ("case",)
RETIRED_NORMALISATIONS = {
    "whitespace": "the ends of a response are always trimmed and spaces inside are compared as "
    "typed, as an LMS does; remove 'whitespace'",
    "punctuation": "an LMS compares punctuation as typed, so the page would accept answers the "
    "LMS rejects; list the spellings you accept in 'accepted' instead",
}
SOURCES = ("slides", "extra")
BANK_RESOURCE = "questions.yaml"

ID_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# A multiple-answer question with k correct options gives each correct option 100/k % and each
# wrong one -100/k %. Moodle only accepts fractions from a fixed list, and its list rounds 100/3,
# 100/6, 100/7, 100/9 (33.33333 ...), which would make the Moodle score differ from ours in the
# 7th digit; so k is limited to the values whose 100/k is exact in Moodle's list.
MOODLE_EXACT_CORRECT_COUNTS = (1, 2, 4, 5, 8, 10, 20)
SENTENCE_END = (".", "!", "?")


class BankError(UserError, ValueError):
    """The question bank is malformed; the message lists every problem, one per line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        count = len(self.problems)
        lines = [f"{count} problem{'s' if count != 1 else ''} in the question bank:"]
        lines += [f"  {problem}" for problem in self.problems]
        super().__init__("\n".join(lines) if count != 1 else str(self.problems[0]))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the bank, and where."""

    file: str
    question_id: str | None  # None: the problem is outside any question (YAML syntax, top level)
    field: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.question_id is not None:
            where.append(f"question {self.question_id!r}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.message}"


@dataclass(frozen=True)
class Option:
    """A choice of a single- or multiple-choice question."""

    id: str
    text: str
    correct: bool
    feedback: str  # why a student might pick it, and why it is right or wrong

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "correct": self.correct,
            "feedback": self.feedback,
        }


@dataclass(frozen=True)
class RubricItem:
    """One line of a free-text question's marking rubric."""

    points: float
    criterion: str  # for graders: what earns the points
    check: str  # for students: what a good answer addresses, phrased without giving it away

    def to_dict(self) -> dict[str, Any]:
        return {"points": self.points, "criterion": self.criterion, "check": self.check}


@dataclass(frozen=True)
class Question:
    """One question of the bank (see QUIZ-INTERFACE.md for the meaning of each field)."""

    id: str
    type: QuestionType
    stem: str
    reference_answer: str
    objective: str
    tags: tuple[str, ...]
    points: float
    source: str
    options: tuple[Option, ...] = ()
    answer: float | None = None
    tolerance: float = 0.0
    accepted: tuple[str, ...] = ()
    normalise: tuple[str, ...] = ()
    feedback_correct: str = ""
    feedback_incorrect: str = ""
    variant_of: str | None = None
    rubric: tuple[RubricItem, ...] = ()
    figure: str | None = None  # a name of mnist_lab.quiz.figures.FIGURES shown under the stem

    @property
    def correct_options(self) -> tuple[Option, ...]:
        return tuple(option for option in self.options if option.correct)

    @property
    def auto_graded(self) -> bool:
        return self.type != "text"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "stem": self.stem,
            "options": [option.to_dict() for option in self.options],
            "answer": self.answer,
            "tolerance": self.tolerance,
            "accepted": list(self.accepted),
            "normalise": list(self.normalise),
            "reference_answer": self.reference_answer,
            "feedback_correct": self.feedback_correct,
            "feedback_incorrect": self.feedback_incorrect,
            "objective": self.objective,
            "tags": list(self.tags),
            "points": self.points,
            "source": self.source,
            "variant_of": self.variant_of,
            "rubric": [item.to_dict() for item in self.rubric],
            "figure": self.figure,
        }


@dataclass(frozen=True)
class Bank:
    """The whole bank, in file order."""

    questions: tuple[Question, ...]
    title: str
    _by_id: dict[str, Question] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {question.id: question for question in self.questions})

    def question(self, question_id: str) -> Question:
        """The question with this id (KeyError if there is none)."""
        return self._by_id[question_id]

    @property
    def total_points(self) -> float:
        return sum(question.points for question in self.questions)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "questions": [q.to_dict() for q in self.questions]}


def question_to_data(question: Question) -> dict[str, Any]:
    """The question in the bank file's form: only the fields its type uses, ready for YAML."""
    data = question.to_dict()
    used = _COMMON_FIELDS | _TYPE_FIELDS[question.type]
    return {
        name: value
        for name, value in data.items()
        if name in used and not (name in ("variant_of", "figure") and value is None)
    }


# ---------------------------------------------------------------------------------------------
# Grading


def grade_response(question: Question, response: Any) -> float | None:
    """The points ``response`` earns on ``question`` (0..points); None for free text.

    single: an option id. multiple: a collection of option ids; with k correct options the score
    is points * max(0, (right picks - wrong picks) / k). numeric: a number, or text read by
    ``responses.read_number``, right within Moodle's tolerance interval. short: text, right when
    its ``responses.comparison_form`` equals an accepted answer's. Anything malformed scores 0.
    """
    points = question.points
    if question.type == "text":
        return None
    if question.type == "single":
        chosen = [option for option in question.options if option.id == response]
        return points if chosen and chosen[0].correct else 0.0
    if question.type == "multiple":
        if isinstance(response, str) or not isinstance(response, Iterable):
            return 0.0
        picked = set(response)
        right = sum(1 for option in question.options if option.correct and option.id in picked)
        wrong = sum(1 for option in question.options if not option.correct and option.id in picked)
        return points * max(0.0, (right - wrong) / len(question.correct_options))
    if question.type == "numeric":
        number = read_number(response).value
        if number is None or question.answer is None:
            return 0.0
        return points if is_within(number, question.answer, question.tolerance) else 0.0
    if question.type == "short":
        if not isinstance(response, str):
            return 0.0
        given = comparison_form(response, question.normalise)
        accepted = {comparison_form(answer, question.normalise) for answer in question.accepted}
        return points if given in accepted else 0.0
    raise AssertionError(f"unknown question type {question.type!r}")  # validation prevents it


# ---------------------------------------------------------------------------------------------
# Loading and validation

_COMMON_FIELDS = {
    "id",
    "type",
    "stem",
    "reference_answer",
    "objective",
    "tags",
    "points",
    "source",
    "variant_of",
    "figure",
}
_TYPE_FIELDS: dict[str, set[str]] = {
    "single": {"options", "feedback_correct", "feedback_incorrect"},
    "multiple": {"options", "feedback_correct", "feedback_incorrect"},
    "numeric": {"answer", "tolerance", "feedback_correct", "feedback_incorrect"},
    "short": {"accepted", "normalise", "feedback_correct", "feedback_incorrect"},
    # Free text is not scored by a machine, so it has no right/wrong feedback; what a student
    # sees after an attempt is the rubric's "check" list.
    "text": {"rubric"},
}
_REQUIRED_FIELDS = ("id", "type", "stem", "reference_answer", "objective", "tags", "points")
_TYPE_REQUIRED: dict[str, tuple[str, ...]] = {
    "single": ("options",),
    "multiple": ("options",),
    "numeric": ("answer",),
    "short": ("accepted",),
    "text": ("rubric",),
}
_RUBRIC_FIELDS = ("points", "criterion", "check")
_OPTION_FIELDS = ("id", "text", "correct", "feedback")
_TOP_FIELDS = {"title", "questions"}


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _Checker:
    """Collects problems for one file while building the model."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, question_id: str | None, field_name: str | None, message: str) -> None:
        self.problems.append(Problem(self.file, question_id, field_name, message))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _text(check: _Checker, qid: str, raw: Mapping, name: str, *, required: bool) -> str:
    value = raw.get(name)
    if value is None:
        if required:
            check.add(qid, name, "missing (a non-empty text is required)")
        return ""
    if not isinstance(value, str):
        check.add(qid, name, f"must be text, got {type(value).__name__} {value!r} (quote it)")
        return ""
    if not value.strip():
        check.add(qid, name, "must not be empty")
    return value.strip()


def _question(check: _Checker, raw: Any, index: int, seen_ids: set[str]) -> Question | None:
    if not isinstance(raw, Mapping):
        check.add(f"#{index + 1}", None, f"must be a mapping of fields, got {type(raw).__name__}")
        return None
    qid = _question_id(check, raw.get("id"), index, seen_ids)
    problems_before = len(check.problems)
    qtype = raw.get("type")
    if qtype not in QUESTION_TYPES:
        check.add(qid, "type", f"{qtype!r} is not one of {', '.join(QUESTION_TYPES)}")
        return None
    _check_field_names(check, qid, qtype, raw)
    fields: dict[str, Any] = {"id": qid, "type": qtype}
    for name in _TEXT_FIELDS:
        fields[name] = _text(check, qid, raw, name, required=False)
    if fields["reference_answer"] and not fields["reference_answer"].endswith(SENTENCE_END):
        check.add(qid, "reference_answer", "must be written in full sentences (end with . ! ?)")
    for name, (default, read) in _FIELD_READERS.items():
        fields[name] = read(check, qid, raw[name]) if name in raw else default
    fields.update(_TYPE_READERS[qtype](check, qid, qtype, raw, fields["points"]))
    if len(check.problems) > problems_before:
        return None
    return Question(**fields)


def _question_id(check: _Checker, raw_id: Any, index: int, seen_ids: set[str]) -> str:
    if isinstance(raw_id, str) and ID_PATTERN.fullmatch(raw_id):
        if raw_id in seen_ids:
            check.add(raw_id, "id", "duplicate id (ids must be unique in the bank)")
        seen_ids.add(raw_id)
        return raw_id
    qid = f"#{index + 1}"  # name it by position until it has a usable id
    if raw_id is None:
        check.add(qid, "id", "missing")
    else:
        check.add(qid, "id", f"{raw_id!r} is not an id: use lowercase letters, digits and -")
    return qid


def _check_field_names(check: _Checker, qid: str, qtype: str, raw: Mapping) -> None:
    allowed = _COMMON_FIELDS | _TYPE_FIELDS[qtype]
    for name in raw:
        if name not in allowed:
            known = name in set().union(*_TYPE_FIELDS.values())
            hint = f"not used by {qtype!r} questions" if known else "unknown field"
            if qtype == "text" and name in ("feedback_correct", "feedback_incorrect"):
                hint += " (free text is not scored on the page; put what a good answer "
                hint += "addresses in rubric[].check, which students see after an attempt)"
            check.add(qid, str(name), hint)
    for name in (*_REQUIRED_FIELDS, *_TYPE_REQUIRED[qtype]):
        if name not in raw and name not in ("id", "type"):
            check.add(qid, name, "missing")


_TEXT_FIELDS = (
    "stem",
    "reference_answer",
    "objective",
    "feedback_correct",
    "feedback_incorrect",
)


def _read_figure(check: _Checker, qid: str, value: Any) -> str | None:
    if value is not None and value not in FIGURES:
        check.add(qid, "figure", f"{value!r} is not one of {', '.join(sorted(FIGURES))}")
    return value


def _read_tags(check: _Checker, qid: str, value: Any) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(tag, str) and ID_PATTERN.fullmatch(tag) for tag in value)
    ):
        check.add(qid, "tags", "must be a non-empty list of lowercase words (a-z, 0-9, -)")
        return ()
    return tuple(value)


def _read_points(check: _Checker, qid: str, value: Any) -> float:
    if not _is_number(value) or value <= 0:
        check.add(qid, "points", f"must be a number greater than 0, got {value!r}")
        return 0.0
    return float(value)


def _read_source(check: _Checker, qid: str, value: Any) -> str:
    if value not in SOURCES:
        check.add(qid, "source", f"{value!r} is not one of {', '.join(SOURCES)}")
    return value


def _read_variant_of(check: _Checker, qid: str, value: Any) -> str | None:
    if value is not None and not (isinstance(value, str) and ID_PATTERN.fullmatch(value)):
        check.add(qid, "variant_of", f"{value!r} is not a question id")
    return value


# field -> (value when absent, reader that checks it and gives the Question's value)
_FIELD_READERS: dict[str, tuple[Any, Any]] = {
    "figure": (None, _read_figure),
    "tags": ((), _read_tags),
    "points": (0.0, _read_points),
    "source": ("extra", _read_source),
    "variant_of": (None, _read_variant_of),
}


def _choice_fields(check: _Checker, qid: str, qtype: str, raw: Mapping, _: float) -> dict:
    if "options" not in raw:
        return {}
    return {"options": _options(check, qid, qtype, raw["options"])}


def _numeric_fields(check: _Checker, qid: str, qtype: str, raw: Mapping, _: float) -> dict:
    fields: dict[str, Any] = {}
    if "answer" in raw:
        if _is_number(raw["answer"]):
            fields["answer"] = float(raw["answer"])
        else:
            check.add(qid, "answer", f"must be a finite number, got {raw['answer']!r}")
    raw_tolerance = raw.get("tolerance", 0)
    if not _is_number(raw_tolerance) or raw_tolerance < 0:
        check.add(qid, "tolerance", f"must be a number >= 0, got {raw_tolerance!r}")
    else:
        fields["tolerance"] = float(raw_tolerance)
    return fields


def _short_fields(check: _Checker, qid: str, qtype: str, raw: Mapping, _: float) -> dict:
    accepted, normalise = _short(check, qid, raw)
    return {"accepted": accepted, "normalise": normalise}


def _text_fields(check: _Checker, qid: str, qtype: str, raw: Mapping, points: float) -> dict:
    if "rubric" not in raw:
        return {}
    return {"rubric": _rubric(check, qid, raw["rubric"], points)}


# question type -> the reader of its own fields
_TYPE_READERS = {
    "single": _choice_fields,
    "multiple": _choice_fields,
    "numeric": _numeric_fields,
    "short": _short_fields,
    "text": _text_fields,
}


def _options(check: _Checker, qid: str, qtype: str, raw_options: Any) -> tuple[Option, ...]:
    if not isinstance(raw_options, list) or len(raw_options) < 2:
        check.add(qid, "options", "must be a list of at least 2 options")
        return ()
    options: list[Option] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_options):
        where = f"options[{position}]"
        if not isinstance(raw, Mapping):
            check.add(qid, where, "must be a mapping with id, text, correct, feedback")
            continue
        for name in raw:
            if name not in _OPTION_FIELDS:
                check.add(qid, f"{where}.{name}", "unknown field")
        for name in _OPTION_FIELDS:
            if name not in raw:
                check.add(qid, f"{where}.{name}", "missing")
        option_id = raw.get("id")
        if option_id is not None:
            if not (isinstance(option_id, str) and ID_PATTERN.fullmatch(option_id)):
                check.add(qid, f"{where}.id", f"{option_id!r} is not an id (quote it; a-z 0-9 -)")
            elif option_id in seen:
                check.add(qid, f"{where}.id", f"duplicate option id {option_id!r}")
            seen.add(str(option_id))
        correct = raw.get("correct")
        if "correct" in raw and not isinstance(correct, bool):
            check.add(qid, f"{where}.correct", f"must be true or false, got {correct!r}")
        texts = {}
        for name in ("text", "feedback"):
            value = raw.get(name)
            if name in raw and (not isinstance(value, str) or not value.strip()):
                check.add(qid, f"{where}.{name}", f"must be non-empty text, got {value!r}")
            texts[name] = value.strip() if isinstance(value, str) else ""
        options.append(Option(str(option_id), texts["text"], correct is True, texts["feedback"]))
    correct_count = sum(1 for option in options if option.correct)
    if qtype == "single" and correct_count != 1:
        check.add(
            qid,
            "options",
            f"a single-choice question needs exactly 1 correct option, has {correct_count}",
        )
    if qtype == "multiple":
        if correct_count == 0:
            check.add(qid, "options", "a multiple-choice question needs at least 1 correct option")
        elif correct_count not in MOODLE_EXACT_CORRECT_COUNTS:
            check.add(
                qid,
                "options",
                f"{correct_count} correct options: 100/{correct_count} % "
                f"is not an exact Moodle grade fraction; use "
                f"{', '.join(map(str, MOODLE_EXACT_CORRECT_COUNTS))} correct options",
            )
    texts_seen = [option.text for option in options]
    if len(set(texts_seen)) != len(texts_seen):
        check.add(qid, "options", "two options have the same text")
    return tuple(options)


def _short(check: _Checker, qid: str, raw: Mapping) -> tuple[tuple[str, ...], tuple[str, ...]]:
    normalise: tuple[str, ...] = ()
    raw_normalise = raw.get("normalise", [])
    retired = [
        name
        for name in (raw_normalise if isinstance(raw_normalise, list) else [])
        if isinstance(name, str) and name in RETIRED_NORMALISATIONS
    ]
    for name in retired:
        check.add(
            qid, "normalise", f"{name!r} is no longer available: {RETIRED_NORMALISATIONS[name]}"
        )
    if retired:
        pass  # reported above, with what to do instead
    elif (
        not isinstance(raw_normalise, list)
        or not all(name in NORMALISATIONS for name in raw_normalise)
        or len(set(raw_normalise)) != len(raw_normalise)
    ):
        check.add(
            qid,
            "normalise",
            f"must be a list of distinct names from "
            f"{', '.join(NORMALISATIONS)}, got {raw_normalise!r}",
        )
    else:
        normalise = tuple(raw_normalise)
    accepted: tuple[str, ...] = ()
    raw_accepted = raw.get("accepted")
    if "accepted" not in raw:
        return accepted, normalise
    if not isinstance(raw_accepted, list) or not raw_accepted:
        check.add(qid, "accepted", "must be a non-empty list of accepted answers")
    elif not all(isinstance(answer, str) and answer.strip() for answer in raw_accepted):
        check.add(qid, "accepted", "every accepted answer must be non-empty text (quote numbers)")
    else:
        accepted = tuple(raw_accepted)
        for answer in accepted:
            if answer != " ".join(answer.split()):
                check.add(
                    qid,
                    "accepted",
                    f"{answer!r}: write single spaces between words and none at the ends "
                    "(responses are compared as typed, spaces included)",
                )
    return accepted, normalise


def _rubric(check: _Checker, qid: str, raw: Any, points: float) -> tuple[RubricItem, ...]:
    if not isinstance(raw, list) or not raw:
        check.add(qid, "rubric", "must be a non-empty list of {points, criterion, check}")
        return ()
    items: list[RubricItem] = []
    for position, entry in enumerate(raw):
        where = f"rubric[{position}]"
        if not isinstance(entry, Mapping):
            check.add(qid, where, "must be a mapping with points, criterion, check")
            continue
        for name in entry:
            if name not in _RUBRIC_FIELDS:
                check.add(qid, f"{where}.{name}", "unknown field")
        for name in _RUBRIC_FIELDS:
            if name not in entry:
                check.add(qid, f"{where}.{name}", "missing")
        value = entry.get("points")
        if "points" in entry and (not _is_number(value) or value <= 0):
            check.add(qid, f"{where}.points", f"must be a number greater than 0, got {value!r}")
        texts = {}
        for name in ("criterion", "check"):
            text = entry.get(name)
            if name in entry and (not isinstance(text, str) or not text.strip()):
                check.add(qid, f"{where}.{name}", f"must be non-empty text, got {text!r}")
            texts[name] = text.strip() if isinstance(text, str) else ""
        number = float(value) if _is_number(value) else 0.0
        items.append(RubricItem(number, texts["criterion"], texts["check"]))
    total = sum(item.points for item in items)
    if points and len(items) == len(raw) and not math.isclose(total, points):
        check.add(
            qid, "rubric", f"its points add up to {total:g}, but the question is worth {points:g}"
        )
    return tuple(items)


def parse_bank(data: Any, *, file: str) -> Bank:
    """Validate already-parsed YAML data and build the ``Bank`` (``file`` names it in errors)."""
    check = _Checker(file)
    if not isinstance(data, Mapping):
        check.add(None, None, "must be a mapping with 'title' and 'questions'")
        raise BankError(check.problems)
    for name in data:
        if name not in _TOP_FIELDS:
            check.add(None, str(name), "unknown top-level field (expected title, questions)")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        check.add(None, "title", "missing or empty")
        title = ""
    raw_questions = data.get("questions")
    questions: list[Question] = []
    if not isinstance(raw_questions, list) or not raw_questions:
        check.add(None, "questions", "must be a non-empty list of questions")
    else:
        seen_ids: set[str] = set()
        for index, raw in enumerate(raw_questions):
            question = _question(check, raw, index, seen_ids)
            if question is not None:
                questions.append(question)
    if check.problems:
        raise BankError(check.problems)
    return Bank(questions=tuple(questions), title=title.strip())


def parse_bank_text(text: str, *, file: str) -> Bank:
    """Parse YAML text and validate it; YAML syntax errors become a ``BankError`` with a line."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise BankError([Problem(file, None, None, f"{line}invalid YAML: {problem}")]) from None
    return parse_bank(data, file=file)


def load_bank(path: Path | None = None) -> Bank:
    """The bank in ``path``, or the packaged ``questions.yaml`` when ``path`` is None."""
    if path is None:
        text = resources.files("mnist_lab.quiz").joinpath(BANK_RESOURCE).read_text("utf-8")
        return parse_bank_text(text, file=BANK_RESOURCE)
    try:
        text = Path(path).read_text("utf-8")
    except FileNotFoundError:
        raise BankError([Problem(str(path), None, None, "no such file")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise BankError([Problem(str(path), None, None, f"cannot read: {error}")]) from None
    return parse_bank_text(text, file=str(path))
