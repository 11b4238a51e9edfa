"""The exam trainer's console pages over a real server and the workspace's own trainer: starting
mock exams and practice, answering, flagging, navigating, the finish and result screens,
review, the deadline (moved with the trainer's clock), history, the due queue and the labs."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest

from pmle.exam.attempts import Attempt
from pmle.workspace import Workspace


class Clock:
    """Time that moves only when told to (the trainer's own clock option)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(ws: Workspace) -> Clock:
    fixed = Clock()
    ws.exam.clock = fixed
    return fixed


@pytest.fixture
def editor(ws: Workspace, console: str, sign_in: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console) as client:
        sign_in(client, console, ws, "editor")
        yield client


def _html(text: str) -> str:
    """`text` as the page shows it (escaped: an apostrophe is `&#39;`)."""
    from markupsafe import escape

    return str(escape(text))


def _csrf(client: httpx.Client, csrf_of: Any) -> str:
    return str(csrf_of(client.get("/exam").text))


def _post(client: httpx.Client, url: str, csrf: str, **data: Any) -> httpx.Response:
    r = client.post(url, data={"csrf": csrf, **data})
    assert r.status_code == 303, r.text
    return r


def _notice(r: httpx.Response) -> str:
    m = re.search(r"notice=([^&]*)", r.headers["location"])
    return unquote_plus(m.group(1)) if m else ""


def _find(pattern: str, text: str) -> str:
    m = re.search(pattern, text)
    assert m, f"no {pattern} in the page"
    return m.group(1)


def _wrong(q: Any) -> list[str]:
    """A wrong choice for a question: the first option outside its key."""
    return [next(o.id for o in q.item.options if o.id not in q.item.key)]


def _attempt(ws: Workspace, attempt_id: int) -> Attempt:
    return ws.exam.attempt(attempt_id)


def test_the_trainer_home_needs_an_editor_to_act(ws: Workspace, console: str) -> None:
    r = httpx.get(f"{console}/exam")
    assert r.status_code == 200
    assert "<h1>Exam trainer</h1>" in r.text
    assert "Sign in with an editor's token to take exams" in r.text
    assert 'action="/exam/start"' not in r.text
    assert "No attempts yet." in r.text and "Nothing is due" in r.text
    assert httpx.post(f"{console}/exam/start", data={}).status_code == 303  # to /login


def test_a_viewer_reads_but_cannot_answer(
    ws: Workspace, console: str, sign_in: Any, csrf_of: Any
) -> None:
    attempt = ws.exam.start_exam(length=50)
    with httpx.Client(base_url=console) as viewer:
        sign_in(viewer, console, ws, "viewer")
        page = viewer.get(f"/exam/attempts/{attempt.id}")
        assert page.status_code == 200 and 'id="qform"' not in page.text
        assert "Sign in with an editor's token to answer." in page.text
        r = viewer.post(
            f"/exam/attempts/{attempt.id}/q/1",
            data={"csrf": csrf_of(page.text), "choice": attempt.questions[0].item.key[0]},
        )
        assert r.status_code == 403
    assert _attempt(ws, attempt.id).questions[0].answer is None


def test_a_mock_exam_from_start_to_review(
    ws: Workspace, console: str, editor: httpx.Client, csrf_of: Any
) -> None:
    csrf = _csrf(editor, csrf_of)
    r = _post(editor, "/exam/start", csrf, blueprint="pmle-v2", length="50", minutes="90")
    attempt_id = int(_find(r"/exam/attempts/(\d+)/q/1", r.headers["location"]))
    assert "50 questions, 90 minutes" in _notice(r)
    attempt = _attempt(ws, attempt_id)
    assert attempt.mode == "exam" and len(attempt.questions) == 50

    page = editor.get(f"/exam/attempts/{attempt_id}/q/1")
    assert page.status_code == 200
    first = attempt.questions[0]
    kind = "radio" if first.item.type == "single" else "checkbox"
    assert page.text.count(f'type="{kind}" name="choice"') == len(first.options)
    remaining = float(_find(r'data-remaining="([\d.]+)"', page.text))
    assert 89 * 60 < remaining <= 90 * 60
    assert 'value="go:50"' in page.text  # the navigator
    assert "/static/exam.js?v=" in page.text

    # answer question 1 right and go on; question 2 wrong, flagged
    r = _post(editor, f"/exam/attempts/{attempt_id}/q/1", csrf, op="next", choice=first.item.key)
    assert r.headers["location"].startswith(f"/exam/attempts/{attempt_id}/q/2")
    assert "Answer saved." in _notice(r)
    second = attempt.questions[1]
    r = _post(editor, f"/exam/attempts/{attempt_id}/q/2", csrf, op="flag", choice=_wrong(second))
    assert r.headers["location"].startswith(f"/exam/attempts/{attempt_id}/q/2")
    assert "Question 2 flagged." in _notice(r)
    stored = _attempt(ws, attempt_id)
    assert stored.questions[0].answer == tuple(sorted(first.item.key))
    assert stored.questions[1].flagged and stored.questions[1].answer is not None
    page = editor.get(f"/exam/attempts/{attempt_id}/q/2")
    assert "Unflag" in page.text and 'aria-label="Question 2, answered, flagged"' in page.text
    assert 'aria-label="Question 1, answered"' in page.text

    # navigate: jump with the navigator, back with previous; no answer sent changes nothing
    r = _post(editor, f"/exam/attempts/{attempt_id}/q/2", csrf, op="go:7", choice=_wrong(second))
    assert r.headers["location"] == f"/exam/attempts/{attempt_id}/q/7"
    r = _post(editor, f"/exam/attempts/{attempt_id}/q/7", csrf, op="prev")
    assert r.headers["location"] == f"/exam/attempts/{attempt_id}/q/6"
    assert _attempt(ws, attempt_id).questions[6].answer is None
    assert "question 6 of 50" in editor.get(f"/exam/attempts/{attempt_id}?q=6").text
    # no feedback while the exam is open
    assert "Not quite" not in page.text and _html(first.item.explanation[:40]) not in page.text
    assert editor.get(f"/exam/attempts/{attempt_id}/review").status_code == 409

    # the finish screen, then submit
    r = _post(editor, f"/exam/attempts/{attempt_id}/q/6", csrf, op="finish")
    assert r.headers["location"] == f"/exam/attempts/{attempt_id}/finish"
    finish = editor.get(r.headers["location"])
    assert "<strong>2</strong> of 50" in finish.text
    assert re.search(r"flagged for review</dt><dd>1: <a[^>]*>2</a>", finish.text)
    assert "unanswered</dt><dd>48" in finish.text
    r = _post(editor, f"/exam/attempts/{attempt_id}/submit", csrf)
    assert r.headers["location"].startswith(f"/exam/attempts/{attempt_id}?")
    result = editor.get(f"/exam/attempts/{attempt_id}")
    assert "1 / 50</strong> correct" in result.text
    assert "readiness estimate (not an official pass mark)" in result.text
    assert "Wrong (49)" in result.text and "Flagged (1)" in result.text
    assert 'class="chart"' in result.text
    done = _attempt(ws, attempt_id)
    assert done.submitted_by == "candidate" and done.result().score.correct == 1

    # review: flagged only, wrong only, all
    flagged = editor.get(f"/exam/attempts/{attempt_id}/review?show=flagged")
    assert flagged.text.count('class="card exam-review') == 1
    assert 'id="q2"' in flagged.text and "⚑ flagged" in flagged.text
    assert "✗ your answer" in flagged.text and _html(second.item.explanation[:40]) in flagged.text
    wrong = editor.get(f"/exam/attempts/{attempt_id}/review?show=wrong")
    assert wrong.text.count('class="card exam-review') == 49 and 'id="q1"' not in wrong.text
    everything = editor.get(f"/exam/attempts/{attempt_id}/review")
    assert everything.text.count('class="card exam-review') == 50
    assert "✓ correct, your answer" in everything.text
    assert first.item.references[0] in everything.text
    # a submitted exam takes no more answers, and its question URLs lead to the review
    r = _post(editor, f"/exam/attempts/{attempt_id}/q/3", csrf, op="save", choice=_wrong(second))
    assert "already submitted" in _notice(r)
    q3 = editor.get(f"/exam/attempts/{attempt_id}/q/3")
    assert q3.status_code == 303 and q3.headers["location"].endswith("/review#q3")

    home = editor.get("/exam")
    assert f'href="/exam/attempts/{attempt_id}">{attempt_id}</a>' in home.text
    assert "Mock exams of pmle-v2" in home.text  # the history chart
    assert "Due for review" in home.text


def test_the_deadline_submits_and_refuses_answers(
    ws: Workspace, clock: Clock, console: str, editor: httpx.Client, csrf_of: Any
) -> None:
    csrf = _csrf(editor, csrf_of)
    r = _post(editor, "/exam/start", csrf, length="50", minutes="1")
    attempt_id = int(r.headers["location"].split("/")[3])
    attempt = _attempt(ws, attempt_id)
    first = attempt.questions[0]
    _post(editor, f"/exam/attempts/{attempt_id}/q/1", csrf, op="save", choice=first.item.key)

    clock.now += 30  # half-way: the page's timer shows what the server has left
    page = editor.get(f"/exam/attempts/{attempt_id}")
    remaining = float(_find(r'data-remaining="([\d.]+)"', page.text))
    assert remaining == pytest.approx(30, abs=0.01) and "00:30" in page.text
    # the page's timer reaching zero early is sent back: the server's clock decides
    r = _post(editor, f"/exam/attempts/{attempt_id}/submit", csrf, auto="1")
    assert r.headers["location"] == f"/exam/attempts/{attempt_id}"
    assert _attempt(ws, attempt_id).is_open

    clock.now += 31  # past the deadline: an answer is refused, the exam submitted as it stood
    second = attempt.questions[1]
    r = _post(editor, f"/exam/attempts/{attempt_id}/q/2", csrf, op="next", choice=second.item.key)
    assert r.headers["location"].startswith(f"/exam/attempts/{attempt_id}?")
    assert "Time is up" in _notice(r)
    done = _attempt(ws, attempt_id)
    assert not done.is_open and done.submitted_by == "deadline"
    assert done.questions[1].answer is None and done.questions[0].answer is not None
    result = editor.get(f"/exam/attempts/{attempt_id}")
    assert "at the deadline" in result.text and "1 / 50</strong> correct" in result.text
    # the timer's own submit after the deadline lands on the result
    r = _post(editor, f"/exam/attempts/{attempt_id}/submit", csrf, auto="1")
    assert "Time is up" in _notice(r)


def test_an_exam_past_its_deadline_is_submitted_when_read(
    ws: Workspace, clock: Clock, console: str
) -> None:
    attempt = ws.exam.start_exam(length=50, minutes=2)
    clock.now += 121
    r = httpx.get(f"{console}/exam")
    assert "submitted at the deadline" in r.text
    assert _attempt(ws, attempt.id).submitted_by == "deadline"


def test_practice_gives_feedback_at_once(
    ws: Workspace, clock: Clock, console: str, editor: httpx.Client, csrf_of: Any
) -> None:
    csrf = _csrf(editor, csrf_of)
    r = _post(editor, "/exam/practice", csrf, blueprint="pmle-v2", section="4", count="3")
    attempt_id = int(r.headers["location"].split("/")[3])
    attempt = _attempt(ws, attempt_id)
    assert attempt.mode == "practice" and len(attempt.questions) == 3
    assert all(q.item.objectives[0].startswith("4.") for q in attempt.questions)
    page = editor.get(f"/exam/attempts/{attempt_id}/q/1")
    assert "Check answer" in page.text and 'id="exam-timer"' not in page.text

    first = attempt.questions[0]
    r = _post(editor, f"/exam/attempts/{attempt_id}/q/1", csrf, op="save")
    assert _notice(r) == "Choose an option to check your answer."
    r = _post(editor, f"/exam/attempts/{attempt_id}/q/1", csrf, op="save", choice=_wrong(first))
    assert r.headers["location"].startswith(f"/exam/attempts/{attempt_id}/q/1")
    assert _notice(r) == "Not quite."
    page = editor.get(f"/exam/attempts/{attempt_id}/q/1")
    assert "Not quite" in page.text and "✓ correct" in page.text and "✗ your answer" in page.text
    assert _html(first.item.explanation[:40]) in page.text
    assert all(ref in page.text for ref in first.item.references)
    assert (
        '<fieldset class="exam-options" disabled>' in page.text and "Check answer" not in page.text
    )
    assert re.search(r'href="/exam/labs/[a-z-]+"', page.text)  # the lab for its objective
    # a practice answer is locked once checked
    _post(editor, f"/exam/attempts/{attempt_id}/q/1", csrf, op="save", choice=first.item.key)
    assert _attempt(ws, attempt_id).questions[0].correct is False

    second = attempt.questions[1]
    r = _post(editor, f"/exam/attempts/{attempt_id}/q/2", csrf, op="next", choice=second.item.key)
    assert _notice(r) == "Correct." and r.headers["location"].startswith(
        f"/exam/attempts/{attempt_id}/q/2"
    )
    assert "Correct" in editor.get(f"/exam/attempts/{attempt_id}/q/2").text
    review = editor.get(f"/exam/attempts/{attempt_id}/review")  # practice: the answered ones
    assert review.status_code == 200 and review.text.count('class="card exam-review') == 2

    # the missed item enters the spaced-repetition queue, and a due session practises it
    clock.now += 3 * 86400
    home = editor.get("/exam")
    assert first.item.id in home.text and "Practise 1 due items" in home.text
    r = _post(editor, "/exam/practice", csrf, due="1", count="1")
    due_attempt = _attempt(ws, int(r.headers["location"].split("/")[3]))
    assert [q.item.id for q in due_attempt.questions] == [first.item.id]

    # finish and submit the first session: its result counts the answered questions
    r = _post(editor, f"/exam/attempts/{attempt_id}/q/3", csrf, op="finish")
    assert "Submit the session" in editor.get(r.headers["location"]).text
    _post(editor, f"/exam/attempts/{attempt_id}/submit", csrf)
    assert "1 / 2</strong> correct" in editor.get(f"/exam/attempts/{attempt_id}").text


def test_bad_input_comes_back_as_a_notice(
    ws: Workspace, console: str, editor: httpx.Client, csrf_of: Any
) -> None:
    csrf = _csrf(editor, csrf_of)
    r = editor.post(
        "/exam/start", data={"csrf": csrf, "length": "55"}, headers={"referer": f"{console}/exam"}
    )
    assert r.status_code == 303 and _notice(r).startswith("Error: a form has 50 or 60 items")
    r = editor.post(
        "/exam/practice",
        data={"csrf": csrf, "section": "9"},
        headers={"referer": f"{console}/exam"},
    )
    assert "has no section 9" in _notice(r)
    assert editor.get("/exam/attempts/999").status_code == 404
    assert editor.get("/exam?blueprint=nope").status_code == 404
    assert ws.exam.attempts() == []


def test_history_and_attempts_are_paged(ws: Workspace, console: str) -> None:
    for seed in (1, 2):
        attempt = ws.exam.start_exam(length=50, seed=seed)
        for q in attempt.questions[: 10 * seed]:
            attempt.answer(q.position, q.item.key)
        attempt.submit()
    for _ in range(50):
        ws.exam.start_practice(count=1)
    first = httpx.get(f"{console}/exam")
    assert 'Attempts <span class="muted">(52)</span>' in first.text
    assert "page 1 of 2" in first.text and 'href="/exam?page=2' in first.text
    rows = re.findall(r'<td><a href="/exam/attempts/\d+">\d+</a></td>', first.text)
    assert len(rows) == 50 + 2  # a page of attempts, and the history table
    spec = re.search(r'<script type="application/json" id="spec-\d+">(.*?)</script>', first.text)
    assert spec and '"section":"1"' in spec.group(1) and '"section":"6"' in spec.group(1)
    second = httpx.get(f"{console}/exam?page=2")
    assert "page 2 of 2" in second.text and 'href="/exam/attempts/1"' in second.text


def test_labs_are_listed_and_checked_live(
    ws: Workspace, console: str, editor: httpx.Client, csrf_of: Any
) -> None:
    from pmle.exam.labs import LABS, start
    from pmle.workspace import open_workspace

    folder = ws.root.parent / "pmle-lab-experiments"
    start("experiments", folder).close()
    labs = editor.get("/exam/labs")
    assert all(f'href="/exam/labs/{lab_id}"' in labs.text for lab_id in LABS)
    assert str(folder) in labs.text
    page = editor.get("/exam/labs/experiments")
    assert "<h3>Scenario</h3>" in page.text and "Hint 1 of" in page.text
    assert f"<code>{folder}</code>" in page.text
    assert 'name="folder"' not in page.text  # the folder is never taken from the form
    csrf = csrf_of(page.text)
    checked = editor.post("/exam/labs/experiments/check", data={"csrf": csrf})
    assert checked.status_code == 200
    assert "0 of 4 checks pass" in checked.text and checked.text.count("✗ fail") == 4
    with open_workspace(folder) as lab_ws:  # the first step of the task, done with pmle
        lab_ws.datasets.import_("rentals", folder / "data" / "rentals.csv")
    # a folder posted anyway is ignored: the check reads the lab's own folder
    checked = editor.post("/exam/labs/experiments/check", data={"csrf": csrf, "folder": "/etc"})
    assert "1 of 4 checks pass" in checked.text and checked.text.count("✓ pass") == 1
    assert "/etc" not in checked.text
    assert editor.get("/exam/labs/nope").status_code == 404
