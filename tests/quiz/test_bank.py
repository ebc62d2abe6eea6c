"""The question bank: the packaged bank is complete and correct, a malformed bank is refused with
errors naming the file, question and field, and grade_response implements the documented rules."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from mnist_lab.constants import IMAGE_SIDE, NUM_CLASSES, NUM_PIXELS
from mnist_lab.quiz.bank import (
    MOODLE_EXACT_CORRECT_COUNTS,
    QUESTION_TYPES,
    BankError,
    grade_response,
    load_bank,
    parse_bank,
)

SLIDE_QUESTIONS = 9
HIDDEN_UNITS = 128


# ---------------------------------------------------------------- the packaged bank


@pytest.fixture(scope="module")
def bank():
    return load_bank()


def test_packaged_bank_has_the_nine_slide_questions_and_ten_more(bank):
    sources = [question.source for question in bank.questions]
    assert sources.count("slides") == SLIDE_QUESTIONS
    assert sources.count("extra") >= 10


def test_packaged_bank_mixes_all_five_types(bank):
    assert {question.type for question in bank.questions} == set(QUESTION_TYPES)


def test_every_free_text_question_has_a_rubric_for_graders_and_a_checklist_for_students(bank):
    free_text = [question for question in bank.questions if question.type == "text"]
    assert free_text
    for question in free_text:
        assert sum(item.points for item in question.rubric) == question.points, question.id
        for item in question.rubric:
            assert len(item.criterion.split()) >= 8, question.id
            assert "?" in item.check, question.id


def test_every_question_is_fully_documented(bank):
    for question in bank.questions:
        assert question.reference_answer.endswith((".", "!", "?")), question.id
        assert len(question.reference_answer.split()) >= 8, question.id
        assert question.objective, question.id
        assert question.tags, question.id
        for option in question.options:
            assert len(option.feedback.split()) >= 4, (question.id, option.id)
        if question.type in ("numeric", "short"):
            assert question.feedback_incorrect, question.id


@pytest.mark.parametrize(
    ("question_id", "expected"),
    [
        ("mnist-input-count", NUM_PIXELS),
        ("mnist-dense-128-params", NUM_PIXELS * HIDDEN_UNITS + HIDDEN_UNITS),
        ("mnist-dense-10-params", HIDDEN_UNITS * NUM_CLASSES + NUM_CLASSES),
        (
            "mnist-total-params",
            NUM_PIXELS * HIDDEN_UNITS + HIDDEN_UNITS + HIDDEN_UNITS * NUM_CLASSES + NUM_CLASSES,
        ),
        ("mnist-colour-image-values", IMAGE_SIDE * IMAGE_SIDE * 3),
    ],
)
def test_numeric_answers_are_the_computed_facts(bank, question_id, expected):
    assert bank.question(question_id).answer == expected


@pytest.mark.slow  # imports Keras
def test_parameter_counts_match_a_real_keras_model(bank):
    keras = pytest.importorskip("keras")
    model = keras.Sequential(
        [
            keras.Input(shape=(NUM_PIXELS,)),
            keras.layers.Dense(HIDDEN_UNITS, activation="relu"),
            keras.layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )
    hidden, output = model.layers
    assert bank.question("mnist-dense-128-params").answer == hidden.count_params()
    assert bank.question("mnist-dense-10-params").answer == output.count_params()
    assert bank.question("mnist-total-params").answer == model.count_params()


def test_every_auto_graded_question_can_be_answered_fully(bank):
    for question in bank.questions:
        if question.type == "single":
            best = question.correct_options[0].id
        elif question.type == "multiple":
            best = [option.id for option in question.correct_options]
        elif question.type == "numeric":
            best = question.answer
        elif question.type == "short":
            best = question.accepted[0]
        else:
            assert grade_response(question, "anything") is None
            continue
        assert grade_response(question, best) == question.points, question.id


# ---------------------------------------------------------------- grade_response rules


def _question(**fields):
    base = {
        "id": "q",
        "type": "single",
        "stem": "Stem?",
        "reference_answer": "A full sentence.",
        "objective": "An objective.",
        "tags": ["t"],
        "points": 4,
    }
    base.update(fields)
    return parse_bank({"title": "T", "questions": [base]}, file="inline.yaml").questions[0]


def _options(*correct: bool):
    return [
        {"id": f"o{i}", "text": f"Option {i}", "correct": flag, "feedback": f"Because of {i}."}
        for i, flag in enumerate(correct)
    ]


def test_grade_single():
    question = _question(options=_options(False, True, False))
    assert grade_response(question, "o1") == 4
    assert grade_response(question, "o0") == 0
    assert grade_response(question, "nonexistent") == 0
    assert grade_response(question, None) == 0


def test_grade_multiple_right_minus_wrong_over_k_clamped_at_zero():
    question = _question(type="multiple", options=_options(True, True, False, False))
    assert grade_response(question, ["o0", "o1"]) == 4
    assert grade_response(question, {"o0"}) == 2
    assert grade_response(question, ["o0", "o1", "o2"]) == 2
    assert grade_response(question, ["o0", "o2", "o3"]) == 0  # 1 - 2 < 0 -> 0
    assert grade_response(question, []) == 0
    assert grade_response(question, ["o0", "o0"]) == 2  # a duplicate counts once
    assert grade_response(question, "o0") == 0  # a bare string is not a selection


def test_grade_numeric_tolerance_is_inclusive_as_in_moodle():
    question = _question(type="numeric", answer=0.784, tolerance=0.005)
    assert grade_response(question, 0.789) == 4
    assert grade_response(question, "0.779") == 4
    assert grade_response(question, 0.79) == 0
    assert grade_response(question, "seven") == 0
    assert grade_response(question, float("nan")) == 0
    assert grade_response(question, True) == 0
    exact = _question(type="numeric", answer=784)
    assert grade_response(exact, "784") == 4
    assert grade_response(exact, 785) == 0
    assert grade_response(_question(type="numeric", answer=0.3), 0.1 + 0.2) == 4
    # Moodle's slack is relative: 1e-14 of the answer, not an absolute 1e-9.
    big = _question(type="numeric", answer=25_166_336)
    assert grade_response(big, 25_166_336 + 1e-7) == 4
    assert grade_response(big, 25_166_336 + 1e-6) == 0
    small = _question(type="numeric", answer=0.001)
    assert grade_response(small, 0.001 + 5e-18) == 4
    assert grade_response(small, 0.001 + 1e-16) == 0


@pytest.mark.parametrize(
    ("response", "points"),
    [  # what Moodle 4.2 gave each response (../shared/notes/moodle-import-facts.md)
        ("784", 4),
        ("784 px", 4),
        ("784px", 4),
        ("784 values", 4),
        ("7 84", 4),
        ("7.84x10^2", 4),
        ("7.84*10^2", 4),
        ("7.84×10^2", 4),
        ("7.84x10**2", 4),
        ("7.84e2", 4),
        ("٧٨٤", 0),
        ("７８４", 0),
        ("inf", 0),
        ("nan", 0),
        ("1e400", 0),
        ("abc", 0),
        ("", 0),
    ],
)
def test_grade_numeric_reads_numbers_as_moodle_does(response, points):
    assert grade_response(_question(type="numeric", answer=784), response) == points


@pytest.mark.parametrize(
    ("answer", "tolerance", "response", "points"),
    [
        (1290, 0, "1,290", 4),
        (1290, 0, "1 290", 4),
        (1290, 0, "1_290", 0),  # read as 1, with "_290" as unit text
        (1290, 0, "1.290", 0),  # read as 1.29
        (0.7843, 0.005, "0.78", 4),
        (0.7843, 0.005, "0,7843", 0),  # the comma separates thousands: 7843
        (0.7843, 0.005, "200/255", 0),  # read as 200
    ],
)
def test_grade_numeric_separators_as_moodle(answer, tolerance, response, points):
    question = _question(type="numeric", answer=answer, tolerance=tolerance)
    assert grade_response(question, response) == points


def test_grade_short_trims_the_ends_and_compares_the_rest_as_an_lms_does():
    question = _question(type="short", accepted=["np.argmax", "soft max"], normalise=["case"])
    assert grade_response(question, "NP.ArgMax") == 4
    assert grade_response(question, " np.argmax\t\n") == 4  # the ends are trimmed, always
    assert grade_response(question, "np.argmax()") == 0  # punctuation is compared as typed
    assert grade_response(question, "np.argmax.") == 0
    assert grade_response(question, "soft max") == 4
    assert grade_response(question, "soft  max") == 0  # Moodle does not collapse inner spaces
    assert grade_response(question, "soft\tmax") == 0
    assert grade_response(question, "\xa0soft max") == 0  # PHP's trim keeps a no-break space
    assert grade_response(question, "SOFT MAX") == 4
    assert grade_response(question, "ſoft max") == 4  # simple case folding: long s is s
    assert grade_response(question, 7) == 0
    strict = _question(type="short", accepted=["softmax"], normalise=[])
    assert grade_response(strict, "softmax") == 4
    assert grade_response(strict, "Softmax") == 0
    german = _question(type="short", accepted=["Straße"], normalise=["case"])
    assert grade_response(german, "STRASSE") == 0  # no full case folding (ß is not ss)
    assert grade_response(german, "STRAẞE") == 4  # capital sharp s folds to ß
    composed = _question(type="short", accepted=["café"], normalise=[])
    assert grade_response(composed, "cafe\u0301") == 4  # Moodle compares in NFC form


def test_grade_text_is_not_auto_graded():
    rubric = [{"points": 4, "criterion": "says why", "check": "Why?"}]
    assert grade_response(_question(type="text", rubric=rubric), "my essay") is None


# ---------------------------------------------------------------- validation

VALID = {
    "title": "A bank",
    "questions": [
        {
            "id": "first",
            "type": "single",
            "stem": "Which?",
            "options": _options(True, False),
            "reference_answer": "This one.",
            "objective": "Know it.",
            "tags": ["basics"],
            "points": 1,
        },
        {
            "id": "second",
            "type": "numeric",
            "stem": "How many?",
            "answer": 784,
            "tolerance": 0,
            "reference_answer": "784 of them.",
            "objective": "Count.",
            "tags": ["counting"],
            "points": 1,
        },
    ],
}


def _write(tmp_path: Path, data) -> Path:
    path = tmp_path / "bank.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), "utf-8")
    return path


def _broken(change):
    data = copy.deepcopy(VALID)
    change(data)
    return data


def test_a_valid_bank_loads(tmp_path):
    bank = load_bank(_write(tmp_path, VALID))
    assert [question.id for question in bank.questions] == ["first", "second"]
    assert bank.title == "A bank"


def _set(index, name, value):
    return lambda data: data["questions"][index].__setitem__(name, value)


def _delete(index, name):
    return lambda data: data["questions"][index].pop(name)


def _set_option(index, option, name, value):
    return lambda data: data["questions"][index]["options"][option].__setitem__(name, value)


BROKEN_BANKS = {
    "missing stem": (_delete(0, "stem"), "first", "stem", "missing"),
    "missing reference answer": (_delete(1, "reference_answer"), "second", "reference_answer", ""),
    "reference answer not a sentence": (
        _set(0, "reference_answer", "this one"),
        "first",
        "reference_answer",
        "full sentences",
    ),
    "unknown type": (_set(0, "type", "essay"), "first", "type", "'essay' is not one of"),
    "unknown key": (_set(0, "hint", "x"), "first", "hint", "unknown field"),
    "key of another type": (_set(0, "tolerance", 1), "first", "tolerance", "not used by"),
    "duplicate id": (_set(1, "id", "first"), "first", "id", "duplicate"),
    "bad id": (_set(0, "id", "First Question"), "#1", "id", "not an id"),
    "single with two correct": (
        _set_option(0, 1, "correct", True),
        "first",
        "options",
        "exactly 1 correct",
    ),
    "single with no options": (_set(0, "options", []), "first", "options", "at least 2"),
    "option without feedback": (
        lambda data: data["questions"][0]["options"][0].pop("feedback"),
        "first",
        "options[0].feedback",
        "missing",
    ),
    "option correct not a boolean": (
        _set_option(0, 0, "correct", "yes please"),
        "first",
        "options[0].correct",
        "true or false",
    ),
    "two options with the same text": (
        _set_option(0, 1, "text", "Option 0"),
        "first",
        "options",
        "same text",
    ),
    "unknown option field": (
        _set_option(0, 0, "hint", "x"),
        "first",
        "options[0].hint",
        "unknown field",
    ),
    "multiple without a correct option": (
        lambda data: data["questions"][0].update(type="multiple", options=_options(False, False)),
        "first",
        "options",
        "at least 1 correct",
    ),
    "duplicate option id": (_set_option(0, 1, "id", "o0"), "first", "options[1].id", "duplicate"),
    "numeric without answer": (_delete(1, "answer"), "second", "answer", "missing"),
    "numeric answer not a number": (_set(1, "answer", "784"), "second", "answer", "number"),
    "negative tolerance": (_set(1, "tolerance", -1), "second", "tolerance", ">= 0"),
    "zero points": (_set(1, "points", 0), "second", "points", "greater than 0"),
    "empty tags": (_set(1, "tags", []), "second", "tags", "non-empty list"),
    "unknown source": (_set(1, "source", "book"), "second", "source", "'book' is not one of"),
    "text field given a number": (_set(0, "stem", 784), "first", "stem", "must be text"),
    "unknown figure": (_set(0, "figure", "loss-plot"), "first", "figure", "not one of"),
    "free text with right/wrong feedback": (
        lambda data: (
            data["questions"][1].update(
                type="text",
                rubric=[{"points": 1, "criterion": "c", "check": "k"}],
                feedback_correct="Well done.",
                **{"answer": None, "tolerance": None},
            )
            or [data["questions"][1].pop(name) for name in ("answer", "tolerance")]
        ),
        "second",
        "feedback_correct",
        "rubric[].check",
    ),
    "free text without rubric": (
        lambda data: (
            data["questions"][1].update(type="text")
            or [data["questions"][1].pop(name) for name in ("answer", "tolerance")]
        ),
        "second",
        "rubric",
        "missing",
    ),
    "rubric points do not add up": (
        lambda data: (
            data["questions"][1].update(
                type="text", points=2, rubric=[{"points": 1, "criterion": "c", "check": "k"}]
            )
            or [data["questions"][1].pop(name) for name in ("answer", "tolerance")]
        ),
        "second",
        "rubric",
        "add up to 1, but the question is worth 2",
    ),
    "rubric line without check": (
        lambda data: (
            data["questions"][1].update(type="text", rubric=[{"points": 1, "criterion": "c"}])
            or [data["questions"][1].pop(name) for name in ("answer", "tolerance")]
        ),
        "second",
        "rubric[0].check",
        "missing",
    ),
    "retired normalisation": (
        lambda data: (
            data["questions"][1].update(
                type="short", accepted=["a b"], normalise=["case", "whitespace"]
            )
            or [data["questions"][1].pop(name) for name in ("answer", "tolerance")]
        ),
        "second",
        "normalise",
        "'whitespace' is no longer available",
    ),
    "accepted answer with a double space": (
        lambda data: (
            data["questions"][1].update(type="short", accepted=["soft  max"])
            or [data["questions"][1].pop(name) for name in ("answer", "tolerance")]
        ),
        "second",
        "accepted",
        "single spaces",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_BANKS))
def test_a_malformed_bank_names_file_question_and_field(tmp_path, case):
    change, question_id, field, words = BROKEN_BANKS[case]
    path = _write(tmp_path, _broken(change))
    with pytest.raises(BankError) as caught:
        load_bank(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"question {question_id!r}" in message
    assert f"field {field!r}" in message
    assert words in message


def test_moodle_fraction_rule_limits_the_number_of_correct_options(tmp_path):
    def three_correct(data):
        data["questions"][0]["type"] = "multiple"
        data["questions"][0]["options"] = _options(True, True, True, False)

    with pytest.raises(BankError, match=r"question 'first', field 'options': 3 correct options"):
        load_bank(_write(tmp_path, _broken(three_correct)))
    assert 3 not in MOODLE_EXACT_CORRECT_COUNTS


def test_short_answer_checks(tmp_path):
    def short(data):
        data["questions"][1] = {
            **{k: v for k, v in data["questions"][1].items() if k not in ("answer", "tolerance")},
            "type": "short",
            "accepted": ["784", 784],
            "normalise": ["case", "accents"],
        }

    with pytest.raises(BankError) as caught:
        load_bank(_write(tmp_path, _broken(short)))
    message = str(caught.value)
    assert "2 problems" in message
    assert "field 'accepted'" in message
    assert "field 'normalise'" in message


def test_all_problems_are_reported_at_once(tmp_path):
    def many(data):
        data["questions"][0].pop("stem")
        data["questions"][1]["tolerance"] = -0.5
        data["questions"][1]["colour"] = "red"

    with pytest.raises(BankError) as caught:
        load_bank(_write(tmp_path, _broken(many)))
    assert len(caught.value.problems) == 3
    assert str(caught.value).startswith("3 problems in the question bank:")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("title: [unclosed\n", "invalid YAML"),
        ("title: A\ntitle: B\nquestions: []\n", "duplicate key 'title'"),
        ("- just\n- a list\n", "must be a mapping"),
        ("title: A\nquestions: []\nauthor: me\n", "field 'author': unknown top-level field"),
    ],
)
def test_malformed_files(tmp_path, text, words):
    path = _write(tmp_path, text)
    with pytest.raises(BankError, match=str(path)) as caught:
        load_bank(path)
    assert words in str(caught.value)


def test_yaml_error_names_the_line(tmp_path):
    path = _write(tmp_path, "title: A\nquestions:\n  - id: x\n    stem: [broken\n")
    with pytest.raises(BankError, match=r"line \d+: invalid YAML"):
        load_bank(path)


def test_missing_file(tmp_path):
    with pytest.raises(BankError, match="no such file"):
        load_bank(tmp_path / "absent.yaml")


def test_bank_error_is_a_value_error():
    assert issubclass(BankError, ValueError)
