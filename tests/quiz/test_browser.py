"""The student page and the answer key in a real browser (Debian's Chromium, headless).

A student answers every question type with the keyboard only and reads the feedback, the
progress bar and the live region; a decimal comma or a stray double space gets "Not understood"
instead of a verdict; a free-text attempt shows what a good answer addresses (and, on a
practice page, the model answer); "Clear all answers" starts again; axe-core finds no
accessibility violation in the light or the dark colour scheme; the page makes no network
request; screenshots go to test-artifacts/quiz/ (or $MNIST_LAB_ARTIFACTS) for a human to look
at.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from mnist_lab.quiz.bank import Bank, Question, load_bank
from mnist_lab.quiz.html import (
    format_number,
    option_value,
    page_questions,
    question_key,
    render_answer_key,
    render_student_page,
)
from mnist_lab.quiz.variants import bank_with_variants

pytestmark = pytest.mark.slow

ARTIFACTS_ENV = "MNIST_LAB_ARTIFACTS"
SCHEMES = ("light", "dark")


@pytest.fixture(scope="module")
def artifacts(repo_root: Path) -> Path:
    folder = Path(os.environ.get(ARTIFACTS_ENV) or repo_root / "test-artifacts") / "quiz"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def bank_as_written() -> Bank:
    return bank_with_variants(load_bank(), seed=0, variants=1)


@pytest.fixture(scope="module")
def bank(bank_as_written: Bank) -> Bank:
    """The bank with each question's options in the order the page shows them."""
    return replace(bank_as_written, questions=tuple(page_questions(bank_as_written, seed=0)))


@pytest.fixture(scope="module")
def pages(bank_as_written: Bank, tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("pages")
    written = bank_as_written
    (folder / "quiz.html").write_text(render_student_page(bank=written, seed=0), "utf-8")
    (folder / "practice.html").write_text(
        render_student_page(bank=written, seed=0, model_answers=True), "utf-8"
    )
    (folder / "answer-key.html").write_text(render_answer_key(bank=written, seed=0), "utf-8")
    return {
        "student": (folder / "quiz.html").as_uri(),
        "practice": (folder / "practice.html").as_uri(),
        "key": (folder / "answer-key.html").as_uri(),
    }


def plain(text: str) -> str:
    """Text as the browser shows it: `code` spans lose their backticks."""
    return text.replace("`", "")


def right_choice(feedback: str) -> str:
    return f"✓ {plain(feedback)} | ✓ Right choice: {plain(feedback)}"


def wrong_choice(feedback: str) -> str:
    return f"✗ {plain(feedback)} | ✗ Wrong choice: {plain(feedback)}"


def first(bank: Bank, kind: str, *, tolerant: bool = False) -> tuple[int, Question]:
    return next(
        (number, question)
        for number, question in enumerate(bank.questions, start=1)
        if question.type == kind and (not tolerant or question.tolerance > 0)
    )


class Student:
    """A keyboard-only student: Tab, Shift+Tab, Space, arrows, typing and Enter; no clicks."""

    def __init__(self, page) -> None:
        self.page = page

    def focused(self, selector: str) -> bool:
        return self.page.evaluate("s => document.activeElement.matches(s)", selector)

    def tab_to(self, selector: str, limit: int = 300) -> None:
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            if self.focused(selector):
                return
        raise AssertionError(f"{limit} presses of Tab never reached {selector}")

    def press(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)

    def outcome(self, number: int) -> str:
        locator = self.page.locator(f"#{question_key(number)} .outcome")
        locator.wait_for(state="visible")
        return locator.inner_text()

    def announced(self, number: int, start: str) -> str:
        """Waits until the polite live region announces ``start`` for question ``number``."""
        expected = f"Question {number}: {start}"
        self.page.wait_for_function(
            "e => document.getElementById('quiz-live').textContent.startsWith(e)", arg=expected
        )
        return self.page.locator("#quiz-live").inner_text()

    def option_feedback(self, number: int, option: int) -> str | None:
        """What is shown under an option (a screen reader also hears "Right/Wrong choice:")."""
        locator = self.page.locator(f"#{question_key(number)}-{option_value(option)}-feedback")
        if not locator.is_visible():
            return None
        return locator.evaluate(
            "e => [...e.childNodes].filter(n => n.className !== 'visually-hidden')"
            ".map(n => n.textContent).join('') + ' | ' + e.textContent"
        )

    def focus_is_visible(self) -> bool:
        return self.page.evaluate(
            """() => { const s = getComputedStyle(document.activeElement);
                       return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2; }"""
        )


def test_a_student_answers_every_question_type_by_keyboard(browser, pages, bank, artifacts):
    context = browser.new_context()
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    context.route(lambda url: not url.startswith("file:"), lambda route: route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(pages["student"])
    student = Student(page)

    single_number, single = first(bank, "single")
    multiple_number, multiple = first(bank, "multiple")
    numeric_number, numeric = first(bank, "numeric")
    tolerant_number, tolerant = first(bank, "numeric", tolerant=True)
    short_number, short = first(bank, "short")
    text_number, text_question = first(bank, "text")
    plan = sorted(
        [
            (single_number, "single"),
            (multiple_number, "multiple"),
            (numeric_number, "numeric"),
            (tolerant_number, "tolerant"),
            (short_number, "short"),
            (text_number, "text"),
        ]
    )
    for number, kind in plan:  # in page order: the student only ever tabs forward to a question
        q = f"#{question_key(number)}"
        if kind == "single":
            right = next(i for i, o in enumerate(single.options, start=1) if o.correct)
            wrong = 2 if right == 1 else 1
            student.tab_to(f"{q} input[type=radio]")
            assert student.focus_is_visible()
            student.press("Tab", "Enter")  # Check with nothing chosen
            assert student.outcome(number) == "Choose an option first."
            student.announced(number, "Choose an option first.")
            student.press("Shift+Tab", "Space")  # back into the group: selects option 1
            student.press(*["ArrowDown"] * (wrong - 1), "Tab")
            assert student.focused(f"{q} button")
            assert student.focus_is_visible()
            student.press("Enter")
            assert student.outcome(number).startswith("Not yet: 0 of 1 point.")
            assert plain(single.feedback_incorrect) in student.outcome(number)
            option = single.options[wrong - 1]
            assert student.option_feedback(number, wrong) == wrong_choice(option.feedback)
            student.announced(number, "Not yet: 0 of 1 point.")
            arrows = (
                ["ArrowDown"] * (right - wrong) if right > wrong else ["ArrowUp"] * (wrong - right)
            )
            student.press("Shift+Tab", *arrows, "Tab", "Enter")
            assert student.outcome(number).startswith("Correct: 1 of 1 point.")
            option = single.options[right - 1]
            assert student.option_feedback(number, right) == right_choice(option.feedback)
            assert student.option_feedback(number, wrong) is None  # only the current choice
            student.announced(number, "Correct: 1 of 1 point.")
        elif kind == "multiple":
            points = format_number(multiple.points)
            count = len(multiple.options)
            student.tab_to(f"{q} input[type=checkbox]")
            for option in multiple.options:  # tick the right ones, Tab past the others
                student.press(*(["Space"] if option.correct else []), "Tab")
            assert student.focused(f"{q} button")
            student.press("Space")
            assert student.outcome(number).startswith(f"Correct: {points} of {points} points.")
            student.announced(number, f"Correct: {points} of {points} points.")
            for index, option in enumerate(multiple.options, start=1):
                expected = right_choice(option.feedback) if option.correct else None
                assert student.option_feedback(number, index) == expected
            # Add one wrong option: right - wrong = k - 1 of k correct options.
            wrong = max(i for i, o in enumerate(multiple.options, start=1) if not o.correct)
            student.press(
                *["Shift+Tab"] * (count - wrong + 1), "Space", *["Tab"] * (count - wrong + 1)
            )
            student.press("Enter")
            share = (
                multiple.points
                * (len(multiple.correct_options) - 1)
                / len(multiple.correct_options)
            )
            expected = f"Partly right: {format_number(share)} of {points} points."
            if share == 0:
                expected = f"Not yet: 0 of {points} points."
            assert student.outcome(number).startswith(expected)
            option = multiple.options[wrong - 1]
            assert student.option_feedback(number, wrong) == wrong_choice(option.feedback)
        elif kind in ("numeric", "tolerant"):
            question = numeric if kind == "numeric" else tolerant
            student.tab_to(f"{q} input[inputmode=decimal]")
            assert student.focus_is_visible()
            page.keyboard.type(format_number(question.answer + 10 * question.tolerance + 1))
            student.press("Enter")
            assert student.outcome(number).startswith("Not yet: 0 of 1 point.")
            assert plain(question.feedback_incorrect) in student.outcome(number)
            within = question.answer + question.tolerance / 2
            student.press("Control+A")
            if kind == "tolerant":  # a decimal comma: no verdict, but how to write it
                comma = format_number(within).replace(".", ",")
                page.keyboard.type(comma)
                student.press("Enter")
                student.announced(number, f"Not understood: “{comma}”.")
                assert student.outcome(number).endswith(
                    f"write decimals with a point: {format_number(within)}."
                )
                student.press("Control+A")
                page.keyboard.type(f"{format_number(within)} ")
            else:  # unit text is ignored, as an LMS ignores it, and the page says so
                page.keyboard.type(f"{format_number(within)} px")
            student.press("Enter")
            student.announced(number, "Correct: 1 of 1 point.")
            assert plain(question.feedback_correct) in student.outcome(number)
            if kind != "tolerant":
                assert student.outcome(number).endswith(
                    f"Read as {format_number(within)}; the text “px” after it is ignored."
                )
        elif kind == "short":
            student.tab_to(f"{q} input[type=text]")
            page.keyboard.type(f"{short.accepted[0]}.")
            student.press("Enter")
            student.announced(number, "Not understood: write only the answer, without a full")
            student.press("Control+A")
            page.keyboard.type(f"  {short.accepted[0].upper()}  ")
            student.press("Enter")
            student.announced(number, "Correct: 1 of 1 point.")
            assert plain(short.feedback_correct) in student.outcome(number)
        else:
            student.tab_to(f"{q} textarea")
            student.press("Tab", "Enter")
            assert student.outcome(number) == "Write an answer first."
            student.press("Shift+Tab")
            page.keyboard.type("A perceptron is one neuron; a Dense layer is many of them.")
            student.press("Tab", "Space")
            checklist = [plain(item.check) for item in text_question.rubric]
            shown = [line for line in student.outcome(number).splitlines() if line]
            assert shown == ["Not scored here. A good answer addresses:", *checklist]
            student.announced(number, "Not scored here.")
            assert text_question.reference_answer[:40] not in page.content()

    summary = page.locator("#quiz-summary").inner_text()
    assert summary.startswith("Points so far: ")
    assert "on the 5 auto-checked questions you have checked" in summary
    assert page.locator("#quiz-progress-score").inner_text() == summary
    assert (
        page.locator("#quiz-progress-label").inner_text()
        == "Checked 6 of " + str(sum(q.variant_of is None for q in bank.questions)) + " questions"
    )
    assert page.locator("#quiz-progress-meter").evaluate("e => e.value") == 6
    page.locator(f"#{question_key(single_number)}").screenshot(
        path=artifacts / "student-single-checked.png"
    )
    page.locator(f"#{question_key(multiple_number)}").screenshot(
        path=artifacts / "student-multiple-checked.png"
    )
    assert errors == []
    assert requests == [pages["student"]]  # the page itself, and nothing else
    context.close()


def answer_some(page, bank: Bank) -> None:
    """Fill the page with every kind of feedback (right, wrong, partial, noted, missing)."""
    single_number, single = first(bank, "single")
    right = next(i for i, o in enumerate(single.options, start=1) if o.correct)
    page.check(f"#{question_key(single_number)}-{option_value(right)}")
    multiple_number, multiple = first(bank, "multiple")
    for index, option in enumerate(multiple.options, start=1):
        if option.correct or index == len(multiple.options):
            page.check(f"#{question_key(multiple_number)}-{option_value(index)}")
    numeric_number, _ = first(bank, "numeric")
    page.fill(f"#{question_key(numeric_number)} input", "1")
    tolerant_number, _ = first(bank, "numeric", tolerant=True)
    page.fill(f"#{question_key(tolerant_number)} input", "0,5")  # not understood
    text_number, _ = first(bank, "text")
    page.fill(f"#{question_key(text_number)} textarea", "An attempt.")  # the checklist
    numbers = [single_number, multiple_number, numeric_number, tolerant_number, text_number]
    for number in (*numbers, first(bank, "short")[0]):
        page.click(f"#{question_key(number)} button")
    page.wait_for_function("() => document.getElementById('quiz-live').textContent !== ''")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_axe_finds_no_violations(browser, pages, bank, axe_source, artifacts, scheme) -> None:
    context = browser.new_context(  # bypass_csp lets axe be injected into the page
        bypass_csp=True, color_scheme=scheme, viewport={"width": 960, "height": 800}
    )
    page = context.new_page()
    report = {}
    for name in ("student", "practice", "key"):
        page.goto(pages[name])
        if name != "key":
            answer_some(page, bank)
        page.add_script_tag(content=axe_source)
        result = page.evaluate("async () => await axe.run(document)")
        background = page.evaluate(
            "() => getComputedStyle(document.documentElement).backgroundColor"
        )
        report[name] = (result, background)
        page.screenshot(path=artifacts / f"{name}-{scheme}.png", full_page=True)
    context.close()
    for name, (result, background) in report.items():
        violations = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
            for v in result["violations"]
        ]
        assert violations == [], f"{name} page, {scheme} scheme:\n" + "\n".join(violations)
        assert len(result["passes"]) > 20  # axe really ran its rules
        is_dark = sum(int(c) for c in background[4:-1].split(",")[:3]) < 3 * 128
        assert is_dark == (scheme == "dark"), f"{name} page background {background} in {scheme}"


def test_print_hides_the_controls_and_keeps_questions_whole(browser, pages, artifacts) -> None:
    page = browser.new_page()
    page.emulate_media(media="print")
    page.goto(pages["student"])
    assert page.evaluate("() => getComputedStyle(document.querySelector('.actions')).display") == (
        "none"
    )
    page.goto(pages["key"])
    breaks = page.evaluate(
        "() => [...document.querySelectorAll('.key-question')]"
        ".map(a => getComputedStyle(a).breakInside)"
    )
    assert set(breaks) == {"avoid"}
    page.pdf(path=artifacts / "answer-key.pdf", format="A4")
    assert (artifacts / "answer-key.pdf").read_bytes().startswith(b"%PDF")
    page.close()


def test_clear_all_answers_starts_again(browser, pages, bank) -> None:
    page = browser.new_page()
    page.goto(pages["student"])
    answer_some(page, bank)
    assert page.locator(".outcome:visible").count() == 6
    dialogs: list[str] = []

    def answer(dialog, accept: bool) -> None:
        dialogs.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    page.click("#quiz-reset")
    assert page.locator(".outcome:visible").count() == 6  # "Cancel" keeps everything
    page.once("dialog", lambda dialog: answer(dialog, True))
    page.click("#quiz-reset")
    page.wait_for_function("() => document.getElementById('quiz-live').textContent !== ''")
    assert dialogs == ["Clear every answer and all feedback on this page?"] * 2
    assert page.locator(".outcome:visible").count() == 0
    assert page.locator(".option-feedback:visible").count() == 0
    assert page.locator("input:checked").count() == 0
    assert page.evaluate(
        "() => [...document.querySelectorAll('input[type=text], textarea')].every(f => !f.value)"
    )
    assert page.locator("#quiz-progress-label").inner_text().startswith("Checked 0 of ")
    assert page.locator("#quiz-live").inner_text() == "All answers cleared."
    page.close()


def test_a_practice_page_shows_the_model_answer_after_a_right_or_free_text_attempt(
    browser, pages, bank, artifacts
) -> None:
    page = browser.new_page()
    page.goto(pages["practice"])
    text_number, text_question = first(bank, "text")
    page.fill(f"#{question_key(text_number)} textarea", "An attempt.")
    page.click(f"#{question_key(text_number)} button")
    model = page.locator(f"#{question_key(text_number)} .outcome .model")
    assert model.inner_text() == "Model answer: " + plain(text_question.reference_answer)
    single_number, single = first(bank, "single")
    wrong = next(i for i, o in enumerate(single.options, start=1) if not o.correct)
    right = next(i for i, o in enumerate(single.options, start=1) if o.correct)
    q = f"#{question_key(single_number)}"
    page.check(f"{q}-{option_value(wrong)}")
    page.click(f"{q} button")
    assert page.locator(f"{q} .outcome .model").count() == 0
    page.check(f"{q}-{option_value(right)}")
    page.click(f"{q} button")
    assert page.locator(f"{q} .outcome .model").inner_text() == "Model answer: " + plain(
        single.reference_answer
    )
    page.locator(f"#{question_key(text_number)}").screenshot(
        path=artifacts / "practice-free-text-checked.png"
    )
    page.close()


def test_the_figures_are_drawn_and_described(browser, pages, bank, artifacts) -> None:
    page = browser.new_page()
    page.goto(pages["student"])
    figures = page.locator("svg.figure")
    named = [q for q in bank.questions if q.figure]
    assert figures.count() == len(named) == 2
    for index, question in enumerate(named):
        figure = figures.nth(index)
        box = figure.bounding_box()
        assert box["width"] > 300
        assert box["height"] > 150
        assert figure.get_attribute("role") == "img"
        label = figure.evaluate(
            "e => e.getAttribute('aria-labelledby').split(' ')"
            ".map(id => document.getElementById(id).textContent).join(' ')"
        )
        assert len(label.split()) > 20
        number = bank.questions.index(question) + 1
        page.locator(f"#{question_key(number)}").screenshot(
            path=artifacts / f"{question.figure}.png"
        )
    page.close()
