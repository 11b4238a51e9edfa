"""The exam trainer's terminal UI, driven by Textual's pilot on a real store: a short exam to
its result screen (answers, flag, navigator, finish screen), auto-submit at the deadline,
practice feedback, and review."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from rich.console import Console
from textual.pilot import Pilot

from pmle.cli.exam_tui import (
    ExamApp,
    FinishScreen,
    NavigatorScreen,
    QuestionScreen,
    ResultScreen,
    ReviewScreen,
)
from pmle.exam.attempts import Trainer
from pmle.exam.blueprints import blueprint
from pmle.exam.items import Item, Option
from pmle.workspace import Workspace


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _bank() -> list[Item]:
    items = []
    for o in blueprint().objectives:
        for n in range(6):
            key = ("A", "C") if n == 0 else ("B",)
            items.append(
                Item(
                    id=f"{o.id}-{n}",
                    blueprint="pmle-v2",
                    objectives=(o.id,),
                    type="multiple" if n == 0 else "single",
                    stem=f"Stem of {o.id}-{n}. What should you do?",
                    options=tuple(Option(x, f"do {x}", f"because {x}") for x in "ABCD"),
                    key=key,
                    explanation="the explanation",
                    references=("https://cloud.google.com/vertex-ai/docs",),
                    difficulty="medium",
                    products=("Vertex AI Pipelines",),
                    status="reviewed",
                    choose=len(key),
                )
            )
    return items


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def trainer(ws: Workspace, clock: Clock) -> Trainer:
    return Trainer(ws, items=_bank(), clock=clock)


def drive(app: ExamApp, steps: Callable[[Pilot[Any]], Awaitable[None]]) -> None:
    async def main() -> None:
        async with app.run_test(size=(120, 50)) as pilot:
            await pilot.pause()
            await steps(pilot)

    asyncio.run(main())


def text_of(widget: Any) -> str:
    """What a Static shows, as plain text."""
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def _label_of(question: Any, option_id: str) -> str:
    return question.label(option_id).lower()


def test_a_short_exam_to_its_result_screen(trainer: Trainer) -> None:
    attempt = trainer.start_exam(length=50, seed=3)
    first, second, third = attempt.questions[:3]
    app = ExamApp(trainer, attempt)

    async def steps(pilot: Pilot[Any]) -> None:
        assert isinstance(app.screen, QuestionScreen)
        bar = text_of(app.screen.query_one("#bar"))
        assert "Question 1 of 50" in bar and "Time left 2:00:00" in bar
        for key in first.item.key:  # right, by the letters shown
            await pilot.press(_label_of(first, key))
        await pilot.press("n")
        await pilot.press(_label_of(second, "A"))  # wrong (the key is B unless multiple)
        await pilot.press("m")
        await pilot.press("n")
        await pilot.press(_label_of(third, third.item.key[0]))
        await pilot.press("g")  # the navigator, then back to question 2
        assert isinstance(app.screen, NavigatorScreen)
        await pilot.click("#nav-1")
        await pilot.pause()
        assert isinstance(app.screen, QuestionScreen) and attempt.current == 1
        await pilot.press("s")
        assert isinstance(app.screen, FinishScreen)
        text = text_of(app.screen.query_one("#finish-text"))
        assert "3 of 50 answered" in text and "Unanswered: 47" in text
        assert "Flagged for review: 1 (questions 2)" in text
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, ResultScreen)
        await pilot.press("l")  # review the flagged item
        assert isinstance(app.screen, ReviewScreen) and len(app.screen.items) == 1

    drive(app, steps)
    done = trainer.attempt(attempt.id)
    assert not done.is_open and done.submitted_by == "candidate"
    # the first right; the second wrong ("A" alone is never a key); the third right when it
    # takes one answer (only its first key option was chosen)
    assert done.result().score.correct == 1 + (len(third.item.key) == 1)
    assert done.questions[1].flagged and done.questions[1].answer == ("A",)


def test_the_deadline_submits_the_exam_on_screen(trainer: Trainer, clock: Clock) -> None:
    attempt = trainer.start_exam(length=50, seed=4, minutes=1)
    app = ExamApp(trainer, attempt)

    async def steps(pilot: Pilot[Any]) -> None:
        q = attempt.questions[0]
        await pilot.press(_label_of(q, q.item.key[0]))
        clock.now += 61
        await pilot.pause(1.3)  # the once-a-second tick sees the deadline
        assert isinstance(app.screen, ResultScreen)
        assert "Time is up" in text_of(app.screen.query_one("#result"))

    drive(app, steps)
    assert trainer.attempt(attempt.id).submitted_by == "deadline"


def test_quitting_keeps_the_attempt_open(trainer: Trainer) -> None:
    attempt = trainer.start_exam(length=50, seed=5)
    app = ExamApp(trainer, attempt)

    async def steps(pilot: Pilot[Any]) -> None:
        await pilot.press("n", "n", "q")

    drive(app, steps)
    again = trainer.latest_open()
    assert again is not None and again.id == attempt.id and again.current == 2
    assert "pmle exam resume" in app.farewell


def test_practice_shows_feedback_after_each_answer(trainer: Trainer) -> None:
    session = trainer.start_practice(objectives=["5.1"], count=2, seed=1)
    app = ExamApp(trainer, session, names="agent-platform")

    async def steps(pilot: Pilot[Any]) -> None:
        q = session.questions[0]
        wrong = next(o for o in "ABCD" if o not in q.item.key)
        await pilot.press(_label_of(q, wrong), "enter")
        panel = app.screen.query_one("#feedback")
        assert panel.display
        shown = text_of(panel)
        assert "because" in shown and "wrong" in shown
        await pilot.press("n")
        second = session.questions[1]
        for key in second.item.key:
            await pilot.press(_label_of(second, key))
        await pilot.press("enter", "n")
        await pilot.pause()
        assert isinstance(app.screen, ResultScreen)

    drive(app, steps)
    result = trainer.attempt(session.id).result()
    assert result.score.total == 2 and result.score.correct == 1
    assert [d.item for d in trainer.due(include_later=True)] == [session.questions[0].item.id]
