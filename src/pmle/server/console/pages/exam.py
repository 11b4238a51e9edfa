"""The exam trainer in the console, over `ws.exam` (the same engine as `pmle exam` and its
terminal UI): starting mock exams and practice, one question per page with a navigator and a
timer counting down from the attempt's stored deadline, the finish and result screens, review,
history per section, the spaced-repetition queue, and the labs with their live checks.

Every change goes through the engine, which checks the deadline on each action: an answer sent
after it is refused and the exam is submitted as it stood.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import Conflict, InvalidInput
from pmle.server.console.router import Ctx, Reply, action, page, redirect

if TYPE_CHECKING:
    from pmle.exam.attempts import Attempt, Question, Trainer
    from pmle.exam.blueprints import Blueprint
    from pmle.exam.labs import Lab

PAGE_SIZE = 50
ATTEMPT = r"/exam/attempts/(?P<attempt_id>\d{1,18})"
LAB = r"/exam/labs/(?P<lab_id>[a-z0-9][a-z0-9-]{0,63})"
REVIEW_LABELS = {"all": "All", "wrong": "Wrong", "flagged": "Flagged"}


def clock(seconds: float | None) -> str:
    """Seconds as `H:MM:SS` (`MM:SS` under an hour)."""
    if seconds is None:
        return "—"
    whole = max(0, math.ceil(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _number(value: str, what: str, *, lo: float, hi: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise InvalidInput(f"{what}: a number, not {value!r}") from None
    if not lo <= number <= hi or math.isnan(number):
        raise InvalidInput(f"{what}: between {lo:g} and {hi:g}, not {value}")
    return number


def _trainer(c: Ctx) -> Trainer:
    return c.ws.exam


def _attempt(c: Ctx, attempt_id: str) -> Attempt:
    """The attempt (an exam past its deadline is submitted as it stood by this read)."""
    return _trainer(c).attempt(int(attempt_id))


def _url(attempt: Attempt, position: int | None = None) -> str:
    base = f"/exam/attempts/{attempt.id}"
    return base if position is None else f"{base}/q/{position + 1}"


def _closed(attempt: Attempt) -> Reply:
    """Where an action on a submitted attempt goes: its result, saying why."""
    if attempt.submitted_by == "deadline":
        notice = "Time is up: the exam was submitted at its deadline; nothing more was recorded."
    else:
        notice = f"Attempt {attempt.id} is already submitted."
    return redirect(_url(attempt), notice)


def _after_conflict(c: Ctx, attempt: Attempt, exc: Conflict) -> Reply:
    """A Conflict from the engine: the deadline passed (show the result) or something else."""
    again = _attempt(c, str(attempt.id))
    if not again.is_open:
        return _closed(again)
    raise exc


# -- the trainer's home -----------------------------------------------------------------------


def _history_chart(bp: Blueprint, trainer: Trainer) -> tuple[list[Any], dict[str, Any] | None]:
    from pmle.server.console import charts

    history = trainer.history(bp.id)
    rows: list[dict[str, Any]] = []
    for entry in history:
        for s in bp.sections:
            share = entry.section_percent(s.number)
            if share is not None:
                rows.append(
                    {"attempt": entry.attempt, "section": f"{s.number}", "percent": round(share, 1)}
                )
    if not history:
        return history, None
    spec = charts.line(
        f"Mock exams of {bp.id}: % right per section",
        rows,
        "attempt",
        "percent",
        color="section",
        x_type="ordinal",
        y_title="% right",
    )
    return history, spec


@page("/exam")
def home(c: Ctx) -> Reply:
    from pmle.exam.blueprints import BLUEPRINTS, DEFAULT, blueprint

    trainer = _trainer(c)
    bp = blueprint(c.arg("blueprint", DEFAULT) or DEFAULT)
    infos = trainer.attempts()  # one grouped query; overdue exams are submitted first
    open_exam = next((a for a in infos if a.mode == "exam" and a.is_open), None)
    open_practice = next((a for a in infos if a.mode == "practice" and a.is_open), None)
    pages = max(1, math.ceil(len(infos) / PAGE_SIZE))
    page_no = c.int_arg("page", 1, lo=1, hi=pages)
    shown = infos[(page_no - 1) * PAGE_SIZE : page_no * PAGE_SIZE]
    history, spec = _history_chart(bp, trainer)
    due = trainer.due()
    items = trainer.items
    return c.render(
        "exam.html",
        bp=bp,
        blueprints=list(BLUEPRINTS.values()),
        open_exam=open_exam,
        open_exam_left=(open_exam.deadline_at - trainer.clock())
        if open_exam and open_exam.deadline_at
        else None,
        open_practice=open_practice,
        attempts=shown,
        total_attempts=len(infos),
        page=page_no,
        pages=pages,
        history=list(reversed(history))[:20],
        history_count=len(history),
        history_spec=spec,
        due=[(d, items.get(d.item)) for d in due[:PAGE_SIZE]],
        due_count=len(due),
        clock=clock,
    )


@action("/exam/start")
def start_exam(c: Ctx) -> Reply:
    from pmle.exam.blueprints import DEFAULT

    length = int(_number(c.field("length", "60"), "length", lo=1, hi=1000))
    minutes = _number(c.field("minutes", "120") or "120", "minutes", lo=0.05, hi=24 * 60)
    attempt = _trainer(c).start_exam(c.field("blueprint") or DEFAULT, length, minutes=minutes)
    return redirect(
        _url(attempt, 0),
        f"Mock exam {attempt.id} started: {len(attempt.questions)} questions, "
        f"{minutes:g} minutes. The clock runs until you submit, even if you leave.",
    )


@action("/exam/practice")
def start_practice(c: Ctx) -> Reply:
    from pmle.exam.blueprints import DEFAULT

    sections = [int(_number(s, "section", lo=1, hi=99)) for s in c.form.get("section", [])]
    count = int(_number(c.field("count", "10") or "10", "count", lo=1, hi=500))
    attempt = _trainer(c).start_practice(
        blueprint_id=c.field("blueprint") or DEFAULT,
        sections=sections,
        objectives=c.form.get("objective", []),
        count=count,
        due=c.field("due") == "1",
    )
    return redirect(
        _url(attempt, 0),
        f"Practice session {attempt.id} started: {len(attempt.questions)} questions, "
        "each checked as you answer.",
    )


# -- one question per page --------------------------------------------------------------------


def _question_page(c: Ctx, attempt: Attempt, position: int) -> Reply:
    if not 0 <= position < len(attempt.questions):
        raise InvalidInput(
            f"attempt {attempt.id} has questions 1 to {len(attempt.questions)}, not {position + 1}"
        )
    q = attempt.questions[position]
    feedback = None
    if attempt.mode == "practice" and q.answer is not None:
        feedback = next((f for f in attempt.review("all") if f.question.position == position), None)
    summary = attempt.summary()
    return c.render(
        "exam_question.html",
        attempt=attempt,
        q=q,
        position=position,
        total=len(attempt.questions),
        feedback=feedback,
        summary=summary,
        remaining=attempt.remaining(),
        chosen=set(q.answer or ()),
        key=set(q.item.key),
        clock=clock,
        url=_url,
    )


@page(ATTEMPT)
def attempt_page(c: Ctx, attempt_id: str) -> Reply:
    attempt = _attempt(c, attempt_id)
    if attempt.is_open:
        default = attempt.current + 1
        position = c.int_arg("q", default, lo=1, hi=max(1, len(attempt.questions))) - 1
        return _question_page(c, attempt, position)
    return _result_page(c, attempt)


@page(ATTEMPT + r"/q/(?P<number>\d{1,18})")
def question_page(c: Ctx, attempt_id: str, number: str) -> Reply:
    attempt = _attempt(c, attempt_id)
    if not attempt.is_open:
        return redirect(f"{_url(attempt)}/review#q{int(number)}")
    return _question_page(c, attempt, int(number) - 1)


@action(ATTEMPT + r"/q/(?P<number>\d{1,18})")
def question_action(c: Ctx, attempt_id: str, number: str) -> Reply:
    """The question form: saves the choice (or, in practice, checks it), then does `op`:
    next / prev / go:N / flag / unflag / finish / leave / save."""
    attempt = _attempt(c, attempt_id)
    if not attempt.is_open:
        return _closed(attempt)
    position = int(number) - 1
    q: Question = attempt.question(position)
    op = c.field("op", "save")
    chosen = set(c.form.get("choice", []))
    notice: str | None = None
    try:
        if attempt.mode == "practice":
            if q.answer is None and chosen:
                feedback = attempt.answer(position, chosen)
                right = feedback is not None and feedback.correct
                return redirect(_url(attempt, position), "Correct." if right else "Not quite.")
            if q.answer is None and op == "save":
                notice = "Choose an option to check your answer."
        elif chosen != set(q.answer or ()):
            attempt.answer(position, chosen)
            notice = "Answer saved." if chosen else "Answer cleared."
        target = position
        if op == "next":
            target = position + 1
        elif op == "prev":
            target = position - 1
        elif op.startswith("go:"):
            target = int(_number(op[3:], "question", lo=1, hi=len(attempt.questions))) - 1
        elif op in ("flag", "unflag"):
            attempt.flag(position, op == "flag")
            notice = f"Question {position + 1} {'flagged' if op == 'flag' else 'unflagged'}."
        elif op == "finish":
            return redirect(f"{_url(attempt)}/finish", notice)
        elif op == "leave":
            attempt.leave()
            left = attempt.remaining()
            return redirect(
                "/exam",
                f"Left attempt {attempt.id} for now"
                + (f"; its clock keeps running ({clock(left)} left)." if left else "."),
            )
        elif op != "save":
            raise InvalidInput(f"unknown step {op!r}")
        target = max(0, min(len(attempt.questions) - 1, target))
        if target != position:  # the candidate moves on: the time counts for the next one
            attempt.goto(target)
    except Conflict as exc:
        return _after_conflict(c, attempt, exc)
    return redirect(_url(attempt, target), notice)


@page(ATTEMPT + r"/finish")
def finish_page(c: Ctx, attempt_id: str) -> Reply:
    attempt = _attempt(c, attempt_id)
    if not attempt.is_open:
        return redirect(_url(attempt))
    return c.render(
        "exam_finish.html",
        attempt=attempt,
        summary=attempt.summary(),
        remaining=attempt.remaining(),
        clock=clock,
        url=_url,
    )


@action(ATTEMPT + r"/submit")
def submit(c: Ctx, attempt_id: str) -> Reply:
    """Submit (the candidate's choice, or the page's timer at zero: `auto=1`). The server's
    clock decides: a timer early by a moment is sent back to the question."""
    attempt = _attempt(c, attempt_id)
    if not attempt.is_open:
        return _closed(attempt)
    left = attempt.remaining()
    if c.field("auto") == "1" and left is not None and left > 0:
        return redirect(_url(attempt))
    try:
        attempt.submit()
    except Conflict as exc:
        return _after_conflict(c, attempt, exc)
    return redirect(_url(attempt), f"Attempt {attempt.id} submitted.")


# -- after the end ----------------------------------------------------------------------------


def _result_page(c: Ctx, attempt: Attempt) -> Reply:
    from pmle.exam.blueprints import blueprint
    from pmle.server.console import charts

    result = attempt.result()
    score = result.score
    bp = blueprint(attempt.blueprint)
    sections = []
    for s in bp.sections:
        got, of = score.by_section.get(s.number, (0, 0))
        if of:
            sections.append((s, got, of, 100.0 * got / of))
    objectives = []
    times: dict[str, list[float]] = {}
    for q in attempt.questions:
        times.setdefault(q.item.objectives[0], []).append(q.seconds)
    for o in bp.objectives:
        got, of = score.by_objective.get(o.id, (0, 0))
        if of:
            spent = times.get(o.id, [])
            average = sum(spent) / len(spent) if spent else None
            objectives.append((o, got, of, 100.0 * got / of, average))
    spec = charts.bars(
        "% right per section",
        [{"section": f"{s.number}", "percent": round(p, 1)} for s, _, _, p in sections],
        "section",
        "percent",
    )
    counts = {
        "all": sum(1 for q in attempt.questions if attempt.mode == "exam" or q.answer is not None),
        "wrong": sum(
            1
            for q in attempt.questions
            if not q.correct and (attempt.mode == "exam" or q.answer is not None)
        ),
        "flagged": sum(1 for q in attempt.questions if q.flagged),
    }
    return c.render(
        "exam_result.html",
        attempt=attempt,
        result=result,
        score=score,
        bp=bp,
        sections=sections,
        objectives=objectives,
        spent=sum(result.seconds.values()),
        spec=spec,
        counts=counts,
        clock=clock,
        url=_url,
    )


@page(ATTEMPT + r"/result")
def result_page(c: Ctx, attempt_id: str) -> Reply:
    attempt = _attempt(c, attempt_id)
    if attempt.mode == "exam" and attempt.is_open:
        return redirect(f"{_url(attempt)}/finish")
    return _result_page(c, attempt)


@page(ATTEMPT + r"/review")
def review_page(c: Ctx, attempt_id: str) -> Reply:
    attempt = _attempt(c, attempt_id)
    which = c.arg("show", "all") or "all"
    if which not in REVIEW_LABELS:
        raise InvalidInput(f"show {which!r}: one of {', '.join(REVIEW_LABELS)}")
    items = attempt.review(which)  # Conflict (409) for an exam still open
    counts = {w: len(items) if w == which else len(attempt.review(w)) for w in REVIEW_LABELS}
    return c.render(
        "exam_review.html",
        attempt=attempt,
        items=items,
        which=which,
        counts=counts,
        labels=REVIEW_LABELS,
        clock=clock,
        url=_url,
    )


# -- labs -------------------------------------------------------------------------------------


def _lab_folder(c: Ctx, lab_id: str) -> tuple[Path, bool]:
    """Where lab `lab_id` is most likely started: this workspace itself, a `pmle-lab-ID`
    folder beside it, or one in the server's current folder; and whether it is there."""
    from pmle.exam.labs import lab_of

    root = Path(c.ws.root)
    candidates = [root, root.parent / f"pmle-lab-{lab_id}", Path.cwd() / f"pmle-lab-{lab_id}"]
    for folder in candidates:
        if lab_of(folder) == lab_id:
            return folder, True
    return candidates[1], False


@page("/exam/labs")
def labs_page(c: Ctx) -> Reply:
    from pmle.exam.labs import LABS

    rows = [(lab, *_lab_folder(c, lab.id)) for lab in LABS.values()]
    return c.render("exam_labs.html", rows=rows)


def _markdown(text: str) -> Any:
    from markdown_it import MarkdownIt
    from markupsafe import Markup

    # raw HTML in the source is escaped; unsafe link schemes are refused by markdown-it
    html = MarkdownIt("commonmark", {"html": False}).render(text)
    return Markup(html.replace("<h2>", "<h3>").replace("</h2>", "</h3>"))  # under the page's h2


def _lab_page(c: Ctx, found: Lab, folder: str, checks: list[Any] | None) -> Reply:
    return c.render(
        "exam_lab.html",
        lab=found,
        task=_markdown(found.task),
        hints=[_markdown(h) for h in found.hints],
        folder=folder,
        checks=checks,
    )


@page(LAB)
def lab_page(c: Ctx, lab_id: str) -> Reply:
    from pmle.exam.labs import lab

    found = lab(lab_id)
    folder, _ = _lab_folder(c, lab_id)
    return _lab_page(c, found, str(folder), None)


@action(LAB + r"/check")
def lab_check(c: Ctx, lab_id: str) -> Reply:
    """Run the lab's checker on its folder (it reads the lab's workspace, never changing it)
    and show each check: the page answers the POST itself, so a reload checks again."""
    from pmle.exam.labs import check, lab

    found = lab(lab_id)
    folder = str(_lab_folder(c, lab_id)[0])  # never a path from the form
    checks = check(lab_id, folder)
    return _lab_page(c, found, folder, checks)
