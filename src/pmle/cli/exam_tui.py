"""The exam trainer's full-screen terminal UI (Textual): mock exams, practice and review.

Keys: the option letters (a–f) choose; n / → next; p / ← previous; m marks (flags) for review;
g the navigator;
s the finish screen; in practice Enter checks the answer; q leaves (an exam's clock keeps
running: `pmle exam resume` comes back to it). Every answer is stored at once, so nothing is
lost if the terminal closes. At the deadline the exam is submitted and the result shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Static

from pmle.cli._exam_render import clock_text, feedback_panel, result_tables
from pmle.errors import Conflict

if TYPE_CHECKING:
    from pmle.exam.attempts import Attempt, Feedback, Question, Trainer
    from pmle.exam.items import Item

LETTERS = "ABCDEF"


class NavigatorScreen(ModalScreen[int | None]):
    """Every question as a button: answered, unanswered, flagged; choose one to go there."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,g", "dismiss_none", "Back")]

    def __init__(self, attempt: Attempt) -> None:
        super().__init__()
        self.attempt = attempt

    def compose(self) -> ComposeResult:
        with Vertical(id="navigator"):
            yield Static("Navigator — ✓ answered · ⚑ flagged · Esc to go back", id="nav-title")
            with Grid(id="nav-grid"):
                for q in self.attempt.questions:
                    mark = "⚑" if q.flagged else ("✓" if q.answer is not None else " ")
                    classes = "answered" if q.answer is not None else "unanswered"
                    if q.flagged:
                        classes += " flagged"
                    yield Button(f"{q.position + 1}{mark}", id=f"nav-{q.position}", classes=classes)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(int((event.button.id or "nav-0").removeprefix("nav-")))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class FinishScreen(ModalScreen[bool]):
    """Before submitting: how many are unanswered and flagged, and the time left."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "submit", "Submit"),
        Binding("escape,n", "back", "Back"),
    ]

    def __init__(self, attempt: Attempt) -> None:
        super().__init__()
        self.attempt = attempt

    def compose(self) -> ComposeResult:
        s = self.attempt.summary()
        lines = [
            f"{s.answered} of {s.total} answered.",
            f"Unanswered: {len(s.unanswered)}"
            + (f" (questions {', '.join(map(str, s.unanswered[:20]))}" if s.unanswered else "")
            + ("…)" if len(s.unanswered) > 20 else ")" if s.unanswered else ""),
            f"Flagged for review: {len(s.flagged)}"
            + (f" (questions {', '.join(map(str, s.flagged))})" if s.flagged else ""),
        ]
        if s.remaining_s is not None:
            lines.append(f"Time left: {clock_text(s.remaining_s)}")
        lines.append("")
        lines.append("Submit now? Nothing can be changed afterwards. (y = submit, Esc = back)")
        with Vertical(id="finish"):
            yield Static("\n".join(lines), id="finish-text")
            yield Button("Submit", id="submit", variant="error")
            yield Button("Back to the questions", id="back")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "submit")

    def action_submit(self) -> None:
        self.dismiss(True)

    def action_back(self) -> None:
        self.dismiss(False)


class ResultScreen(Screen[None]):
    """The score overall, per section and per objective; r reviews missed items."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "review('wrong')", "Review missed"),
        Binding("a", "review('all')", "Review all"),
        Binding("l", "review('flagged')", "Review flagged"),
        Binding("q,escape", "app.quit", "Quit"),
    ]

    def __init__(self, attempt: Attempt, notice: str = "") -> None:
        super().__init__()
        self.attempt = attempt
        self.notice = notice

    def compose(self) -> ComposeResult:
        from rich.console import Group

        result = self.attempt.result()
        parts: list[Any] = []
        if self.notice:
            parts.append(Text(self.notice, style="bold yellow"))
        parts += result_tables(result, self.attempt.questions)
        with VerticalScroll():
            yield Static(
                Text(f"Result of attempt {self.attempt.id}", style="bold"), id="result-title"
            )
            yield Static(Group(*parts), id="result")
        yield Footer()

    def action_review(self, which: str) -> None:
        app = self.app
        assert isinstance(app, ExamApp)
        items = self.attempt.review(which)
        if not items:
            self.notify(f"No {which} items to review.")
            return
        app.push_screen(ReviewScreen(items, app.names))


class ReviewScreen(Screen[None]):
    """Reviewed questions one by one, with answers, keys and every option's feedback."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right,n", "move(1)", "Next"),
        Binding("left,p", "move(-1)", "Previous"),
        Binding("q,escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, items: list[Feedback], names: str | None) -> None:
        super().__init__()
        self.items = items
        self.names = names
        self.index = 0

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="review-head")
            yield Static(id="review")
        yield Footer()

    def on_mount(self) -> None:
        self._show()

    def _show(self) -> None:
        head = f"Review: {self.index + 1} of {len(self.items)}"
        self.query_one("#review-head", Static).update(Text(head, style="bold"))
        self.query_one("#review", Static).update(feedback_panel(self.items[self.index], self.names))

    def action_move(self, step: int) -> None:
        self.index = max(0, min(len(self.items) - 1, self.index + step))
        self._show()


class QuestionScreen(Screen[None]):
    """One question at a time, with the timer, the position and the flag."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(letter.lower(), f"choose('{letter}')", show=False) for letter in LETTERS),
        Binding("right,n", "move(1)", "Next"),
        Binding("left,p", "move(-1)", "Previous"),
        Binding("enter", "check", "Check", show=False),
        Binding("m", "flag", "Mark for review"),
        Binding("g", "navigator", "Navigator"),
        Binding("s", "finish", "Finish"),
        Binding("q", "leave", "Quit"),
    ]

    def __init__(self, trainer: Trainer, attempt: Attempt, names: str | None) -> None:
        super().__init__()
        self.trainer = trainer
        self.attempt = attempt
        self.names = names
        self.selection: set[str] = set()
        self.feedback: Feedback | None = None

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="bar")
        with VerticalScroll(id="body"):
            yield Static(id="stem")
            for n in range(len(LETTERS)):
                yield Static(id=f"opt-{n}", classes="option")
            yield Static(id="feedback")
        yield Footer()

    def on_mount(self) -> None:
        self.attempt.goto(self.attempt.current)
        self._load_selection()
        self._redraw()
        if self.attempt.deadline_at is not None:
            self.set_interval(1.0, self._tick)

    @property
    def question(self) -> Question:
        return self.attempt.questions[self.attempt.current]

    def _item(self, item: Item) -> Item:
        if not self.names:
            return item
        from pmle.exam.aliases import render

        return render(item, self.names)

    def _load_selection(self) -> None:
        self.selection = set(self.question.answer or ())
        self.feedback = None
        if self.attempt.mode == "practice" and self.question.answer is not None:
            done = [
                f for f in self.attempt.review() if f.question.position == self.question.position
            ]
            self.feedback = done[0] if done else None

    def _bar_text(self) -> Text:
        q = self.question
        mode = "Mock exam" if self.attempt.mode == "exam" else "Practice"
        bar = Text.assemble(
            (f" {mode} ", "bold reverse"),
            f"  Question {q.position + 1} of {len(self.attempt.questions)}",
            ("  ⚑ flagged" if q.flagged else "", "bold yellow"),
        )
        remaining = self.attempt.remaining()
        if remaining is not None:
            style = "bold red" if remaining < 300 else "bold"
            bar.append(f"   Time left {clock_text(remaining)}", style=style)
        answered = sum(1 for x in self.attempt.questions if x.answer is not None)
        bar.append(f"   Answered {answered}/{len(self.attempt.questions)}", style="dim")
        return bar

    def _redraw(self) -> None:
        q = self.question
        item = self._item(q.item)
        self.query_one("#bar", Static).update(self._bar_text())
        hint = f"\n(select {item.choose})" if item.type == "multiple" else ""
        self.query_one("#stem", Static).update(Text(item.stem + hint))
        by_id = {o.id: o for o in item.options}
        for n in range(len(LETTERS)):
            widget = self.query_one(f"#opt-{n}", Static)
            if n >= len(q.option_order):
                widget.display = False
                continue
            widget.display = True
            option_id = q.option_order[n]
            chosen = option_id in self.selection
            mark = "●" if chosen else "○"
            if item.type == "multiple":
                mark = "■" if chosen else "□"
            widget.set_class(chosen, "chosen")
            widget.update(Text(f"{mark} {LETTERS[n]}. {by_id[option_id].text}"))
        panel = self.query_one("#feedback", Static)
        if self.feedback is not None:
            panel.display = True
            panel.update(feedback_panel(self.feedback, self.names))
        else:
            panel.display = False

    # -- the clock ---------------------------------------------------------------------------

    def _tick(self) -> None:
        remaining = self.attempt.remaining()
        if remaining is not None and remaining <= 0:
            self._times_up()
            return
        self.query_one("#bar", Static).update(self._bar_text())

    def _times_up(self) -> None:
        self.attempt.refresh()  # submits it as it stands
        self.app.switch_screen(
            ResultScreen(self.attempt, "Time is up: the exam was submitted at its deadline.")
        )

    def _guard(self, action: Any, *args: Any) -> Any:
        """Run an attempt action; at the deadline, show the result instead."""
        try:
            return action(*args)
        except Conflict:
            if self.attempt.deadline_at is not None and self.attempt.remaining() == 0:
                self._times_up()
                return None
            raise

    # -- actions -----------------------------------------------------------------------------

    def action_choose(self, letter: str) -> None:
        q = self.question
        index = LETTERS.index(letter)
        if index >= len(q.option_order) or self.feedback is not None:
            return
        option_id = q.option_order[index]
        if q.item.type == "single":
            self.selection = set() if option_id in self.selection else {option_id}
        elif option_id in self.selection:
            self.selection.discard(option_id)
        elif len(self.selection) >= q.item.choose:
            self.notify(f"Choose {q.item.choose}: clear one first.", severity="warning")
            return
        else:
            self.selection.add(option_id)
        if self.attempt.mode == "exam":  # stored at once, so nothing is lost
            self._guard(self.attempt.answer, q.position, sorted(self.selection))
        if self.attempt.is_open:
            self._redraw()

    def action_check(self) -> None:
        if self.attempt.mode != "practice" or self.feedback is not None:
            return
        if not self.selection:
            self.notify("Choose an option first.", severity="warning")
            return
        self.feedback = self.attempt.answer(self.question.position, sorted(self.selection))
        self._redraw()

    def action_move(self, step: int) -> None:
        target = self.attempt.current + step
        if target >= len(self.attempt.questions):
            self.action_finish()
            return
        if target < 0:
            return
        self._guard(self.attempt.goto, target)
        if self.attempt.is_open:
            self._load_selection()
            self._redraw()

    def action_flag(self) -> None:
        q = self.question
        self._guard(self.attempt.flag, q.position, not q.flagged)
        if self.attempt.is_open:
            self._redraw()

    def action_navigator(self) -> None:
        def go(position: int | None) -> None:
            if position is not None:
                self._guard(self.attempt.goto, position)
                if self.attempt.is_open:
                    self._load_selection()
                    self._redraw()

        self.app.push_screen(NavigatorScreen(self.attempt), go)

    def action_finish(self) -> None:
        def done(submit: bool | None) -> None:
            if submit:
                self._guard(self.attempt.submit)
                self.app.switch_screen(ResultScreen(self.attempt))

        if self.attempt.mode == "practice":
            unanswered = sum(1 for q in self.attempt.questions if q.answer is None)
            if unanswered == 0:
                done(True)
                return
        self.app.push_screen(FinishScreen(self.attempt), done)

    def action_leave(self) -> None:
        self._guard(self.attempt.leave)
        app = self.app
        assert isinstance(app, ExamApp)
        if self.attempt.is_open:
            left = self.attempt.remaining()
            clock = f" {clock_text(left)} left, and the clock keeps running." if left else ""
            app.farewell = f"Saved.{clock} Resume with: pmle exam resume {self.attempt.id}"
        app.exit()


class ExamApp(App[None]):
    """The trainer's terminal UI for one attempt (or a review of one)."""

    TITLE = "pmle exam"
    CSS = """
    #bar { height: 1; background: $panel; }
    #body { padding: 1 2; }
    #stem { margin-bottom: 1; }
    .option { padding: 0 1; margin-bottom: 1; }
    .option.chosen { background: $accent 30%; text-style: bold; }
    #feedback { margin-top: 1; }
    #navigator, #finish { width: 80%; height: auto; max-height: 90%; background: $surface;
        border: thick $primary; padding: 1 2; }
    NavigatorScreen, FinishScreen { align: center middle; }
    #nav-grid { grid-size: 10; grid-gutter: 0 1; height: auto; }
    #nav-grid Button { min-width: 6; }
    #nav-grid Button.answered { background: $success 40%; }
    #nav-grid Button.flagged { background: $warning 60%; }
    #finish Button { margin-top: 1; }
    """

    def __init__(
        self,
        trainer: Trainer,
        attempt: Attempt,
        *,
        names: str | None = None,
        review: str | None = None,
    ) -> None:
        super().__init__()
        self.trainer = trainer
        self.attempt = attempt
        self.names = names
        self.review = review
        self.farewell = ""

    def on_mount(self) -> None:
        if self.review is not None:
            self.push_screen(ReviewScreen(self.attempt.review(self.review), self.names))
        elif not self.attempt.is_open:
            self.push_screen(ResultScreen(self.attempt))
        else:
            self.push_screen(QuestionScreen(self.trainer, self.attempt, self.names))

    def run(self, *args: Any, **kwargs: Any) -> None:
        super().run(*args, **kwargs)
        if self.farewell:
            print(self.farewell)
