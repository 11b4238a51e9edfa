"""`pmle pipelines schedule …`: pipeline runs at cron times and on monitor alerts (Vertex AI
Pipelines schedules); `pmle scheduler` starts them when due."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from pmle.cli._common import console, handle_errors, open_ws, print_json
from pmle.cli._render import when as _when

if TYPE_CHECKING:
    from pmle.pipelines.schedules import PipelineSchedule

schedule_app = typer.Typer(
    help="Pipeline schedules: runs at cron times and / or on monitor alerts (started by "
    "pmle scheduler or pmle serve --monitors).",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="schedule name")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _params(items: list[str] | None) -> dict[str, str]:
    """`NAME=VALUE` items → {name: value} (typed by the pipeline's inputs)."""
    from pmle.errors import InvalidInput

    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"cannot read parameter {item!r}", hint="write it as NAME=VALUE")
        out[key.strip()] = value
    return out


def _time(text: str | None, what: str) -> datetime | None:
    """An ISO 8601 time; without an offset it is UTC."""
    from pmle.errors import InvalidInput

    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"cannot read the {what} time {text!r}", hint="ISO 8601, e.g. 2026-11-27T12:00"
        ) from None


def _next(info: PipelineSchedule) -> str:
    """The next cron firing; one in the past is due (waiting for a scheduler or a slot)."""
    from pmle._util import utcnow

    if info.state != "ACTIVE" or not info.cron or info.next_run_at is None:
        return "—"
    due = " (due)" if info.next_run_at <= utcnow() else ""
    return _when(info.next_run_at) + due


def _triggers(info: PipelineSchedule) -> str:
    parts = [f"cron {info.cron}"] if info.cron else []
    if info.monitor:
        parts.append(f"alerts of {info.monitor}")
    return " + ".join(parts)


def _print_schedule(info: PipelineSchedule) -> None:
    out = console()
    colour = {"ACTIVE": "green", "PAUSED": "yellow"}.get(info.state, "dim")
    out.print(f"[bold]{info.name}[/] [{colour}]{info.state}[/] — {info.source}")
    nxt = f" (next {_next(info)})" if info.cron and info.state == "ACTIVE" else ""
    out.print(f"runs on: {_triggers(info)}{nxt}")
    window = f"from {_when(info.start_at)}" + (f" to {_when(info.end_at)}" if info.end_at else "")
    out.print(f"{window} UTC")
    limit = f"{info.started_runs} of {info.max_runs}" if info.max_runs else str(info.started_runs)
    out.print(
        f"runs started {limit}; at most {info.max_concurrent} at once; "
        f"catch-up {'on' if info.catch_up else 'off'}" + ("; no cache" if info.no_cache else "")
    )
    if info.params:
        out.print("params: " + ", ".join(f"{k}={v!r}" for k, v in info.params.items()))


@schedule_app.command("create")
@handle_errors
def create(
    name: NameArg,
    path: Annotated[str, typer.Argument(help="FILE.yaml | FILE.json | FILE.py[:FUNC]")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="pipeline input NAME=VALUE")
    ] = None,
    cron: Annotated[
        str | None, typer.Option("--cron", help="cron expression (UTC) or 'every 6h'")
    ] = None,
    on_alert: Annotated[
        str | None, typer.Option("--on-alert", help="run when this monitor raises alerts")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="first possible run (ISO time; default now)")
    ] = None,
    end: Annotated[str | None, typer.Option("--end", help="no run after this (ISO time)")] = None,
    max_runs: Annotated[
        int | None, typer.Option("--max-runs", help="complete after starting N runs")
    ] = None,
    max_concurrent: Annotated[
        int, typer.Option("--max-concurrent", help="runs at once; a due run waits for a slot")
    ] = 1,
    catch_up: Annotated[
        bool, typer.Option("--catch-up", help="run every missed time, not only the newest")
    ] = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="its runs neither use nor fill the task cache")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a schedule; the pipeline and its parameters are checked now."""
    info = open_ws().pipeline_schedules.create(
        name,
        path,
        _params(param),
        cron=cron,
        monitor=on_alert,
        start=_time(start, "start"),
        end=_time(end, "end"),
        max_runs=max_runs,
        max_concurrent=max_concurrent,
        catch_up=catch_up,
        no_cache=no_cache,
    )
    if as_json:
        print_json(info.to_dict())
        return
    console().print(f"created pipeline schedule [bold]{info.name}[/]")
    _print_schedule(info)


@schedule_app.command("list")
@handle_errors
def list_(as_json: JsonOpt = False) -> None:
    """List pipeline schedules."""
    items = open_ws().pipeline_schedules.list()
    if as_json:
        print_json([s.to_dict() for s in items])
        return
    from pmle.cli._render import titled_table

    out = console()
    if not items:
        out.print("no pipeline schedules yet — [bold]pmle pipelines schedule create NAME FILE[/]")
        return
    table = titled_table(
        "pipeline schedules",
        [
            ("name", "left"),
            ("state", "left"),
            ("runs on", "left"),
            ("next (UTC)", "left"),
            ("started", "right"),
        ],
    )
    for s in items:
        limit = f"{s.started_runs}/{s.max_runs}" if s.max_runs else str(s.started_runs)
        table.add_row(s.name, s.state, _triggers(s), _next(s), limit)
    out.print(table)


@schedule_app.command("describe")
@handle_errors
def describe(
    name: NameArg,
    limit: Annotated[int, typer.Option(help="newest N runs")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """A schedule's settings and its newest runs."""
    schedules = open_ws().pipeline_schedules
    info = schedules.get(name)
    runs = schedules.runs(name, limit=limit)
    if as_json:
        print_json({**info.to_dict(), "runs": runs})
        return
    _print_schedule(info)
    if not runs:
        console().print("no runs yet")
        return
    from pmle.cli._render import titled_table

    table = titled_table(
        f"runs of {name}",
        [("run", "right"), ("state", "left"), ("trigger", "left"), ("started (UTC)", "left")],
    )
    for r in runs:
        started = (r["startTime"] or "")[:19].replace("T", " ")
        table.add_row(str(r["id"]), r["state"], r["trigger"] or "", started)
    console().print(table)


@schedule_app.command("pause")
@handle_errors
def pause(name: NameArg) -> None:
    """Stop starting runs (runs already started go on)."""
    open_ws().pipeline_schedules.pause(name)
    console().print(f"paused pipeline schedule [bold]{name}[/]")


@schedule_app.command("resume")
@handle_errors
def resume(
    name: NameArg,
    catch_up: Annotated[
        bool | None,
        typer.Option(
            "--catch-up/--no-catch-up",
            help="run the times missed while paused (default: the schedule's setting)",
        ),
    ] = None,
) -> None:
    """Start runs again."""
    info = open_ws().pipeline_schedules.resume(name, catch_up=catch_up)
    nxt = f"; next run {_when(info.next_run_at)} UTC" if info.cron and info.next_run_at else ""
    console().print(f"resumed pipeline schedule [bold]{name}[/]{nxt}")


@schedule_app.command("delete")
@handle_errors
def delete(name: NameArg) -> None:
    """Delete a schedule (its runs are kept)."""
    open_ws().pipeline_schedules.delete(name)
    console().print(f"deleted pipeline schedule [bold]{name}[/]")
