"""The exported answer keys give the same score as grade_response, for every question and every
option (every subset of options for multiple choice) and for edge responses.

Each export is read back and scored by the rules of the system that imports it, written out
here independently of the exporters:
- QTI 1.2: respconditions in order; a true one applies its setvars (Set/Add) and stops unless
  continue="Yes"; SCORE is then kept within the decvar's minvalue..maxvalue and scaled to the
  item's points_possible. varequal compares option ids, or trimmed text (case="No": ignoring
  case, as Canvas does), vargte/varlte compare numbers.
- Moodle XML: single choice scores the chosen answer's fraction; multiple choice adds the
  fractions of the chosen answers and keeps the sum within 0..100 %; numerical reads the response
  as Moodle 4's qtype_numerical_answer_processor::apply_units does on an English-language site
  (ported below from its PHP) and scores the first answer whose nominal tolerance interval holds
  it; short answer the first answer equal to the trimmed, NFC response (ignoring case when
  usecase is 0), "*" matching anything.
- GIFT: parsed back from its text (unescaping), then scored like Moodle; a numerical question's
  "~#feedback" becomes a catch-all answer worth 0, as Moodle's GIFT importer makes it.
"""

from __future__ import annotations

import io
import itertools
import re
import unicodedata
import zipfile
from decimal import Decimal

import pytest

from mnist_lab.quiz.bank import Question, grade_response, load_bank
from mnist_lab.quiz.gift import gift_text
from mnist_lab.quiz.lms import number_text, short_answer_forms
from mnist_lab.quiz.moodle import moodle_xml
from mnist_lab.quiz.qti import qti_package
from mnist_lab.quiz.variants import bank_with_variants

etree = pytest.importorskip("lxml.etree")

MOODLE_EPSILON = 1e-14  # Moodle's pow(10, -precision), PHP's default precision being 14
PHP_TRIM = " \t\n\r\0\x0b"
BANK = bank_with_variants(load_bank(), seed=2, variants=2)
AUTO_GRADED = [question for question in BANK.questions if question.auto_graded]


def responses(question: Question) -> list:
    """Every option and every combination, the edges of a tolerance, spellings and near misses."""
    if question.type == "single":
        return [option.id for option in question.options] + ["", "no-such-option", None]
    if question.type == "multiple":
        ids = [option.id for option in question.options]
        subsets = itertools.chain.from_iterable(
            itertools.combinations(ids, size) for size in range(len(ids) + 1)
        )
        return [list(subset) for subset in subsets] + [["no-such-option"]]
    if question.type == "numeric":
        answer = Decimal(number_text(question.answer))
        tolerance = Decimal(number_text(question.tolerance))
        step = max(tolerance, abs(answer), Decimal(1)) * Decimal("1e-6")
        values = [
            answer,
            answer - tolerance,
            answer + tolerance,
            answer - tolerance - step,
            answer + tolerance + step,
            answer * 10,
            -answer,
            Decimal(0),
        ]
        written = str(answer)
        typed = [written, f"{written} px", f"{written}e0", f" {written}\t", "not a number", ""]
        typed += [written.replace(".", ","), written[:1] + "_" + written[1:], "٧٨٤"]
        if answer == int(answer):
            typed += [f"{int(answer):,}", f"{int(answer):,}".replace(",", " ")]
            typed += [f"{int(answer) / 100}x10^2", f"{int(answer):,}".replace(",", ".")]
        return [float(value) for value in values] + typed
    forms = short_answer_forms(question)
    spelled = [form.upper() for form in forms] + [f"  {form}  " for form in forms]
    spaced = [form.replace(" ", "  ") for form in forms if " " in form]
    return [*forms, *spelled, *spaced, f"\xa0{forms[0]}", f"{forms[0]}.", "wrong", "", "x"]


def _cases():
    for question in AUTO_GRADED:
        for number, response in enumerate(responses(question)):
            yield pytest.param(question, response, id=f"{question.id}-{number}")


# ---------------------------------------------------------------- QTI


def _strip(element):
    for node in element.iter():
        if isinstance(node.tag, str) and node.tag.startswith("{"):
            node.tag = node.tag.split("}", 1)[1]
    return element


@pytest.fixture(scope="module")
def qti_items():
    with zipfile.ZipFile(io.BytesIO(qti_package(bank=BANK))) as archive:
        (name,) = [n for n in archive.namelist() if "/" in n and "meta" not in n]
        root = _strip(etree.fromstring(archive.read(name)))
    return {item.get("ident"): item for item in root.iter("item")}


def _qti_true(node, response, kind: str) -> bool:
    """Evaluate a condition; kind is "choice" (response_lid), "number" or "text" (response_str)."""
    tag = node.tag
    if tag in ("conditionvar", "and"):
        return all(_qti_true(child, response, kind) for child in node)
    if tag == "or":
        return any(_qti_true(child, response, kind) for child in node)
    if tag == "not":
        return not _qti_true(node[0], response, kind)
    if tag == "other":
        return True
    assert tag in ("varequal", "vargte", "varlte"), tag
    if kind == "choice":
        chosen = response if isinstance(response, list) else [response]
        return node.text in chosen
    if kind == "number":
        number = _number(response)
        if number is None:
            return False
        bound = float(node.text)
        return {"varequal": number == bound, "vargte": number >= bound, "varlte": number <= bound}[
            tag
        ]
    if not isinstance(response, str):
        return False
    given, expected = response.strip(), node.text
    if node.get("case", "No") == "No":
        given, expected = given.casefold(), expected.casefold()
    return given == expected


def _number(response):
    try:
        return float(response)
    except (TypeError, ValueError):
        return None


def qti_score(item, response) -> float:
    if item.find("presentation/response_lid") is not None:
        kind = "choice"
    elif item.find("presentation/response_str/render_fib[@fibtype='Decimal']") is not None:
        kind = "number"
    else:
        kind = "text"
    decvar = item.find("resprocessing/outcomes/decvar")
    score = float(decvar.get("defaultval", 0))
    for condition in item.iter("respcondition"):
        if not _qti_true(condition.find("conditionvar"), response, kind):
            continue
        for setvar in condition.findall("setvar"):
            value = float(setvar.text)
            score = value if setvar.get("action", "Set") == "Set" else score + value
        if condition.get("continue", "No") == "No":
            break
    score = min(max(score, float(decvar.get("minvalue"))), float(decvar.get("maxvalue")))
    fields = {
        f.findtext("fieldlabel"): f.findtext("fieldentry") for f in item.iter("qtimetadatafield")
    }
    return float(fields["points_possible"]) * score / float(decvar.get("maxvalue"))


PLAIN_NUMBER = re.compile(r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*")


def _qti_comparable(question, response) -> bool:
    """How Canvas reads typed forms ("1,290", "784 px") and trims unusual spaces is not
    measured, so QTI is compared on plain numbers and ASCII text only; Moodle and GIFT on all
    (the README says what each format keeps)."""
    if not isinstance(response, str):
        return True
    if question.type == "numeric":
        return PLAIN_NUMBER.fullmatch(response) is not None or not any(
            c.isdigit() for c in response
        )
    return response.isascii()


@pytest.mark.parametrize(
    ("question", "response"), [case for case in _cases() if _qti_comparable(*case.values)]
)
def test_qti_scores_equal_grade_response(qti_items, question, response):
    expected = grade_response(question, response)
    assert qti_score(qti_items[question.id], response) == pytest.approx(expected, abs=1e-9)


# ---------------------------------------------------------------- Moodle XML


@pytest.fixture(scope="module")
def moodle_questions():
    root = etree.fromstring(moodle_xml(bank=BANK))
    return {
        element.findtext("name/text"): element
        for element in root.iter("question")
        if element.get("type") != "category"
    }


def _moodle_answers(element) -> list[dict]:
    answers = []
    for answer in element.findall("answer"):
        answers.append(
            {
                "fraction": float(answer.get("fraction")),
                "text": answer.findtext("text"),
                "tolerance": float(answer.findtext("tolerance") or 0),
            }
        )
    return answers


def moodle_number(response) -> float | None:
    """qtype_numerical_answer_processor::apply_units (Moodle 4, units after the number, English
    site: decsep ".", thousandssep ","), after PARAM_RAW_TRIMMED; None when it finds no number."""
    if isinstance(response, bool):
        return None
    if isinstance(response, (int, float)):
        return float(response)
    if not isinstance(response, str):
        return None
    text = response.strip(PHP_TRIM).replace(" ", "")
    text = re.sub(r"(?:e|E|(?:x|\*|×)10(?:\^|\*\*))([+-]?[0-9]+)", r"e\1", text)
    if "." in text or text.count(",") > 1:
        text = text.replace(",", "")
    else:  # str_replace([thousandssep, decsep, ","], ["", ".", "."]) in that order
        text = text.replace(",", "").replace(".", ".").replace(",", ".")
    match = re.match(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[-+]?[0-9]+)?", text)
    return float(match.group()) if match else None


def moodle_within(value: float, answer: float, tolerance: float) -> bool:
    """qtype_numerical_answer::within_tolerance, nominal tolerance."""
    reach = tolerance + MOODLE_EPSILON * max(abs(tolerance), abs(answer), MOODLE_EPSILON)
    return answer - reach <= value <= answer + reach


def moodle_like_score(
    kind: str,
    answers: list[dict],
    response,
    *,
    single: bool,
    usecase: bool,
    points: float,
    option_text: dict,
) -> float:
    """Moodle's scoring of one response; option ids are mapped to the answers' texts."""
    if kind == "multichoice":
        chosen = [option_text[r] for r in ([response] if single else response) if r in option_text]
        fractions = [a["fraction"] for a in answers if a["text"] in chosen]
        if single:
            return points * (fractions[0] / 100 if fractions else 0)
        return points * min(max(sum(fractions), 0), 100) / 100
    if kind == "numerical":
        number = moodle_number(response)
        if number is None or number != number:
            return 0.0
        for answer in answers:
            if answer["text"] == "*":
                return points * answer["fraction"] / 100
            if moodle_within(number, float(answer["text"]), answer["tolerance"]):
                return points * answer["fraction"] / 100
        return 0.0
    if kind == "shortanswer":
        if not isinstance(response, str):
            return 0.0
        given = unicodedata.normalize("NFC", response).strip(PHP_TRIM)
        for answer in answers:
            text = answer["text"].replace("\\*", "*")
            if answer["text"] == "*":
                matched = True
            elif usecase:
                matched = given == text
            else:
                matched = given.casefold() == text.casefold()
            if matched:
                return points * answer["fraction"] / 100
        return 0.0
    raise AssertionError(kind)


@pytest.mark.parametrize(("question", "response"), list(_cases()))
def test_moodle_scores_equal_grade_response(moodle_questions, question, response):
    from mnist_lab.quiz.lms import text_html

    element = moodle_questions[question.id]
    score = moodle_like_score(
        element.get("type"),
        _moodle_answers(element),
        response,
        single=element.findtext("single") == "true",
        usecase=element.findtext("usecase") == "1",
        points=float(element.findtext("defaultgrade")),
        option_text={option.id: text_html(option.text) for option in question.options},
    )
    assert score == pytest.approx(grade_response(question, response), abs=1e-9)


# ---------------------------------------------------------------- GIFT


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda match: "\n" if match.group(1) == "n" else match.group(1), text)


def _split_unescaped(text: str, separator: str) -> list[str]:
    return re.split(r"(?<!\\)" + re.escape(separator), text)


def parse_gift(text: str) -> dict[str, dict]:
    """The subset of GIFT the exporter writes: ::title::[html]stem{answers ####general}."""
    questions = {}
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(("//", "$CATEGORY"))]
        if not lines:
            continue
        body = "\n".join(lines)
        match = re.fullmatch(r"::(.*?)::\[html\](.*?)(?<!\\)\{(.*)(?<!\\)\}", body, re.S)
        assert match, body
        title, stem, answer_text = match.groups()
        # As Moodle's importer: the general feedback (after the last ####) comes off first.
        answer_text, *general = _split_unescaped(answer_text, "####")
        numeric = answer_text.startswith("#")
        answer_text = answer_text[1:] if numeric else answer_text
        answers = []
        for line in answer_text.strip().splitlines():
            line = line.strip()
            if numeric and line.startswith("~"):  # Moodle: the wrong-answer feedback, as "*"
                feedback = _unescape(_split_unescaped(line, "#")[1])
                answers.append({"fraction": 0.0, "text": "*", "tolerance": 0.0, "fb": feedback})
                continue
            mark, rest = line[0], line[1:]
            weight = 100.0 if mark == "=" else 0.0
            weighted = re.match(r"%(-?[\d.]+)%", rest)
            if weighted:
                weight, rest = float(weighted.group(1)), rest[weighted.end() :]
            value, _feedback = [*_split_unescaped(rest, "#"), ""][:2]
            entry = {"fraction": weight, "text": _unescape(value), "tolerance": 0.0}
            if numeric:
                number, tolerance = _split_unescaped(value, ":")
                entry.update(text=_unescape(number), tolerance=float(_unescape(tolerance)))
            answers.append(entry)
        kinds = {a["text"] for a in answers}
        if numeric:
            kind = "numerical"
        elif not answers:
            kind = "essay"
        elif all(line.strip().startswith("=") for line in answer_text.strip().splitlines()):
            kind = "shortanswer"
        else:
            kind = "multichoice"
        questions[_unescape(title)] = {
            "general": _unescape(general[-1]) if general else "",
            "kind": kind,
            "answers": answers,
            "stem": _unescape(stem),
            "texts": kinds,
        }
    return questions


@pytest.fixture(scope="module")
def gift_questions():
    return parse_gift(gift_text(bank=BANK))


@pytest.mark.parametrize(("question", "response"), list(_cases()))
def test_gift_scores_equal_grade_response(gift_questions, question, response):
    from mnist_lab.quiz.lms import text_html

    parsed = gift_questions[question.id]
    score = moodle_like_score(
        parsed["kind"],
        parsed["answers"],
        response,
        single=question.type == "single",
        usecase=False,  # GIFT short answers ignore case
        points=question.points,
        option_text={option.id: text_html(option.text) for option in question.options},
    )
    assert score == pytest.approx(grade_response(question, response), abs=1e-9)


def test_every_question_is_in_every_export(qti_items, moodle_questions, gift_questions):
    ids = [question.id for question in BANK.questions]
    assert list(qti_items) == ids
    assert set(moodle_questions) == set(ids)
    assert set(gift_questions) == set(ids)
    essays = {q.id for q in BANK.questions if q.type == "text"}
    assert {name for name, parsed in gift_questions.items() if parsed["kind"] == "essay"} == essays
