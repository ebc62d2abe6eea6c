"""The student page and the answer key as files: what they contain and what they must not."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import lxml.html
import pytest

from mnist_lab.quiz.bank import Bank, Question, load_bank, parse_bank
from mnist_lab.quiz.figures import render_figure
from mnist_lab.quiz.html import (
    QuizPageError,
    _numeric_buckets,
    format_number,
    inline_code,
    option_value,
    page_questions,
    question_key,
    render_answer_key,
    render_student_page,
)
from mnist_lab.quiz.responses import comparison_form
from mnist_lab.quiz.variants import bank_with_variants

SCRIPT_OR_STYLE = re.compile(r"<(script|style)>.*?</\1>", re.S)  # the bank-independent assets
# Where a question sits on the page ("Question 3 of 42", the Check button's "question 3", its
# form's id and data-number) is not an answer, even when a numeric answer happens to equal it.
QUESTION_LABEL = re.compile(
    r"[Qq]uestion \d+(?: of \d+\s+· [\d.]+ points?)?|\b(?:id|data-number|data-question|for|name)"
    r'="q?\d+[^"]*"'
)
# The page's own counts (questions per section, points so far) are not answers either.
SUMMARY = re.compile(
    r'<p class="summary".*?</p>|<nav class="contents".*?</nav>|<div class="progress-bar".*?</div>',
    re.S,
)
CORRECT_MARKERS = re.compile(
    r"""["']?\bcorrect["']?\s*[:=]\s*["']?(true|1|yes)\b|data-correct|is-correct|\bchecked\b""",
    re.I,
)


@pytest.fixture(scope="module")
def bank() -> Bank:
    return bank_with_variants(load_bank(), seed=2024, variants=2)


@pytest.fixture(scope="module")
def student_page(bank: Bank) -> str:
    return render_student_page(bank=bank)


@pytest.fixture(scope="module")
def answer_key(bank: Bank) -> str:
    return render_answer_key(bank=bank)


def displayed_fragments(bank: Bank) -> list[str]:
    """What the student must see (stems, option texts, figures), as the page renders it."""
    texts = [question.stem for question in bank.questions]
    texts += [option.text for question in bank.questions for option in question.options]
    fragments = [str(inline_code(text)) for text in texts]
    fragments += [
        str(render_figure(question.figure, id_prefix=f"{question_key(number)}-figure"))
        for number, question in enumerate(bank.questions, start=1)
        if question.figure
    ]
    return sorted(fragments, key=len, reverse=True)


def searchable(page: str, bank: Bank, *, strip_displayed: bool = True) -> str:
    """The page without the fixed assets and (strip_displayed) what the student must read."""
    page = SCRIPT_OR_STYLE.sub("", page)
    if not strip_displayed:
        return page
    for fragment in displayed_fragments(bank):
        page = page.replace(fragment, "\0")
    return SUMMARY.sub("", QUESTION_LABEL.sub("", page))


def written_numbers(question: Question) -> set[str]:
    answer = question.answer
    assert answer is not None
    forms = {format_number(answer), repr(answer), f"{answer:e}", f"{answer:g}"}
    if answer.is_integer():
        forms |= {f"{int(answer):,}", f"{int(answer):,}".replace(",", " ")}
    return forms


def forbidden(question: Question) -> Iterator[tuple[str, str, bool]]:
    """(what, text, whole word only) that would give an answer away."""
    if question.reference_answer:
        yield "reference answer", question.reference_answer, False
        for sentence in re.split(r"(?<=[.!?])\s+", question.reference_answer):
            if len(sentence) >= 25:
                yield "reference sentence", sentence, False
    for name in ("feedback_correct", "feedback_incorrect"):
        if getattr(question, name):
            yield name, getattr(question, name), False
    for option in question.options:
        yield f"feedback of option {option.id}", option.feedback, False
    for answer in question.accepted:
        yield "accepted answer", answer, True
        yield "normalised accepted answer", comparison_form(answer, question.normalise), True
    if question.type == "numeric":
        for written in written_numbers(question):
            yield "numeric answer", written, True


def occurrences(page: str, bank: Bank, *, strip_displayed: bool = True) -> list[str]:
    return [entry for entry, _ in hits(page, bank, strip_displayed=strip_displayed)]


def hits(page: str, bank: Bank, *, strip_displayed: bool = True) -> list[tuple[str, str]]:
    """Each forbidden string found, with the page text around it (for the failure message)."""
    text = searchable(page, bank, strip_displayed=strip_displayed)
    found = []
    for question in bank.questions:
        for what, value, whole_word in forbidden(question):
            for form in {value, str(inline_code(value))}:
                if whole_word:
                    pattern = rf"(?<![\w.,+/=-]){re.escape(form)}(?![\w,+/=-]|\.\d)"
                    match = re.search(pattern, text, re.I)
                    start = match.start() if match else -1
                else:
                    start = text.find(form)
                if start >= 0:
                    around = text[max(0, start - 120) : start + len(form) + 120]
                    found.append((f"{question.id}: {what} {value!r}", around))
    return found


def test_student_page_contains_no_answer(student_page: str, bank: Bank) -> None:
    assert occurrences(student_page, bank) == []
    assert CORRECT_MARKERS.search(searchable(student_page, bank)) is None


def test_the_answer_search_finds_every_answer_in_the_answer_key(
    answer_key: str, bank: Bank
) -> None:
    """The search above is not vacuous: the answer key shows every forbidden string."""
    expected = {
        f"{question.id}: {what} {value!r}"
        for question in bank.questions
        for what, value, _ in forbidden(question)
        if what not in {"normalised accepted answer", "numeric answer"}
    }
    found = set(occurrences(answer_key, bank, strip_displayed=False))
    assert expected - found == set()
    numeric = [q for q in bank.questions if q.type == "numeric"]
    for question in numeric:
        assert f"{question.id}: numeric answer {format_number(question.answer)!r}" in found


def test_student_page_is_one_self_contained_file(student_page: str) -> None:
    assert "://" not in student_page  # no URL of any kind: nothing to fetch
    document = lxml.html.fromstring(student_page)
    assert document.xpath("//*[@src]") == []
    links = [link.get("href") for link in document.xpath("//*[@href]")]
    assert links[0] == "#main"
    assert len(links) == 4
    for link in links:  # only links within the page, each to an element that exists
        assert link.startswith("#")
        assert len(document.xpath(f"//*[@id='{link[1:]}']")) == 1
    policy = document.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")[0]
    assert "default-src 'none'" in policy
    assert "form-action 'none'" in policy
    # The policy allows exactly the inlined script and stylesheet, so the browser runs them.
    for tag, directive in (("script", "script-src"), ("style", "style-src")):
        inline = re.search(rf"<{tag}>(.*?)</{tag}>", student_page, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(inline.encode("utf-8")).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in policy


def test_every_question_is_a_fieldset_with_native_inputs(student_page: str, bank: Bank) -> None:
    document = lxml.html.fromstring(student_page)
    forms = document.xpath("//form[@class='question']")
    assert [form.get("data-question") for form in forms] == [
        question_key(number) for number in range(1, len(bank.questions) + 1)
    ]
    expected_inputs = {
        "single": "radio",
        "multiple": "checkbox",
        "numeric": "text",  # a number field would turn "0,78" into 78; the page reads the text
        "short": "text",
        "text": None,
    }
    for form, question in zip(forms, bank.questions, strict=True):
        legend = form.xpath("./fieldset/legend")[0]
        assert question.stem.replace("`", "") in legend.text_content()
        assert len(legend.xpath(".//code")) == question.stem.count("`") // 2
        inputs = form.xpath(".//input")
        if question.type == "text":
            assert inputs == []
            assert len(form.xpath(".//textarea")) == 1
        else:
            assert {field.get("type") for field in inputs} == {expected_inputs[question.type]}
        if question.type == "numeric":
            assert inputs[0].get("inputmode") == "decimal"
        for field in form.xpath(".//input | .//textarea"):  # every field has a label
            assert len(document.xpath(f"//label[@for='{field.get('id')}']")) == 1
        if question.options:
            values = [option_value(n) for n in range(1, len(question.options) + 1)]
            assert [field.get("value") for field in inputs] == values
        assert [button.get("type") for button in form.xpath(".//button")] == ["submit"]
    live = document.xpath("//*[@aria-live]")
    assert [(region.get("id"), region.get("aria-live")) for region in live] == [
        ("quiz-live", "polite")
    ]


def test_backticks_become_code_and_markup_is_escaped() -> None:
    bank = parse_bank(
        {
            "title": "T <b>&",
            "questions": [
                {
                    "id": "q-one",
                    "type": "text",
                    "stem": "Use `model.fit(x, y)` & not <script>alert(1)</script>; lone ` stays.",
                    "rubric": [{"points": 1, "criterion": "says <b>why</b>", "check": "Why?"}],
                    "reference_answer": "Because.",
                    "objective": "o",
                    "tags": ["t"],
                    "points": 1,
                }
            ],
        },
        file="test.yaml",
    )
    page = render_student_page(bank=bank)
    assert "<code>model.fit(x, y)</code> &amp; not &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "; lone ` stays." in page
    assert "<title>T &lt;b&gt;&amp;</title>" in page
    assert "Because." not in page
    key = render_answer_key(bank=bank)
    assert "Because." in key
    assert "says &lt;b&gt;why&lt;/b&gt;" in key


def test_answer_key_shows_every_answer_and_rationale(answer_key: str, bank: Bank) -> None:
    document = lxml.html.fromstring(answer_key)
    articles = document.xpath("//article[@class='key-question']")
    assert [a.get("id") for a in articles] == [f"key-{q.id}" for q in bank.questions]
    # Options in the order the page of the same seed shows them, so "option C" is one option.
    for article, question in zip(articles, page_questions(bank, seed=0), strict=True):
        text = article.text_content()
        assert question.reference_answer.replace("`", "") in text
        assert question.objective in text
        assert ", ".join(question.tags) in text
        marks = [li.xpath("./span[@class='mark']")[0].text for li in article.xpath(".//ol/li")]
        if question.options:
            assert marks == [
                "✓ Correct:" if option.correct else "✗ Incorrect:" for option in question.options
            ]
            for option in question.options:
                assert option.feedback.replace("`", "") in text
        if question.type == "numeric":
            assert format_number(question.answer) in text
            if question.tolerance:
                assert f"± {format_number(question.tolerance)}" in text
        if question.type == "text":
            rows = article.xpath(".//table[@class='rubric']/tbody/tr")
            assert [row.xpath("./td")[1].text_content() for row in rows] == [
                item.criterion.replace("`", "") for item in question.rubric
            ]
    assert "@media print" in answer_key
    assert "break-inside: avoid" in answer_key


def test_rendering_is_deterministic_and_the_salt_changes_every_box(bank: Bank) -> None:
    first = render_student_page(bank=bank)
    assert render_student_page(bank=bank) == first
    other = render_student_page(bank=bank, salt="another course")
    boxes = set(re.findall(r'"t":"([0-9a-f]{32})"', first))
    assert len(boxes) > 100
    assert boxes.isdisjoint(re.findall(r'"t":"([0-9a-f]{32})"', other))


def test_bad_titles_are_refused_and_every_number_is_checkable(bank: Bank) -> None:
    with pytest.raises(QuizPageError, match="title must be non-empty"):
        render_student_page(bank=bank, title="  ")
    with pytest.raises(QuizPageError, match="salt must be non-empty"):
        render_student_page(bank=bank, salt="")
    huge = parse_bank(
        {
            "title": "T",
            "questions": [
                {
                    "id": "huge",
                    "type": "numeric",
                    "stem": "s",
                    "answer": 1e300,
                    "tolerance": 0,
                    "reference_answer": "Big.",
                    "objective": "o",
                    "tags": ["t"],
                    "points": 1,
                }
            ],
        },
        file="test.yaml",
    )
    # Moodle's tolerance grows with the answer, so even 1e300 needs bucket indices that both
    # Python and JavaScript write as the same integer (below 2**53).
    assert max(abs(bucket) for bucket in _numeric_buckets(huge.questions[0])) < 2**53
    assert "Big." not in render_student_page(bank=huge)


def shown_options(page: str, bank: Bank) -> list[list[str]]:
    """The option texts of every choice question, in the order the page shows them."""
    document = lxml.html.fromstring(page)
    return [
        [span.text_content() for span in form.xpath(".//div[@class='option']/label/span")]
        for form in document.xpath("//form[@class='question']")
    ]


def test_options_are_shown_in_an_order_drawn_from_the_seed(bank: Bank) -> None:
    first = shown_options(render_student_page(bank=bank, seed=0), bank)
    assert first == shown_options(render_student_page(bank=bank, seed=0), bank)
    other = shown_options(render_student_page(bank=bank, seed=1), bank)
    assert first != other
    in_bank = [[option.text.replace("`", "") for option in q.options] for q in bank.questions]
    choice = [i for i, q in enumerate(bank.questions) if q.options]
    for i in choice:  # the same options, in another order
        assert sorted(first[i]) == sorted(in_bank[i])
    # Each question has its own order: not one permutation applied to every question.
    permutations = {
        tuple(in_bank[i].index(text) for text in first[i]) for i in choice if len(in_bank[i]) == 4
    }
    assert len(permutations) > 3
    # The author's order (right answer first, in this bank) is not the page's.
    right_first = [bank.questions[i].options[0].correct for i in choice]
    shown_first = [
        next(o for o in bank.questions[i].options if o.text.replace("`", "") == first[i][0]).correct
        for i in choice
    ]
    assert sum(shown_first) < sum(right_first)


@pytest.mark.parametrize("seed", range(12))
def test_no_page_text_is_mistaken_for_a_variant_answer(seed: int) -> None:
    """The page's own words (messages, labels, figures) hold no number that a variant of some
    seed could have as its answer, and no seed's page leaks an answer."""
    bank = bank_with_variants(load_bank(), seed=seed, variants=5)
    assert hits(render_student_page(bank=bank, seed=seed), bank) == []  # shows where
