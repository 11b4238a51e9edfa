"""The exam trainer in a real browser (Debian's chromium through Playwright): a mock exam taken
with the mouse and the keys to its result and review, the timer across a reload, and the
submission when the timer reaches zero."""

from __future__ import annotations

import re
import time
from typing import Any

from pmle.workspace import Workspace


def _remaining(page: Any) -> float:
    return float(page.get_attribute("#exam-timer", "data-remaining"))


def test_a_mock_exam_to_its_result_and_review(
    ws: Workspace, console: str, page: Any, browser_sign_in: Any
) -> None:
    browser_sign_in(page, console, ws)
    page.goto(f"{console}/exam")
    page.select_option("#exam-length", "50")
    page.click("text=Start a mock exam")
    page.wait_for_selector("text=question 1 of 50")
    attempt_id = int(page.url.split("/exam/attempts/")[1].split("/")[0])
    attempt = ws.exam.attempt(attempt_id)

    # question 1: key 1 picks the first option, n saves and goes on
    page.keyboard.press("1")
    assert page.is_checked(".exam-options input >> nth=0")
    page.keyboard.press("n")
    page.wait_for_selector("text=question 2 of 50")
    # question 2: with the mouse
    page.click(".exam-options label.option >> nth=1")
    page.click("button:has-text('Save & next')")
    page.wait_for_selector("text=question 3 of 50")
    # question 3: answered with a key, flagged with f
    page.keyboard.press("2")
    page.keyboard.press("f")
    page.wait_for_selector("text=Question 3 flagged.")
    assert page.is_visible("button:has-text('Unflag')")
    nav = page.get_attribute('.exam-grid [aria-current="step"]', "aria-label")
    assert nav == "Question 3, answered, flagged"
    # p goes back
    page.keyboard.press("p")
    page.wait_for_selector("text=question 2 of 50")

    stored = ws.exam.attempt(attempt_id)
    assert stored.questions[0].answer == (attempt.questions[0].option_order[0],)
    assert stored.questions[1].answer == (attempt.questions[1].option_order[1],)
    assert stored.questions[2].flagged and stored.questions[2].answer is not None

    page.click("button:has-text('Finish')")
    page.wait_for_selector(f"text=Finish mock exam {attempt_id}?")
    facts = page.inner_text("dl.facts")
    assert "3 of 50" in facts and re.search(r"flagged for review\s+1: 3", facts)
    page.click("#submit-attempt")
    page.wait_for_selector(f"text=Mock exam {attempt_id}: result")
    assert page.is_visible(f"text=Attempt {attempt_id} submitted.")
    right = sum(
        1
        for q in ws.exam.attempt(attempt_id).questions
        if q.answer is not None and set(q.answer) == set(q.item.key)
    )
    assert page.inner_text("#score-percent") == f"{100 * right / 50:.0f}%"
    page.wait_for_selector("figure.chart[data-rendered]")  # the per-section chart drew

    page.click("text=Flagged (1)")
    page.wait_for_selector("text=Review of mock exam")
    cards = page.locator("article.exam-review")
    assert cards.count() == 1
    assert "Question 3" in cards.nth(0).inner_text() and "⚑ flagged" in cards.nth(0).inner_text()
    assert cards.nth(0).locator("li.option.right").count() >= 1
    page.click("text=All (50)")
    assert page.locator("article.exam-review").count() == 50


def test_the_timer_survives_a_reload(
    ws: Workspace, console: str, page: Any, browser_sign_in: Any
) -> None:
    browser_sign_in(page, console, ws)
    attempt = ws.exam.start_exam(length=50, minutes=30)
    page.goto(f"{console}/exam/attempts/{attempt.id}")
    before = _remaining(page)
    assert 29 * 60 < before <= 30 * 60
    shown = page.inner_text("#exam-timer strong")
    page.wait_for_function(
        "t => document.querySelector('#exam-timer strong').textContent !== t", arg=shown
    )  # it counts down in the page
    time.sleep(1.1)
    page.reload()
    after = _remaining(page)
    assert after <= before - 1
    assert re.fullmatch(r"\d\d:\d\d", page.inner_text("#exam-timer strong"))


def test_the_exam_is_submitted_when_the_timer_reaches_zero(
    ws: Workspace, console: str, page: Any, browser_sign_in: Any
) -> None:
    browser_sign_in(page, console, ws)
    attempt = ws.exam.start_exam(length=50, minutes=0.1)  # six seconds
    page.goto(f"{console}/exam/attempts/{attempt.id}")
    page.keyboard.press("1")
    page.keyboard.press("n")
    page.wait_for_selector("text=question 2 of 50")
    page.wait_for_selector(f"text=Mock exam {attempt.id}: result", timeout=20_000)
    assert page.is_visible("text=at the deadline")
    done = ws.exam.attempt(attempt.id)
    assert done.submitted_by == "deadline" and done.questions[0].answer is not None
