"""Attempts on a real metadata store with a controllable clock: the absolute deadline survives
quitting and resuming and auto-submits; options are shuffled once; exact-set scoring; time per
item; practice feedback; review filters; history; the spaced-repetition queue; reports."""

from __future__ import annotations

from typing import Any

import pytest

from pmle.errors import Conflict, InvalidInput, NotFound
from pmle.exam.attempts import Trainer, apply_answers
from pmle.exam.blueprints import allocate, blueprint
from pmle.exam.items import Item
from pmle.exam.labs import lab_for
from pmle.workspace import Workspace


def test_the_deadline_survives_quitting_and_resuming_and_auto_submits(
    ws: Workspace, trainer: Trainer, bank: list[Item], clock: Any
) -> None:
    attempt = trainer.start_exam(length=50, seed=3)
    assert len(attempt.questions) == 50 and attempt.remaining() == 120 * 60
    first = attempt.questions[0]
    attempt.answer(0, first.item.key)
    attempt.flag(1)
    attempt.leave()  # the candidate quits
    clock.advance(90 * 60)
    # a new process: a fresh trainer over the same store
    again = Trainer(ws, items=bank, clock=clock).latest_open()
    assert again is not None and again.id == attempt.id
    assert again.remaining() == 30 * 60  # the clock kept running while away
    assert again.questions[0].answer == tuple(sorted(first.item.key))
    assert again.questions[1].flagged
    with pytest.raises(Conflict, match="no score until it is submitted"):
        again.result()
    with pytest.raises(Conflict, match="no feedback"):
        again.review()
    clock.advance(30 * 60)  # the deadline passes with nobody looking
    with pytest.raises(Conflict, match="time is up"):
        again.answer(2, ["A"])
    done = trainer.attempt(attempt.id)
    assert not done.is_open and done.submitted_by == "deadline"
    assert done.submitted_at == attempt.deadline_at
    result = done.result()
    assert result.score.answered == 1 and result.score.correct == 1
    assert trainer.latest_open() is None


def test_an_overdue_exam_is_submitted_when_listed(trainer: Trainer, clock: Any) -> None:
    attempt = trainer.start_exam(length=50, seed=1, minutes=1)
    clock.advance(61)
    (info,) = trainer.attempts()
    assert info.id == attempt.id and info.submitted_by == "deadline" and info.correct == 0


def test_options_are_shuffled_once_per_attempt(ws: Workspace, trainer: Trainer) -> None:
    attempt = trainer.start_exam(length=60, seed=11)
    orders = {q.item.id: q.option_order for q in attempt.questions}
    assert any(order != tuple("ABCDE") for order in orders.values())
    resumed = Trainer(ws, items=list(trainer.items.values())).attempt(attempt.id)
    assert {q.item.id: q.option_order for q in resumed.questions} == orders
    # letters follow the order shown; answers are stored by option id
    q = resumed.questions[0]
    assert q.option_id("A") == q.option_order[0] and q.label(q.option_order[2]) == "C"


def test_exact_set_scoring_for_multiple_select(trainer: Trainer) -> None:
    attempt = trainer.start_exam(length=60, seed=5)
    multiple = [q for q in attempt.questions if q.item.type == "multiple"]
    single = [q for q in attempt.questions if q.item.type == "single"]
    assert len(multiple) >= 2
    attempt.answer(multiple[0].position, ["A", "C"])  # the exact key
    attempt.answer(multiple[1].position, ["A"])  # part of it: wrong
    attempt.answer(single[0].position, ["B"])
    attempt.answer(single[1].position, ["D"])
    with pytest.raises(InvalidInput, match="takes one answer"):
        attempt.answer(single[2].position, ["A", "B"])
    with pytest.raises(InvalidInput, match="choose 2"):
        attempt.answer(multiple[2].position, ["A", "B", "C"])
    with pytest.raises(InvalidInput, match="no option 'Z'"):
        attempt.answer(single[2].position, ["Z"])
    attempt.answer(single[1].position, [])  # cleared: unanswered again
    result = attempt.submit()
    assert result.score.correct == 2 and result.score.answered == 3
    assert result.score.total == 60
    assert multiple[1].item.id in result.score.wrong
    by_section = result.score.by_section
    assert sum(of for _, of in by_section.values()) == 60
    assert [by_section[n][1] for n in range(1, 7)] == [7, 10, 11, 11, 13, 8]
    assert "not an official pass mark" in result.score.readiness
    with pytest.raises(Conflict, match="already submitted"):
        attempt.answer(0, ["A"])


def test_time_is_counted_per_item(trainer: Trainer, clock: Any) -> None:
    attempt = trainer.start_exam(length=50, seed=2)
    clock.advance(40)  # on question 1
    attempt.goto(1)
    clock.advance(25)
    attempt.goto(0)
    clock.advance(5)
    attempt.leave()
    clock.advance(600)  # away: not counted on any item
    attempt.goto(1)
    clock.advance(10)
    result = attempt.submit()
    first, second = attempt.questions[0].item.id, attempt.questions[1].item.id
    assert result.seconds[first] == pytest.approx(45)
    assert result.seconds[second] == pytest.approx(35)
    assert attempt.remaining() == pytest.approx(120 * 60 - 680)


def test_the_finish_screen_counts_unanswered_and_flagged(trainer: Trainer) -> None:
    attempt = trainer.start_exam(length=50, seed=4)
    for position in range(10):
        attempt.answer(position, attempt.questions[position].item.key)
    attempt.flag(3)
    attempt.flag(20)
    attempt.flag(20, False)
    attempt.flag(44)
    summary = attempt.summary()
    assert summary.answered == 10 and len(summary.unanswered) == 40
    assert summary.unanswered[0] == 11 and summary.flagged == [4, 45]
    reviewed = attempt.submit()
    assert reviewed.score.correct == 10
    assert [f.question.position for f in attempt.review("flagged")] == [3, 43 + 1]
    assert len(attempt.review("wrong")) == 40 and len(attempt.review()) == 50
    feedback = attempt.review("wrong")[0]
    assert not feedback.correct and feedback.to_dict()["options"][0]["feedback"].startswith("why")


def test_unseen_items_are_preferred_across_attempts(trainer: Trainer) -> None:
    first = trainer.start_exam(length=50, seed=1)
    first.submit()
    second = trainer.start_exam(length=50, seed=2)
    overlap = {q.item.id for q in first.questions} & {q.item.id for q in second.questions}
    # per section, the second form takes every unseen item before any seen one
    bp = blueprint()
    need = allocate(bp, 50)
    forced = sum(max(0, 2 * need[s.number] - 6 * len(s.objectives)) for s in bp.sections)
    assert forced > 0 and len(overlap) == forced


def test_practice_gives_feedback_at_once(trainer: Trainer) -> None:
    session = trainer.start_practice(sections=[3], count=4, seed=9)
    assert len(session.questions) == 4
    assert all(q.item.objectives[0].startswith("3.") for q in session.questions)
    q = session.questions[0]
    wrong = next(o.id for o in q.item.options if o.id not in q.item.key)
    feedback = session.answer(0, [wrong])
    assert feedback is not None and not feedback.correct
    data = feedback.to_dict()
    assert data["key"] == list(q.item.key) and data["explanation"] == "because"
    assert {o["id"]: o["feedback"] for o in data["options"]}[wrong] == f"why {wrong}"
    assert data["references"] == ["https://cloud.google.com/vertex-ai/docs"]
    # a missed item links to the lab practising its objective
    lab = lab_for(q.item.objectives[0])
    assert lab is not None and lab.section == 3 and data["lab"] == lab.id
    with pytest.raises(Conflict, match="already answered"):
        session.answer(0, list(q.item.key))
    good = session.answer(1, session.questions[1].item.key)
    assert good is not None and good.correct
    result = session.submit()
    assert result.score.total == 2 and result.score.correct == 1  # only answered items count
    by_objective = trainer.start_practice(objectives=["6.2"], count=50, seed=1)
    assert {q.item.objectives[0] for q in by_objective.questions} == {"6.2"}
    assert len(by_objective.questions) == 6
    with pytest.raises(InvalidInput, match=r"no objective '9\.9'"):
        trainer.start_practice(objectives=["9.9"])
    with pytest.raises(InvalidInput, match="no section 8"):
        trainer.start_practice(sections=[8])


def test_a_missed_item_is_scheduled_with_fsrs(trainer: Trainer, clock: Any) -> None:
    session = trainer.start_practice(objectives=["4.1"], count=2, seed=1)
    missed, right = session.questions
    session.answer(0, [next(o.id for o in missed.item.options if o.id not in missed.item.key)])
    session.answer(1, right.item.key)
    assert trainer.due() == []  # FSRS brings a lapse back after a short step, not at once
    (card,) = trainer.due(include_later=True)
    assert card.item == missed.item.id and card.lapses == 1 and card.reviews == 1
    first_gap = card.due - clock.now
    assert 0 < first_gap <= 30 * 60
    clock.advance(first_gap)
    (now_due,) = trainer.due()
    assert now_due.item == missed.item.id
    review = trainer.start_practice(due=True, count=5, seed=2)
    assert [q.item.id for q in review.questions] == [missed.item.id]
    review.answer(0, missed.item.key)  # remembered this time: the interval grows
    (later,) = trainer.due(include_later=True)
    assert later.reviews == 2 and later.lapses == 1 and later.due - clock.now > first_gap
    assert trainer.due() == []
    with pytest.raises(InvalidInput, match="no missed item is due"):
        trainer.start_practice(due=True)


def test_exam_misses_enter_the_queue_at_submission(trainer: Trainer) -> None:
    attempt = trainer.start_exam(length=50, seed=8)
    attempt.answer(0, attempt.questions[0].item.key)
    assert trainer.due(include_later=True) == []  # nothing scored before the end
    attempt.submit()
    scheduled = {d.item for d in trainer.due(include_later=True)}
    assert len(scheduled) == 49 and attempt.questions[0].item.id not in scheduled


def test_history_per_section(trainer: Trainer) -> None:
    for seed, right in ((1, 0), (2, 25)):
        attempt = trainer.start_exam(length=50, seed=seed)
        for q in attempt.questions[:right]:
            attempt.answer(q.position, q.item.key)
        attempt.submit()
    trainer.start_exam(length=50, seed=3)  # open: not in the history
    first, second = trainer.history()
    assert first.percent == 0 and second.percent == 50
    assert first.section_percent(1) == 0
    assert sum(of for _, of in second.by_section.values()) == 50


def test_answer_files_and_reports(trainer: Trainer) -> None:
    attempt = trainer.start_exam(length=50, seed=6)
    ids = [q.item.id for q in attempt.questions]
    apply_answers(attempt, {ids[0]: ["B"], ids[1]: "B"})
    with pytest.raises(InvalidInput, match="is not on attempt"):
        apply_answers(attempt, {"nope": ["A"]})
    report = trainer.report(ids[0], "option C is also defensible", kind="wrong-key", attempt=1)
    assert [r.id for r in trainer.reports()] == [report.id]
    with pytest.raises(InvalidInput, match="kind"):
        trainer.report(ids[0], "x", kind="rude")
    with pytest.raises(NotFound, match="no item"):
        trainer.report("v2-9.9-0001", "missing")
    trainer.close_report(report.id, "key confirmed against the docs")
    assert trainer.reports() == [] and trainer.reports(None)[0].status == "closed"
    with pytest.raises(NotFound):
        trainer.close_report(99)


def test_the_shipped_bank_serves_an_exam(ws: Workspace) -> None:
    """`ws.exam` uses the shipped, reviewed items."""
    if len(ws.exam.items) < 60:
        pytest.fail(f"the shipped bank has only {len(ws.exam.items)} reviewed items")
    attempt = ws.exam.start_exam(length=60, seed=1)
    assert len({q.item.id for q in attempt.questions}) == 60
    assert all(q.item.status == "reviewed" for q in attempt.questions)
