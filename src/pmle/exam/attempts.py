"""Attempts: mock exams and practice sessions, kept in the workspace's metadata store.

- **Exam mode** (`Trainer.start_exam`): a form assembled from the bank (`pmle.exam.forms`),
  an absolute deadline (120 minutes from the start) stored with the attempt, so quitting and
  resuming does not stop the clock; an attempt seen past its deadline is submitted as it stood
  ("auto-submit"). Items can be flagged; nothing is scored until the end.
- **Practice mode** (`Trainer.start_practice`): items of chosen sections / objectives (or the
  spaced-repetition queue); every answer is scored at once and returns its feedback.
- Options are shuffled once per attempt (the order is stored), never again on resume.
- Time per item: the time between showing an item (`goto`) and leaving it, summed.
- Each scored answer reviews the item's FSRS card (`pmle.exam.srs`).

Every time comes from the trainer's `clock` (epoch seconds), so tests can move time.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pmle.errors import Conflict, InvalidInput, NotFound
from pmle.exam.blueprints import DEFAULT, Blueprint, blueprint
from pmle.exam.forms import Score, assemble, option_order, score
from pmle.exam.items import Item, Option

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from pmle.exam.item_stats import ItemStats
    from pmle.workspace import Workspace

__all__ = [
    "EXAM_MINUTES",
    "Attempt",
    "AttemptInfo",
    "Due",
    "Feedback",
    "FinishSummary",
    "HistoryEntry",
    "Question",
    "ReportInfo",
    "Trainer",
]

EXAM_MINUTES = 120
REPORT_KINDS = ("wrong-key", "unclear", "outdated", "typo", "other")
REVIEW_FILTERS = ("all", "wrong", "flagged")


def _removed(item_id: str) -> Item:
    """A stand-in for an item no longer in the bank (an old attempt still shows its score)."""
    return Item(
        id=item_id,
        blueprint="",
        objectives=("?",),
        type="single",
        stem=f"(item {item_id} is no longer in the question bank)",
        options=(),
        key=(),
        explanation="",
        references=(),
        difficulty="medium",
        products=(),
        status="retired",
    )


@dataclass(frozen=True)
class Question:
    """One item of an attempt, as the candidate sees it."""

    position: int  # 0-based
    item: Item
    option_order: tuple[str, ...]  # option ids in the order shown
    answer: tuple[str, ...] | None  # chosen option ids
    flagged: bool
    seconds: float
    correct: bool | None  # None until scored

    @property
    def options(self) -> list[Option]:
        """The item's options in the order this attempt shows them."""
        by_id = {o.id: o for o in self.item.options}
        return [by_id[i] for i in self.option_order if i in by_id]

    def label(self, option_id: str) -> str:
        """The letter an option is shown with (A for the first one shown)."""
        return "ABCDEF"[self.option_order.index(option_id)]

    def option_id(self, label: str) -> str:
        """The option shown with letter `label`."""
        index = "ABCDEF".find(label.upper())
        if index < 0 or index >= len(self.option_order):
            raise InvalidInput(f"no option {label!r} on question {self.position + 1}")
        return self.option_order[index]

    def to_dict(self, *, reveal: bool = False) -> dict[str, Any]:
        """JSON form; `reveal` adds the key, feedback and references."""
        out: dict[str, Any] = {
            "position": self.position + 1,
            "item": self.item.id,
            "objectives": list(self.item.objectives),
            "type": self.item.type,
            "choose": self.item.choose,
            "stem": self.item.stem,
            "options": [
                {"label": self.label(o.id), "id": o.id, "text": o.text}
                | ({"feedback": o.feedback, "correct": o.id in self.item.key} if reveal else {})
                for o in self.options
            ],
            "answer": list(self.answer) if self.answer is not None else None,
            "flagged": self.flagged,
            "seconds": round(self.seconds, 1),
        }
        if reveal:
            out |= {
                "key": list(self.item.key),
                "correct": self.correct,
                "explanation": self.item.explanation,
                "references": list(self.item.references),
            }
        return out


@dataclass(frozen=True)
class Feedback:
    """What practice mode shows after an answer (and review shows for every item)."""

    question: Question
    correct: bool
    lab: str | None  # the lab that practises the item's objective

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {**self.question.to_dict(reveal=True), "correct": self.correct, "lab": self.lab}


@dataclass(frozen=True)
class FinishSummary:
    """The finish screen: what is left before submitting."""

    total: int
    answered: int
    unanswered: list[int]  # 1-based positions
    flagged: list[int]
    remaining_s: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


@dataclass(frozen=True)
class AttemptInfo:
    """An attempt as listed."""

    id: int
    mode: str
    blueprint: str
    started_at: float
    deadline_at: float | None
    submitted_at: float | None
    submitted_by: str | None
    items: int
    answered: int
    correct: int | None

    @property
    def is_open(self) -> bool:
        """Not submitted yet."""
        return self.submitted_at is None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


@dataclass(frozen=True)
class HistoryEntry:
    """One submitted mock exam: its score overall and per section."""

    attempt: int
    submitted_at: float
    percent: float
    by_section: dict[int, tuple[int, int]]

    def section_percent(self, number: int) -> float | None:
        """The share right in section `number`, in percent (None when it had no items)."""
        got, of = self.by_section.get(number, (0, 0))
        return 100.0 * got / of if of else None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "attempt": self.attempt,
            "submitted_at": self.submitted_at,
            "percent": self.percent,
            "by_section": {str(k): list(v) for k, v in self.by_section.items()},
        }


@dataclass(frozen=True)
class Due:
    """A missed item in the spaced-repetition queue."""

    item: str
    due: float
    reviews: int
    lapses: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


@dataclass(frozen=True)
class ReportInfo:
    """A problem reported on an item."""

    id: int
    item: str
    kind: str
    message: str
    attempt: int | None
    created_at: float
    status: str
    resolution: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


@dataclass
class Result:
    """A submitted attempt's score, with the time spent per item."""

    attempt: int
    mode: str
    blueprint: str
    score: Score
    submitted_by: str | None
    seconds: dict[str, float] = field(default_factory=dict)  # item id → time spent

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "attempt": self.attempt,
            "mode": self.mode,
            "blueprint": self.blueprint,
            "submitted_by": self.submitted_by,
            **self.score.to_dict(),
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
        }


class Trainer:
    """The exam trainer of one workspace (`ws.exam`): attempts, the spaced-repetition queue,
    history, item statistics and problem reports.

    `items` replaces the shipped bank (tests, custom banks); `clock` gives epoch seconds."""

    def __init__(
        self,
        ws: Workspace,
        *,
        items: Sequence[Item] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ws = ws
        self._given = items
        self.clock = clock

    # -- the bank --------------------------------------------------------------------------------

    @cached_property
    def items(self) -> dict[str, Item]:
        """The items in use, by id (reviewed items only; drafts never reach a candidate)."""
        if self._given is not None:
            chosen = list(self._given)
        else:
            from pmle.exam.bank import load_bank

            chosen, problems = load_bank()
            broken = {p.item for p in problems}  # an item with a problem never reaches anyone
            chosen = [i for i in chosen if i.id not in broken]
        return {i.id: i for i in chosen if i.status == "reviewed"}

    def item(self, item_id: str) -> Item:
        """One item of the bank."""
        try:
            return self.items[item_id]
        except KeyError:
            raise NotFound(
                f"no item {item_id!r} in the question bank",
                hint="item ids look like v2-3.2-0001 (pmle exam bank --stats lists the bank)",
            ) from None

    # -- starting --------------------------------------------------------------------------------

    def start_exam(
        self,
        blueprint_id: str = DEFAULT,
        length: int = 60,
        *,
        seed: int | None = None,
        minutes: float = EXAM_MINUTES,
    ) -> Attempt:
        """A new mock exam: a form of `length` items preferring unseen ones, `minutes` long."""
        bp = blueprint(blueprint_id)
        if minutes <= 0:
            raise InvalidInput("an exam needs a positive number of minutes")
        form = assemble(bp, list(self.items.values()), length, seen=self.seen(), seed=seed)
        now = self.clock()
        settings = {"length": length, "minutes": minutes}
        return self._create(
            "exam", bp, form.seed, settings, [i.id for i in form.items], now, now + minutes * 60
        )

    def start_practice(
        self,
        *,
        blueprint_id: str = DEFAULT,
        sections: Iterable[int] = (),
        objectives: Iterable[str] = (),
        count: int = 10,
        due: bool = False,
        seed: int | None = None,
    ) -> Attempt:
        """A practice session of up to `count` items from `sections` / `objectives` (default:
        all), unseen ones first; `due` takes the spaced-repetition queue first."""
        bp = blueprint(blueprint_id)
        if count < 1:
            raise InvalidInput("a practice session needs at least one item")
        wanted = self._objectives(bp, sections, objectives)
        chosen_seed = random.SystemRandom().randrange(2**31) if seed is None else seed
        rng = random.Random(chosen_seed)
        pool = [
            i
            for i in self.items.values()
            if i.blueprint == bp.id and any(o in wanted for o in i.objectives)
        ]
        rng.shuffle(pool)
        seen = self.seen()
        now = self.clock()
        due_now = {d.item: n for n, d in enumerate(self.due(now=now))} if due else {}
        if due and not any(i.id in due_now for i in pool):
            raise InvalidInput(
                "no missed item is due for review",
                hint="practice without --due, or come back later (pmle exam due)",
            )
        if due:
            pool = [i for i in pool if i.id in due_now]
            pool.sort(key=lambda i: due_now[i.id])
        else:
            pool.sort(key=lambda i: i.id in seen)  # unseen first
        if not pool:
            raise InvalidInput("no reviewed items for those sections / objectives")
        picked = [i.id for i in pool[:count]]
        settings = {
            "count": count,
            "sections": sorted(set(sections)),
            "objectives": sorted(set(objectives)),
            "due": due,
        }
        return self._create("practice", bp, chosen_seed, settings, picked, now, None)

    @staticmethod
    def _objectives(bp: Blueprint, sections: Iterable[int], objectives: Iterable[str]) -> set[str]:
        known = {o.id for o in bp.objectives}
        wanted = set(objectives)
        for objective in wanted - known:
            raise InvalidInput(
                f"{bp.id} has no objective {objective!r}",
                hint=f"objectives: {', '.join(sorted(known))}",
            )
        numbers = {s.number for s in bp.sections}
        for number in sections:
            if number not in numbers:
                raise InvalidInput(f"{bp.id} has no section {number}", hint="sections are 1 to 6")
            wanted |= {o.id for o in bp.sections[number - 1].objectives}
        return wanted or known

    def _create(
        self,
        mode: str,
        bp: Blueprint,
        seed: int,
        settings: dict[str, Any],
        item_ids: list[str],
        now: float,
        deadline: float | None,
    ) -> Attempt:
        from pmle.storage import schema as t

        with self._ws.engine.begin() as conn:
            attempt_id = conn.execute(
                t.exam_attempts.insert().values(
                    mode=mode,
                    blueprint=bp.id,
                    seed=seed,
                    settings=settings,
                    started_at=now,
                    deadline_at=deadline,
                    current=0,
                    viewing_since=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            conn.execute(
                t.exam_responses.insert(),
                [
                    {
                        "attempt_id": attempt_id,
                        "position": n,
                        "item_id": item_id,
                        "option_order": option_order(self.items[item_id], seed),
                        "answer": None,
                        "flagged": False,
                        "seconds": 0.0,
                    }
                    for n, item_id in enumerate(item_ids)
                ],
            )
        return self.attempt(int(attempt_id))

    # -- reading ---------------------------------------------------------------------------------

    def attempt(self, attempt_id: int) -> Attempt:
        """An attempt; one past its deadline is submitted first (auto-submit)."""
        attempt = Attempt(self, attempt_id)
        attempt.refresh()
        return attempt

    def latest_open(self, mode: str = "exam") -> Attempt | None:
        """The most recent attempt of `mode` still open (None if there is none)."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        a = t.exam_attempts
        with self._ws.engine.begin() as conn:
            rows = conn.execute(
                sa.select(a.c.id)
                .where(a.c.mode == mode, a.c.submitted_at.is_(None))
                .order_by(a.c.id.desc())
            ).all()
        for (attempt_id,) in rows:
            attempt = self.attempt(attempt_id)
            if attempt.is_open:
                return attempt
        return None

    def attempts(self, mode: str | None = None, *, limit: int | None = None) -> list[AttemptInfo]:
        """Every attempt (the newest `limit`), newest first (open exams past their deadline are
        submitted first)."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        a, r = t.exam_attempts, t.exam_responses
        self._expire_overdue()
        query = (
            sa.select(
                a,
                sa.func.count(r.c.position).label("items"),
                sa.func.count(r.c.answered_at).label("answered"),
                sa.func.sum(sa.case((r.c.correct.is_(True), 1), else_=0)).label("right"),
            )
            .join(r, r.c.attempt_id == a.c.id)
            .group_by(a.c.id)
            .order_by(a.c.id.desc())
        )
        if mode is not None:
            query = query.where(a.c.mode == mode)
        if limit is not None:
            query = query.limit(limit)
        with self._ws.engine.begin() as conn:
            rows = conn.execute(query).all()
        return [
            AttemptInfo(
                row.id,
                row.mode,
                row.blueprint,
                row.started_at,
                row.deadline_at,
                row.submitted_at,
                row.submitted_by,
                row.items,
                row.answered,
                int(row.right or 0)
                if row.submitted_at is not None or row.mode == "practice"
                else None,
            )
            for row in rows
        ]

    def _expire_overdue(self) -> None:
        import sqlalchemy as sa

        from pmle.storage import schema as t

        a = t.exam_attempts
        with self._ws.engine.begin() as conn:
            overdue = conn.execute(
                sa.select(a.c.id).where(
                    a.c.submitted_at.is_(None),
                    a.c.deadline_at.is_not(None),
                    a.c.deadline_at <= self.clock(),
                )
            ).all()
        for (attempt_id,) in overdue:
            self.attempt(attempt_id)

    def seen(self) -> set[str]:
        """Ids of every item shown in any attempt."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        with self._ws.engine.begin() as conn:
            return set(conn.execute(sa.select(t.exam_responses.c.item_id).distinct()).scalars())

    def history(self, blueprint_id: str = DEFAULT) -> list[HistoryEntry]:
        """Submitted mock exams of a blueprint, oldest first, scored overall and per section."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        bp = blueprint(blueprint_id)
        self._expire_overdue()
        a, r = t.exam_attempts, t.exam_responses
        query = (  # every response of every submitted exam, in one query
            sa.select(a.c.id, a.c.submitted_at, r.c.item_id, r.c.answer)
            .join(r, r.c.attempt_id == a.c.id)
            .where(a.c.mode == "exam", a.c.blueprint == bp.id, a.c.submitted_at.is_not(None))
            .order_by(a.c.id, r.c.position)
        )
        with self._ws.engine.begin() as conn:
            rows = conn.execute(query).all()
        items = self.items
        entries: list[HistoryEntry] = []
        for attempt_id, group in itertools.groupby(rows, key=lambda row: row.id):
            responses = list(group)
            scored = [
                (items[row.item_id], row.answer)
                for row in responses
                if row.item_id in items and items[row.item_id].key
            ]
            answers = {item.id: tuple(answer or ()) for item, answer in scored}
            result = score(bp, [item for item, _ in scored], answers)
            entries.append(
                HistoryEntry(
                    attempt_id,
                    responses[0].submitted_at or 0.0,
                    result.percent,
                    dict(result.by_section),
                )
            )
        return entries

    # -- spaced repetition -----------------------------------------------------------------------

    def due(self, *, now: float | None = None, include_later: bool = False) -> list[Due]:
        """Missed items whose review is due (all scheduled ones with `include_later`), soonest
        first."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        c = t.exam_cards
        query = sa.select(c.c.item_id, c.c.due, c.c.reviews, c.c.lapses).order_by(c.c.due)
        if not include_later:
            query = query.where(c.c.due <= (self.clock() if now is None else now))
        with self._ws.engine.begin() as conn:
            rows = conn.execute(query).all()
        return [Due(*row) for row in rows if row[0] in self.items]

    def _review(self, conn: Connection, item_id: str, correct: bool, when: float) -> None:
        import sqlalchemy as sa

        from pmle.exam.srs import review
        from pmle.storage import schema as t

        c = t.exam_cards
        row = conn.execute(sa.select(c).where(c.c.item_id == item_id)).first()
        state = review(row.card if row else None, correct, when)
        if state is None:
            return
        values = {
            "card": state.card,
            "due": state.due,
            "reviews": (row.reviews if row else 0) + 1,
            "lapses": (row.lapses if row else 0) + state.lapse,
            "updated_at": when,
        }
        if row is None:
            conn.execute(c.insert().values(item_id=item_id, **values))
        else:
            conn.execute(c.update().where(c.c.item_id == item_id).values(**values))

    # -- item statistics and reports ------------------------------------------------------------

    def item_statistics(self, *, min_responses: int = 5) -> list[ItemStats]:
        """Difficulty, discrimination and option choice rates of every item answered in a
        submitted mock exam, with review flags (see `pmle.exam.item_stats`)."""
        import sqlalchemy as sa

        from pmle.exam.item_stats import Response, item_statistics
        from pmle.storage import schema as t

        a, r = t.exam_attempts, t.exam_responses
        with self._ws.engine.begin() as conn:
            rows = conn.execute(
                sa.select(r.c.attempt_id, r.c.item_id, r.c.answer, r.c.correct)
                .join(a, a.c.id == r.c.attempt_id)
                .where(a.c.mode == "exam", a.c.submitted_at.is_not(None))
                .order_by(r.c.attempt_id, r.c.position)
            ).all()
        sheets: dict[int, list[Response]] = {}
        for row in rows:
            sheets.setdefault(row.attempt_id, []).append(
                Response(row.item_id, tuple(row.answer or ()), bool(row.correct))
            )
        open_reports: dict[str, int] = {}
        for report in self.reports():
            open_reports[report.item] = open_reports.get(report.item, 0) + 1
        return item_statistics(
            list(sheets.values()), self.items, min_responses=min_responses, reports=open_reports
        )

    def report(
        self, item_id: str, message: str, *, kind: str = "other", attempt: int | None = None
    ) -> ReportInfo:
        """Report a problem with an item (a wrong key, an unclear stem, an outdated fact …)."""
        from pmle.storage import schema as t

        self.item(item_id)
        if kind not in REPORT_KINDS:
            raise InvalidInput(f"kind {kind!r}: one of {', '.join(REPORT_KINDS)}")
        if not message.strip():
            raise InvalidInput("say what is wrong with the item")
        now = self.clock()
        with self._ws.engine.begin() as conn:
            report_id = conn.execute(
                t.exam_reports.insert().values(
                    item_id=item_id,
                    kind=kind,
                    message=message.strip(),
                    attempt_id=attempt,
                    created_at=now,
                    status="open",
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        return ReportInfo(
            int(report_id), item_id, kind, message.strip(), attempt, now, "open", None
        )

    def reports(self, status: str | None = "open") -> list[ReportInfo]:
        """Problem reports, newest first (`status` open, closed, or None for all)."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        p = t.exam_reports
        query = sa.select(p).order_by(p.c.id.desc())
        if status is not None:
            if status not in ("open", "closed"):
                raise InvalidInput("status: open or closed")
            query = query.where(p.c.status == status)
        with self._ws.engine.begin() as conn:
            rows = conn.execute(query).all()
        return [
            ReportInfo(
                r.id,
                r.item_id,
                r.kind,
                r.message,
                r.attempt_id,
                r.created_at,
                r.status,
                r.resolution,
            )
            for r in rows
        ]

    def close_report(self, report_id: int, resolution: str = "") -> None:
        """Mark a report as dealt with."""
        from pmle.storage import schema as t

        p = t.exam_reports
        with self._ws.engine.begin() as conn:
            done = conn.execute(
                p.update()
                .where(p.c.id == report_id)
                .values(status="closed", resolution=resolution or None)
            ).rowcount
        if not done:
            raise NotFound(f"no report {report_id}", hint="pmle exam reports lists them")


class Attempt:
    """One mock exam or practice session. Read it with `questions`, act with `goto`, `answer`,
    `flag`, `submit`; every action checks the deadline first."""

    def __init__(self, trainer: Trainer, attempt_id: int) -> None:
        self._trainer = trainer
        self.id = attempt_id
        self.mode = ""
        self.blueprint = ""
        self.seed = 0
        self.settings: dict[str, Any] = {}
        self.started_at = 0.0
        self.deadline_at: float | None = None
        self.submitted_at: float | None = None
        self.submitted_by: str | None = None
        self.current = 0
        self.questions: list[Question] = []

    def __repr__(self) -> str:
        return f"Attempt({self.id}, {self.mode}, {'open' if self.is_open else 'submitted'})"

    @property
    def is_open(self) -> bool:
        """Not submitted yet."""
        return self.submitted_at is None

    def remaining(self) -> float | None:
        """Seconds left before the deadline (None in practice mode)."""
        if self.deadline_at is None:
            return None
        end = self.submitted_at if self.submitted_at is not None else self._trainer.clock()
        return max(0.0, self.deadline_at - end)

    # -- loading ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload from the store; an exam past its deadline is submitted as it stands."""
        self._load()
        overdue = self.deadline_at is not None and self._trainer.clock() >= self.deadline_at
        if self.is_open and overdue:
            self._submit("deadline")

    def _load(self, conn: Connection | None = None) -> None:
        if conn is None:
            with self._trainer._ws.engine.begin() as own:
                self._load(own)
            return
        import sqlalchemy as sa

        from pmle.storage import schema as t

        a, r = t.exam_attempts, t.exam_responses
        row = conn.execute(sa.select(a).where(a.c.id == self.id)).first()
        if row is None:
            raise NotFound(f"no attempt {self.id}", hint="pmle exam attempts lists them")
        self.mode, self.blueprint, self.seed = row.mode, row.blueprint, row.seed
        self.settings = dict(row.settings or {})
        self.started_at, self.deadline_at = row.started_at, row.deadline_at
        self.submitted_at, self.submitted_by = row.submitted_at, row.submitted_by
        self.current = row.current
        self._viewing_since = row.viewing_since
        items = self._trainer.items
        self.questions = [
            Question(
                q.position,
                items.get(q.item_id) or _removed(q.item_id),
                tuple(q.option_order),
                tuple(q.answer) if q.answer is not None else None,
                bool(q.flagged),
                float(q.seconds),
                q.correct,
            )
            for q in conn.execute(
                sa.select(r).where(r.c.attempt_id == self.id).order_by(r.c.position)
            )
        ]

    def question(self, position: int) -> Question:
        """The question at 0-based `position`."""
        if not 0 <= position < len(self.questions):
            raise InvalidInput(
                f"attempt {self.id} has questions 1 to {len(self.questions)}, not {position + 1}"
            )
        return self.questions[position]

    # -- acting ----------------------------------------------------------------------------------

    def _acting(self) -> float:
        """Check the attempt can still be acted on; returns the time of the action."""
        self.refresh()
        if not self.is_open:
            if self.submitted_by == "deadline":
                raise Conflict(
                    f"time is up: attempt {self.id} was submitted at its deadline",
                    hint=f"pmle exam result {self.id}",
                )
            raise Conflict(f"attempt {self.id} is already submitted", hint="start a new one")
        return self._trainer.clock()

    def _accrue(self, conn: Connection, now: float) -> None:
        """Add the time since the current question was shown to it."""
        from pmle.storage import schema as t

        if self._viewing_since is None:
            return
        end = min(now, self.deadline_at) if self.deadline_at is not None else now
        spent = max(0.0, end - self._viewing_since)
        r = t.exam_responses
        conn.execute(
            r.update()
            .where(r.c.attempt_id == self.id, r.c.position == self.current)
            .values(seconds=r.c.seconds + spent)
        )

    def goto(self, position: int) -> Question:
        """Show the question at `position` (0-based); time on the one left is recorded."""
        self.question(position)
        now = self._acting()
        from pmle.storage import schema as t

        with self._trainer._ws.engine.begin() as conn:
            self._accrue(conn, now)
            conn.execute(
                t.exam_attempts.update()
                .where(t.exam_attempts.c.id == self.id)
                .values(current=position, viewing_since=now)
            )
            self._load(conn)
        return self.questions[position]

    def leave(self) -> None:
        """The candidate quits for now: stop counting time on the current question (the
        exam's deadline keeps running)."""
        if not self.is_open:
            return
        now = self._acting()
        from pmle.storage import schema as t

        with self._trainer._ws.engine.begin() as conn:
            self._accrue(conn, now)
            conn.execute(
                t.exam_attempts.update()
                .where(t.exam_attempts.c.id == self.id)
                .values(viewing_since=None)
            )
            self._load(conn)

    def answer(self, position: int, choices: Iterable[str]) -> Feedback | None:
        """Choose options (their ids) for a question; an empty choice clears the answer.

        In practice mode the answer is scored at once and its feedback returned, and it cannot
        be changed afterwards; in exam mode answers can change until submission."""
        question = self.question(position)
        chosen = tuple(sorted(set(choices)))
        valid = {o.id for o in question.item.options}
        for choice in chosen:
            if choice not in valid:
                raise InvalidInput(
                    f"question {position + 1} ({question.item.id}) has no option {choice!r}",
                    hint=f"options: {', '.join(sorted(valid))}",
                )
        if question.item.type == "single" and len(chosen) > 1:
            raise InvalidInput(f"question {position + 1} takes one answer")
        if len(chosen) > max(question.item.choose, 1):
            raise InvalidInput(f"question {position + 1} asks you to choose {question.item.choose}")
        now = self._acting()
        if self.mode == "practice" and self.questions[position].answer is not None:
            raise Conflict(f"question {position + 1} is already answered in this session")
        from pmle.storage import schema as t

        r = t.exam_responses
        values: dict[str, Any] = {
            "answer": list(chosen) or None,
            "answered_at": now if chosen else None,
        }
        correct = set(chosen) == set(question.item.key)
        if self.mode == "practice":
            if not chosen:
                raise InvalidInput("choose an option to check your answer")
            values["correct"] = correct
        with self._trainer._ws.engine.begin() as conn:
            conn.execute(
                r.update()
                .where(r.c.attempt_id == self.id, r.c.position == position)
                .values(**values)
            )
            if self.mode == "practice":
                self._trainer._review(conn, question.item.id, correct, now)
            self._load(conn)
        if self.mode != "practice":
            return None
        return Feedback(self.questions[position], correct, _lab_for(question.item))

    def flag(self, position: int, flagged: bool = True) -> None:
        """Flag a question for review before submitting (or clear the flag)."""
        self.question(position)
        self._acting()
        from pmle.storage import schema as t

        r = t.exam_responses
        with self._trainer._ws.engine.begin() as conn:
            conn.execute(
                r.update()
                .where(r.c.attempt_id == self.id, r.c.position == position)
                .values(flagged=flagged)
            )
            self._load(conn)

    def summary(self) -> FinishSummary:
        """The finish screen: unanswered and flagged questions, time left."""
        unanswered = [q.position + 1 for q in self.questions if q.answer is None]
        flagged = [q.position + 1 for q in self.questions if q.flagged]
        answered = len(self.questions) - len(unanswered)
        return FinishSummary(len(self.questions), answered, unanswered, flagged, self.remaining())

    def submit(self) -> Result:
        """Submit the attempt (the candidate's choice) and score it."""
        self._acting()
        self._submit("candidate")
        return self.result()

    def _submit(self, by: str) -> None:
        from pmle.storage import schema as t

        a, r = t.exam_attempts, t.exam_responses
        now = self._trainer.clock()
        when = min(now, self.deadline_at) if self.deadline_at is not None else now
        with self._trainer._ws.engine.begin() as conn:
            claimed = conn.execute(
                a.update()
                .where(a.c.id == self.id, a.c.submitted_at.is_(None))
                .values(submitted_at=when, submitted_by=by)
            ).rowcount
            if not claimed:  # submitted meanwhile by another process
                self._load(conn)
                return
            self._accrue(conn, now)
            conn.execute(a.update().where(a.c.id == self.id).values(viewing_since=None))
            for question in self.questions:
                if self.mode == "practice":
                    continue  # scored answer by answer
                correct = set(question.answer or ()) == set(question.item.key) and bool(
                    question.item.key
                )
                conn.execute(
                    r.update()
                    .where(r.c.attempt_id == self.id, r.c.position == question.position)
                    .values(correct=correct)
                )
                if question.item.key:
                    self._trainer._review(conn, question.item.id, correct, when)
            self._load(conn)

    # -- after the end ---------------------------------------------------------------------------

    def result(self) -> Result:
        """The score: exact set per item; overall, per section and per objective; time per
        item. Exams are scored only once submitted."""
        if self.mode == "exam" and self.is_open:
            raise Conflict(
                f"attempt {self.id} is still open: no score until it is submitted",
                hint="submit it, or wait for its deadline",
            )
        bp = blueprint(self.blueprint)
        scored = [q for q in self.questions if q.item.key]
        if self.mode == "practice":
            scored = [q for q in scored if q.answer is not None]
        answers = {q.item.id: q.answer or () for q in scored}
        result = score(bp, [q.item for q in scored], answers)
        return Result(
            self.id,
            self.mode,
            self.blueprint,
            result,
            self.submitted_by,
            {q.item.id: q.seconds for q in self.questions},
        )

    def review(self, which: str = "all") -> list[Feedback]:
        """The questions with their answers, keys and feedback: `all`, `wrong` or `flagged`.
        An exam can be reviewed once submitted; practice, for the items answered."""
        if which not in REVIEW_FILTERS:
            raise InvalidInput(f"review {which!r}: one of {', '.join(REVIEW_FILTERS)}")
        if self.mode == "exam" and self.is_open:
            raise Conflict(
                f"attempt {self.id} is still open: no feedback until it is submitted",
                hint="this is exam mode; practice mode gives feedback at once",
            )
        out: list[Feedback] = []
        for q in self.questions:
            if self.mode == "practice" and q.answer is None:
                continue
            right = bool(q.correct)
            if which == "wrong" and right:
                continue
            if which == "flagged" and not q.flagged:
                continue
            out.append(Feedback(q, right, _lab_for(q.item)))
        return out

    def to_dict(self, *, reveal: bool = False) -> dict[str, Any]:
        """JSON form: the attempt and its questions (with keys and feedback when `reveal` and
        the attempt may show them)."""
        show = reveal and not (self.mode == "exam" and self.is_open)
        return {
            "id": self.id,
            "mode": self.mode,
            "blueprint": self.blueprint,
            "started_at": self.started_at,
            "deadline_at": self.deadline_at,
            "remaining_s": self.remaining(),
            "submitted_at": self.submitted_at,
            "submitted_by": self.submitted_by,
            "questions": [q.to_dict(reveal=show) for q in self.questions],
        }


def _lab_for(item: Item) -> str | None:
    """The id of the lab that practises the item's first objective, if there is one."""
    try:
        from pmle.exam.labs import lab_for
    except ImportError:  # labs are optional in a trimmed install
        return None
    lab = lab_for(item.objectives[0]) if item.objectives else None
    return lab.id if lab is not None else None


def apply_answers(attempt: Attempt, answers: Mapping[str, Iterable[str]]) -> list[Feedback]:
    """Record `answers` ({item id: option ids}) on an attempt, in its order; unknown item ids
    are an error. Returns practice feedback (empty for exams)."""
    positions = {q.item.id: q.position for q in attempt.questions}
    for item_id in answers:
        if item_id not in positions:
            raise InvalidInput(
                f"item {item_id!r} is not on attempt {attempt.id}",
                hint="answer files map the attempt's item ids to option ids",
            )
    out: list[Feedback] = []
    for item_id, chosen in answers.items():
        if isinstance(chosen, str):
            chosen = [chosen]
        attempt.goto(positions[item_id])
        feedback = attempt.answer(positions[item_id], chosen)
        if feedback is not None:
            out.append(feedback)
    return out
