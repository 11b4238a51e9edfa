"""Rich rendering of the exam trainer's results, reviews, history and statistics (shared by
`pmle exam …` and the terminal UI's result screen)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pmle.cli._render import sparkline

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

    from pmle.exam.attempts import Feedback, HistoryEntry, Question, Result
    from pmle.exam.item_stats import ItemStats


def stamp(epoch: float | None) -> str:
    """An epoch time as local `YYYY-MM-DD HH:MM` (a dash for None)."""
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, UTC).astimezone().strftime("%Y-%m-%d %H:%M")


def clock_text(seconds: float | None) -> str:
    """Seconds as `H:MM:SS` (or `MM:SS` under an hour)."""
    if seconds is None:
        return "—"
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _percent(got: int, of: int) -> str:
    return f"{100 * got / of:.0f}% ({got}/{of})" if of else "—"


def result_tables(
    result: Result, questions: list[Question] | None = None, *, per_item: bool = False
) -> list[RenderableType]:
    """The score overall, per section and per objective, with the time spent (per objective
    and, with `per_item`, per question, when the attempt's `questions` are given)."""
    from rich.table import Table
    from rich.text import Text

    from pmle.exam.blueprints import blueprint

    bp = blueprint(result.blueprint)
    score = result.score
    spent = sum(result.seconds.values())
    how = " (submitted at the deadline)" if result.submitted_by == "deadline" else ""
    head = Text.assemble(
        (f"{score.percent:.0f}%", "bold"),
        f" — {score.correct} of {score.total} right, {score.answered} answered, "
        f"{clock_text(spent)} spent{how}\n",
        (score.readiness, "dim"),
    )
    sections = Table("section", "score", title="By section", title_justify="left")
    for s in bp.sections:
        got, of = score.by_section.get(s.number, (0, 0))
        if of:
            sections.add_row(f"{s.number}. {s.title}", _percent(got, of))
    times: dict[str, list[float]] = {}
    for q in questions or ():
        times.setdefault(q.item.objectives[0], []).append(q.seconds)
    objectives = Table(
        "objective", "score", "time per item", title="By objective", title_justify="left"
    )
    for o in bp.objectives:
        got, of = score.by_objective.get(o.id, (0, 0))
        if of:
            spent_on = times.get(o.id, [])
            average = clock_text(sum(spent_on) / len(spent_on)) if spent_on else "—"
            objectives.add_row(f"{o.id} {o.title}", _percent(got, of), average)
    out: list[RenderableType] = [head, sections, objectives]
    if per_item and questions:
        items = Table("#", "item", "objective", "result", "time", "flag", title="By question")
        for q in questions:
            verdict = {True: "[green]✓[/]", False: "[red]✗[/]", None: "—"}[q.correct]
            if q.answer is None and q.correct is not None:
                verdict = "[red]✗ unanswered[/]"
            items.add_row(
                str(q.position + 1),
                q.item.id,
                q.item.objectives[0],
                verdict,
                clock_text(q.seconds),
                "⚑" if q.flagged else "",
            )
        out.append(items)
    return out


def feedback_panel(feedback: Feedback, names: str | None = None) -> RenderableType:
    """One reviewed question: stem, options marked chosen / correct, feedback, references."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    from pmle.exam.aliases import render

    q = feedback.question
    item = render(q.item, names) if names else q.item
    by_id = {o.id: o for o in item.options}
    lines: list[RenderableType] = [Text(item.stem), Text("")]
    chosen = set(q.answer or ())
    for option_id in q.option_order:
        option = by_id.get(option_id)
        if option is None:
            continue
        right = option_id in item.key
        mark = "✓" if right else ("✗" if option_id in chosen else " ")
        style = "green" if right else ("red" if option_id in chosen else "")
        picked = " (your answer)" if option_id in chosen else ""
        lines.append(Text(f"{mark} {q.label(option_id)}. {option.text}{picked}", style=style))
        lines.append(Text(f"    {option.feedback}", style="dim"))
    lines += [Text(""), Text(item.explanation, style="italic")]
    lines += [Text(f"  {ref}", style="blue underline") for ref in item.references]
    if not feedback.correct and feedback.lab:
        lines.append(Text(f"Practise it hands-on: pmle lab start {feedback.lab}", style="cyan"))
    verdict = "[green]right[/]" if feedback.correct else "[red]wrong[/]"
    flag = " ⚑" if q.flagged else ""
    title = (
        f"Question {q.position + 1} · {item.id} · {', '.join(item.objectives)} · {verdict}{flag}"
    )
    return Panel(Group(*lines), title=title, title_align="left")


def history_table(entries: list[HistoryEntry], section_titles: dict[int, str]) -> Table:
    """Progress per section over submitted mock exams, with a trend line."""
    from rich.table import Table

    table = Table("section", *(f"#{e.attempt}" for e in entries), "trend")
    overall = [e.percent for e in entries]
    table.add_row(
        "overall", *(f"{p:.0f}%" for p in overall), sparkline([round(p) for p in overall])
    )
    for number, title in section_titles.items():
        values = [e.section_percent(number) for e in entries]
        cells = [f"{v:.0f}%" if v is not None else "—" for v in values]
        trend = sparkline([round(v) if v is not None else 0 for v in values])
        table.add_row(f"{number}. {title}", *cells, trend)
    return table


def stats_table(stats: list[ItemStats]) -> Table:
    """Item statistics, flagged items first."""
    from rich.table import Table

    table = Table("item", "n", "p (share right)", "discrimination", "choices", "flags")
    for s in stats:
        choices = " ".join(f"{k}:{v:.0%}" for k, v in s.choice_rates.items())
        r = f"{s.discrimination:+.2f}" if s.discrimination is not None else "—"
        flags = "\n".join(s.flags) if s.flags else "[green]ok[/]"
        table.add_row(s.item, str(s.responses), f"{s.difficulty:.2f}", r, choices, flags)
    return table
