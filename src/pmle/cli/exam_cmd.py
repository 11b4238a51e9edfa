"""`pmle exam …`: the exam trainer — blueprints and their allocations, the question bank and
its validator, mock exams and practice (in the terminal UI or from answer files), review,
history, the spaced-repetition queue, item statistics and problem reports."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pmle.cli._common import (
    EXIT_BAD_INPUT,
    console,
    handle_errors,
    open_ws,
    print_json,
)

if TYPE_CHECKING:
    from pmle.exam.attempts import Attempt, Trainer

app = typer.Typer(
    help="The PMLE exam trainer: mock exams, practice, review, spaced repetition, the question "
    "bank.",
    no_args_is_help=True,
)

NAMES_HELP = "product names to show: vertex (as written) or agent-platform (2026 names)"


@app.command("blueprints")
@handle_errors
def blueprints(
    name: Annotated[str | None, typer.Argument(help="blueprint id (default: all)")] = None,
    length: Annotated[int, typer.Option("--length", help="questions on a form")] = 60,
) -> None:
    """Blueprints: sections, weights, objectives, and questions per section for a form."""
    from rich.table import Table

    from pmle.exam.blueprints import BLUEPRINTS, allocate, blueprint

    chosen = [blueprint(name)] if name else list(BLUEPRINTS.values())
    out = console()
    for bp in chosen:
        mark = "" if bp.verified else " [yellow](unverified)[/]"
        out.print(f"[bold]{bp.id}[/] — {bp.title}, in force {bp.in_force}{mark}")
        counts = allocate(bp, length)
        table = Table("section", "weight", f"of {length}", "objectives")
        for s in bp.sections:
            objectives = "; ".join(f"{o.id} {o.title}" for o in s.objectives)
            table.add_row(
                f"{s.number}. {s.title}", f"{s.weight:g}%", str(counts[s.number]), objectives
            )
        out.print(table)
        if bp.notes:
            out.print(f"[dim]{bp.notes}[/]")


@app.command("validate")
@handle_errors
def validate(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="item files or folders (default: the bank)")
    ] = None,
) -> None:
    """Check items against the schema and the writing guide's floors."""
    from pmle.exam.bank import load_bank

    items, problems = load_bank(paths or None)
    out = console()
    for problem in problems:
        out.print(f"[red]✗[/] {problem}", markup=True)
    if problems:
        out.print(f"{len(problems)} problem(s) in {len(items)} item(s)")
        raise typer.Exit(EXIT_BAD_INPUT)
    out.print(f"[green]✓[/] {len(items)} item(s) valid")


@app.command("bank")
@handle_errors
def bank(
    show_stats: Annotated[bool, typer.Option("--stats", help="counts per objective")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The shipped question bank: how many items, per objective."""
    from rich.table import Table

    from pmle.exam.bank import load_bank, stats
    from pmle.exam.blueprints import blueprint

    items, problems = load_bank()
    summary = stats(items)
    if json_out:
        print_json({**summary, "problems": [str(p) for p in problems]})
        return
    out = console()
    out.print(
        f"{summary['items']} item(s) in the bank "
        f"({summary['by_status'].get('reviewed', 0)} reviewed), {len(problems)} problem(s); "
        f"{summary['multiple_select_share']:.0%} multiple-select"
    )
    if show_stats:
        table = Table("objective", "items", "reviewed")
        for o in blueprint().objectives:
            table.add_row(
                f"{o.id} {o.title}",
                str(summary["by_objective"].get(o.id, 0)),
                str(summary["reviewed_by_objective"].get(o.id, 0)),
            )
        out.print(table)


# -- taking exams and practising ----------------------------------------------------------------


def _trainer() -> Trainer:
    return open_ws().exam


def _read_answers(path: Path) -> dict[str, list[str]]:
    """An answer file: JSON {item id: option id or [option ids]}."""
    import orjson

    from pmle.errors import InvalidInput

    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f'{path} must map item ids to option ids, e.g. {{"v2-1.1-0001": ["B"]}}')
    out: dict[str, list[str]] = {}
    for item_id, chosen in data.items():
        values = [chosen] if isinstance(chosen, str) else chosen
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidInput(f"{path}: the answer to {item_id} must be option ids")
        out[str(item_id)] = values
    return out


def _check_names(names: str | None) -> None:
    from pmle.errors import InvalidInput
    from pmle.exam.aliases import NAMINGS

    if names is not None and names not in NAMINGS:
        raise InvalidInput(f"--names {names!r}: one of {', '.join(NAMINGS)}")


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _run_ui(trainer: Trainer, attempt: Attempt, names: str | None) -> None:
    from pmle.cli.exam_tui import ExamApp

    ExamApp(trainer, attempt, names=names).run()


def _print_result(trainer: Trainer, attempt: Attempt, json_out: bool, per_item: bool) -> None:
    from pmle.cli._exam_render import result_tables

    result = attempt.result()
    if json_out:
        print_json(result.to_dict())
        return
    out = console()
    out.print(f"[bold]Attempt {attempt.id}[/] ({attempt.mode}, {attempt.blueprint})")
    for part in result_tables(result, attempt.questions, per_item=per_item):
        out.print(part)
    wrong = len(attempt.review("wrong")) if result.score.wrong else 0
    if wrong:
        out.print(
            f"[dim]review the {wrong} missed item(s): pmle exam review {attempt.id} --wrong[/]"
        )


@app.command("start")
@handle_errors
def start(
    blueprint_id: Annotated[str, typer.Option("--blueprint", help="blueprint id")] = "pmle-v2",
    length: Annotated[int, typer.Option("--length", help="questions: 50 or 60")] = 60,
    minutes: Annotated[float, typer.Option("--minutes", help="time allowed")] = 120,
    seed: Annotated[int | None, typer.Option("--seed", help="the same seed, the same form")] = None,
    answers: Annotated[
        Path | None,
        typer.Option("--answers", help="JSON {item id: [option ids]}: answer, submit, print JSON"),
    ] = None,
    no_ui: Annotated[
        bool, typer.Option("--no-ui", help="only create the attempt and print it (for scripts)")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
    names: Annotated[str | None, typer.Option("--names", help=NAMES_HELP)] = None,
) -> None:
    """Start a timed mock exam (50 or 60 questions, 120 minutes, submitted at the deadline).

    The clock keeps running if you quit (`pmle exam resume` comes back); no feedback is
    shown until the end."""
    from pmle.exam.attempts import apply_answers

    _check_names(names)
    trainer = _trainer()
    if answers is not None:
        given = _read_answers(answers)
        attempt = trainer.start_exam(blueprint_id, length, seed=seed, minutes=minutes)
        on_form = {q.item.id for q in attempt.questions}
        apply_answers(attempt, {k: v for k, v in given.items() if k in on_form})
        attempt.submit()
        _print_result(trainer, attempt, json_out=True, per_item=False)
        return
    attempt = trainer.start_exam(blueprint_id, length, seed=seed, minutes=minutes)
    if no_ui or json_out or not _interactive():
        if json_out:
            print_json(attempt.to_dict())
        else:
            console().print(
                f"Attempt {attempt.id}: {len(attempt.questions)} questions, due by "
                f"{_stamp(attempt.deadline_at)}. Answer with `pmle exam submit {attempt.id} "
                f"--answers FILE`, or take it in the terminal UI: `pmle exam resume {attempt.id}`."
            )
        return
    _run_ui(trainer, attempt, names)


def _stamp(epoch: float | None) -> str:
    from pmle.cli._exam_render import stamp

    return stamp(epoch)


@app.command("resume")
@handle_errors
def resume(
    attempt_id: Annotated[
        int | None, typer.Argument(help="attempt id (default: the latest open one)")
    ] = None,
    names: Annotated[str | None, typer.Option("--names", help=NAMES_HELP)] = None,
) -> None:
    """Go back to an open mock exam or practice session, where you left it."""
    from pmle.errors import NotFound

    _check_names(names)
    trainer = _trainer()
    attempt = trainer.attempt(attempt_id) if attempt_id else trainer.latest_open()
    if attempt is None:
        attempt = trainer.latest_open("practice")
    if attempt is None:
        raise NotFound("no open attempt", hint="pmle exam start, or pmle exam practice")
    if not attempt.is_open:
        console().print(f"Attempt {attempt.id} is already submitted.")
        _print_result(trainer, attempt, json_out=False, per_item=False)
        return
    _run_ui(trainer, attempt, names)


@app.command("practice")
@handle_errors
def practice(
    section: Annotated[
        list[int] | None, typer.Option("--section", "-s", help="section number (repeatable)")
    ] = None,
    objective: Annotated[
        list[str] | None, typer.Option("--objective", "-o", help="objective id, e.g. 3.2")
    ] = None,
    count: Annotated[int, typer.Option("--count", "-n", help="items")] = 10,
    due: Annotated[bool, typer.Option("--due", help="the missed items due for review")] = False,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    answers: Annotated[
        Path | None,
        typer.Option("--answers", help="JSON {item id: [option ids]}: answer, print feedback"),
    ] = None,
    no_ui: Annotated[bool, typer.Option("--no-ui", help="only create the session")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
    names: Annotated[str | None, typer.Option("--names", help=NAMES_HELP)] = None,
) -> None:
    """Practise with instant feedback: per-option explanations and documentation links."""
    from pmle.exam.attempts import apply_answers

    _check_names(names)
    trainer = _trainer()
    session = trainer.start_practice(
        sections=section or (), objectives=objective or (), count=count, due=due, seed=seed
    )
    if answers is not None:
        given = _read_answers(answers)
        on_session = {q.item.id for q in session.questions}
        feedback = apply_answers(session, {k: v for k, v in given.items() if k in on_session})
        session.submit()
        print_json(
            {
                "attempt": session.id,
                **session.result().to_dict(),
                "feedback": [f.to_dict() for f in feedback],
            }
        )
        return
    if no_ui or json_out or not _interactive():
        if json_out:
            print_json(session.to_dict())
        else:
            console().print(
                f"Practice session {session.id}: {len(session.questions)} item(s). "
                f"Take it with `pmle exam resume {session.id}`."
            )
        return
    _run_ui(trainer, session, names)


@app.command("submit")
@handle_errors
def submit(
    attempt_id: Annotated[int, typer.Argument(help="attempt id")],
    answers: Annotated[
        Path | None, typer.Option("--answers", help="JSON {item id: [option ids]} to record first")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Record answers (optional) and submit an attempt, then show its score."""
    from pmle.exam.attempts import apply_answers

    trainer = _trainer()
    attempt = trainer.attempt(attempt_id)
    if answers is not None:
        apply_answers(attempt, _read_answers(answers))
    attempt.submit()
    _print_result(trainer, attempt, json_out, per_item=False)


@app.command("result")
@handle_errors
def result(
    attempt_id: Annotated[int, typer.Argument(help="attempt id")],
    per_item: Annotated[bool, typer.Option("--items", help="a line per question")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The score of a submitted attempt: overall, per section and objective, time spent."""
    trainer = _trainer()
    _print_result(trainer, trainer.attempt(attempt_id), json_out, per_item)


@app.command("review")
@handle_errors
def review(
    attempt_id: Annotated[int, typer.Argument(help="attempt id")],
    wrong: Annotated[bool, typer.Option("--wrong", help="only the items you missed")] = False,
    flagged: Annotated[bool, typer.Option("--flagged", help="only the items you flagged")] = False,
    ui: Annotated[bool, typer.Option("--ui", help="in the terminal UI")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
    names: Annotated[str | None, typer.Option("--names", help=NAMES_HELP)] = None,
) -> None:
    """Go through an attempt's items with your answers, the keys and every option's feedback."""
    from pmle.cli._exam_render import feedback_panel

    _check_names(names)
    which = "wrong" if wrong else "flagged" if flagged else "all"
    trainer = _trainer()
    attempt = trainer.attempt(attempt_id)
    items = attempt.review(which)
    if json_out:
        print_json([f.to_dict() for f in items])
        return
    if ui:
        from pmle.cli.exam_tui import ExamApp

        ExamApp(trainer, attempt, names=names, review=which).run()
        return
    out = console()
    if not items:
        out.print(f"No {which} items in attempt {attempt.id}.")
    for feedback in items:
        out.print(feedback_panel(feedback, names))


@app.command("attempts")
@handle_errors
def attempts(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Mock exams and practice sessions, newest first."""
    from rich.table import Table

    infos = _trainer().attempts()
    if json_out:
        print_json([a.to_dict() for a in infos])
        return
    table = Table("id", "mode", "blueprint", "started", "state", "answered", "score")
    for a in infos:
        if a.is_open:
            state = "open"
        else:
            state = "timed out" if a.submitted_by == "deadline" else "submitted"
        shown = f"{a.correct}/{a.items}" if a.correct is not None else "—"
        table.add_row(
            str(a.id),
            a.mode,
            a.blueprint,
            _stamp(a.started_at),
            state,
            f"{a.answered}/{a.items}",
            shown,
        )
    console().print(table)


@app.command("history")
@handle_errors
def history(
    blueprint_id: Annotated[str, typer.Option("--blueprint")] = "pmle-v2",
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Your progress per section over submitted mock exams."""
    from pmle.cli._exam_render import history_table
    from pmle.exam.blueprints import blueprint

    entries = _trainer().history(blueprint_id)
    if json_out:
        print_json([e.to_dict() for e in entries])
        return
    if not entries:
        console().print("No submitted mock exam yet: pmle exam start")
        return
    titles = {s.number: s.title for s in blueprint(blueprint_id).sections}
    console().print(history_table(entries, titles))


@app.command("due")
@handle_errors
def due(
    show_all: Annotated[bool, typer.Option("--all", help="also items due later")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Missed items scheduled for review (FSRS spaced repetition)."""
    from rich.table import Table

    cards = _trainer().due(include_later=show_all)
    if json_out:
        print_json([c.to_dict() for c in cards])
        return
    if not cards:
        console().print("Nothing due. Missed items come back here for review.")
        return
    table = Table("item", "due", "reviews", "lapses")
    for c in cards:
        table.add_row(c.item, _stamp(c.due), str(c.reviews), str(c.lapses))
    console().print(table)
    console().print("[dim]practise them: pmle exam practice --due[/]")


@app.command("stats")
@handle_errors
def item_stats(
    min_responses: Annotated[
        int, typer.Option("--min-responses", help="responses before an item is judged")
    ] = 5,
    flagged_only: Annotated[bool, typer.Option("--flagged", help="only flagged items")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Item statistics from your mock exams: difficulty, discrimination, choice rates, flags.

    Discrimination is the point-biserial correlation with the rest of the attempt."""
    from pmle.cli._exam_render import stats_table

    stats = _trainer().item_statistics(min_responses=min_responses)
    if flagged_only:
        stats = [s for s in stats if s.flags]
    if json_out:
        print_json([s.to_dict() for s in stats])
        return
    if not stats:
        console().print("No item statistics yet: they come from submitted mock exams.")
        return
    console().print(stats_table(stats))


@app.command("report")
@handle_errors
def report(
    item_id: Annotated[str, typer.Argument(help="item id, e.g. v2-3.2-0001")],
    message: Annotated[str, typer.Argument(help="what is wrong")],
    kind: Annotated[
        str, typer.Option("--kind", help="wrong-key, unclear, outdated, typo or other")
    ] = "other",
    attempt_id: Annotated[int | None, typer.Option("--attempt", help="where you saw it")] = None,
) -> None:
    """Report a problem with an item; reports are kept and listed by `pmle exam reports`."""
    info = _trainer().report(item_id, message, kind=kind, attempt=attempt_id)
    console().print(f"Report {info.id} on {info.item} recorded. Thank you.")


@app.command("reports")
@handle_errors
def reports(
    status: Annotated[str, typer.Option("--status", help="open, closed or all")] = "open",
    close: Annotated[int | None, typer.Option("--close", help="close this report")] = None,
    resolution: Annotated[str, typer.Option("--resolution", help="what was done")] = "",
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Problem reports on items."""
    from rich.table import Table

    trainer = _trainer()
    if close is not None:
        trainer.close_report(close, resolution)
        console().print(f"Report {close} closed.")
        return
    found = trainer.reports(None if status == "all" else status)
    if json_out:
        print_json([r.to_dict() for r in found])
        return
    table = Table("id", "item", "kind", "reported", "status", "message")
    for r in found:
        table.add_row(str(r.id), r.item, r.kind, _stamp(r.created_at), r.status, r.message)
    console().print(table)
