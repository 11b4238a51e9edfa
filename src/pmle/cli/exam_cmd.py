"""`pmle exam …`: the exam trainer — blueprints and their allocations, the question bank and
its validator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pmle.cli._common import EXIT_BAD_INPUT, console, handle_errors, print_json

app = typer.Typer(
    help="The PMLE exam trainer: blueprints, the question bank.", no_args_is_help=True
)


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
    out.print(f"{summary['items']} item(s) in the bank, {len(problems)} problem(s)")
    if show_stats:
        table = Table("objective", "items")
        for o in blueprint().objectives:
            table.add_row(f"{o.id} {o.title}", str(summary["by_objective"].get(o.id, 0)))
        out.print(table)
