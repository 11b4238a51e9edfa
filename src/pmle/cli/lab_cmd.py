"""`pmle lab …`: hands-on labs — a realistic task per exam section, done with pmle in a
workspace of its own, with hints and a checker."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from pmle.cli._common import EXIT_FAILURE, console, handle_errors, print_json, state

app = typer.Typer(
    help="Hands-on labs: a realistic task per exam section, done with pmle and checked.",
    no_args_is_help=True,
)

IdArg = Annotated[str, typer.Argument(help="lab id (see pmle lab list)")]
DirOpt = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        help="the lab's folder (default: the lab workspace around the current folder, "
        "else ./pmle-lab-ID)",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _folder(lab_id: str, folder: Path | None) -> Path:
    """The lab's folder: --dir, else --workspace / PMLE_WORKSPACE when it is this lab's, else
    the lab workspace around the current folder, else ./pmle-lab-ID."""
    from pmle.exam.labs import find_lab_folder, lab_of

    if folder is None and state.workspace and lab_of(Path(state.workspace)) == lab_id:
        return Path(state.workspace).expanduser().resolve()
    return find_lab_folder(lab_id, folder)


def _shown(path: Path) -> str:
    """A folder as the user would type it: relative to the current folder when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive
        return str(path)
    return str(path) if rel.startswith("..") else rel


@app.command("list")
@handle_errors
def list_(json_out: JsonOpt = False) -> None:
    """The labs: section, objectives, title, and where each one is started."""
    from pmle.exam.labs import LABS, lab_of

    rows = []
    for lab in LABS.values():
        where = _folder(lab.id, None)
        rows.append((lab, where if lab_of(where) == lab.id else None))
    if json_out:
        print_json([{**lab.to_dict(), "folder": str(f) if f else None} for lab, f in rows])
        return
    from rich.table import Table

    table = Table("id", "section", "objectives", "title", "status")
    for lab, folder in rows:
        status = f"started in {_shown(folder)}" if folder else "—"
        table.add_row(lab.id, str(lab.section), ", ".join(lab.objectives), lab.title, status)
    out = console()
    out.print(table)
    out.print("[dim]pmle lab start ID begins one; pmle lab show ID prints its task[/]")


def _print_task(lab_id: str) -> None:
    from rich.markdown import Markdown

    from pmle.exam.labs import lab
    from pmle.exam.labs.base import render_task

    console().print(Markdown(render_task(lab(lab_id))))


@app.command("start")
@handle_errors
def start(lab_id: IdArg, folder: DirOpt = None) -> None:
    """Start a lab in its own workspace (default ./pmle-lab-ID): its data, state and TASK.md."""
    from pmle.exam.labs import lab, lab_of
    from pmle.exam.labs import start as start_lab

    lab(lab_id)
    path = _folder(lab_id, folder)
    again = lab_of(path) == lab_id
    out = console()
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        out.print(f"setting up lab [bold]{lab_id}[/] in {_shown(path)} …")
    with start_lab(lab_id, path):
        pass
    _print_task(lab_id)
    if again:
        out.print(
            f"[yellow]lab {lab_id} was already started in {_shown(path)}[/] "
            f"(pmle lab reset {lab_id} starts it again)"
        )
    out.print(
        f"\n[green]✓[/] next: [bold]cd {_shown(path)}[/] (or export PMLE_WORKSPACE={path}), "
        f"do the task with pmle, then [bold]pmle lab check {lab_id}[/]; hints: "
        f"[bold]pmle lab show {lab_id} --hint 1[/]"
    )


@app.command("show")
@handle_errors
def show(
    lab_id: IdArg,
    hint: Annotated[
        int, typer.Option("--hint", help="also reveal hints 1..N", min=0, show_default=False)
    ] = 0,
    json_out: JsonOpt = False,
) -> None:
    """A lab's task; with --hint N its first N hints, one more each time you need one."""
    from pmle.errors import InvalidInput
    from pmle.exam.labs import lab

    found = lab(lab_id)
    total = len(found.hints)
    if hint > total:
        raise InvalidInput(
            f"lab {lab_id} has {total} hints", hint=f"pmle lab show {lab_id} --hint {total}"
        )
    if json_out:
        print_json({**found.to_dict(), "hints": list(found.hints[:hint]), "hint_count": total})
        return
    out = console()
    if hint == 0:
        _print_task(lab_id)
        out.print(f"\n[dim]{total} hints: pmle lab show {lab_id} --hint 1[/]")
        return
    out.print(f"[bold]Lab {found.id}[/]: {found.title}")
    from rich.markup import escape

    for number, text in enumerate(found.hints[:hint], start=1):
        out.print(f"\n[bold]hint {number} of {total}[/]: {escape(text)}")
    if hint < total:
        out.print(f"\n[dim]next: pmle lab show {lab_id} --hint {hint + 1}[/]")


@app.command("check")
@handle_errors
def check(lab_id: IdArg, folder: DirOpt = None, json_out: JsonOpt = False) -> None:
    """Check the lab's workspace: ✓ / ✗ per criterion, with what is still missing.

    The exit code is 1 until every check passes."""
    from rich.markup import escape

    from pmle.exam.labs import check as check_lab

    path = _folder(lab_id, folder)
    checks = check_lab(lab_id, path)
    passed = all(c.passed for c in checks)
    if json_out:
        print_json(
            {
                "lab": lab_id,
                "folder": str(path),
                "passed": passed,
                "checks": [c.to_dict() for c in checks],
            }
        )
    else:
        out = console()
        for c in checks:
            mark = "[green]✓[/]" if c.passed else "[red]✗[/]"
            out.print(f"{mark} {escape(c.name)} [dim]— {escape(c.detail)}[/]")
        done = sum(c.passed for c in checks)
        if passed:
            out.print(f"\n[green]lab {lab_id} passed[/] ({done} of {len(checks)} checks)")
        else:
            out.print(
                f"\n{done} of {len(checks)} checks pass; stuck? pmle lab show {lab_id} --hint 1"
            )
    if not passed:
        raise typer.Exit(EXIT_FAILURE)


@app.command("reset")
@handle_errors
def reset(
    lab_id: IdArg,
    folder: DirOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
) -> None:
    """Wipe a lab's workspace and start the lab again (your own files stay)."""
    from pmle.exam.labs import lab
    from pmle.exam.labs import reset as reset_lab

    lab(lab_id)
    path = _folder(lab_id, folder)
    if not yes:
        typer.confirm(
            f"Wipe the workspace of lab {lab_id} in {_shown(path)} and start again?", abort=True
        )
    with reset_lab(lab_id, path):
        pass
    console().print(f"[green]✓[/] lab {lab_id} started again in {_shown(path)}")
