"""`pmle pipelines …`: run Kubeflow Pipelines v2 pipelines locally, list and show runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from pmle.cli._common import EXIT_FAILURE, console, handle_errors, open_ws, print_json

if TYPE_CHECKING:
    from pmle.pipelines.runs import PipelineRun

pipelines_app = typer.Typer(
    help="Kubeflow Pipelines v2 pipelines run locally: task cache, run records.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _params(items: list[str] | None) -> dict[str, str]:
    """`NAME=VALUE` items → {name: value} (typed later by the pipeline's inputs)."""
    from pmle.errors import InvalidInput

    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"cannot read parameter {item!r}", hint="write it as NAME=VALUE")
        out[key.strip()] = value
    return out


def _seconds(task: dict[str, Any]) -> str:
    value = task.get("durationS")
    return "" if value is None else f"{value:.2f}s"


def _task_line(task: dict[str, Any]) -> str:
    colour = {"SUCCEEDED": "green", "FAILED": "red"}.get(task["state"], "yellow")
    hit = " [dim](cached)[/]" if task["cacheHit"] else ""
    error = f" — {task['error']}" if task["state"] == "FAILED" and task.get("error") else ""
    return f"[{colour}]{task['state']:<9}[/] {task['key']} {_seconds(task)}{hit}{error}"


@pipelines_app.command("run")
@handle_errors
def run(
    path: Annotated[str, typer.Argument(help="FILE.yaml | FILE.json | FILE.py[:FUNC]")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="pipeline input NAME=VALUE")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="neither use nor fill the task cache")
    ] = False,
    max_parallel: Annotated[
        int | None, typer.Option("--max-parallel", help="leaf tasks running at once")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a pipeline; exit 1 when it fails."""
    out = console()

    def on_task(task: dict[str, Any]) -> None:
        if not as_json and not task["isGroup"]:
            out.print(_task_line(task))

    result = open_ws().pipelines.run(
        path, _params(param), no_cache=no_cache, max_parallel=max_parallel, on_task=on_task
    )
    if as_json:
        print_json(result.to_dict())
    else:
        _summary(result)
    if not result.succeeded:
        raise typer.Exit(EXIT_FAILURE)


def _summary(run: PipelineRun) -> None:
    out = console()
    leaves = [t for t in run.tasks if not t["isGroup"]]
    hits = sum(1 for t in leaves if t["cacheHit"])
    took = (run.ended_at - run.started_at).total_seconds() if run.ended_at else 0.0
    colour = "green" if run.succeeded else "red"
    out.print(
        f"run [bold]{run.id}[/] ({run.run_name}): [{colour}]{run.state}[/] in {took:.1f}s — "
        f"{len(leaves)} tasks, {hits} from cache"
    )
    if run.error:
        out.print(f"[red]{run.error}[/]")
    outputs = (run.result.get("outputs") or {}).get("parameters") or {}
    for name, value in outputs.items():
        out.print(f"  {name} = {value!r}")


@pipelines_app.command("list")
@handle_errors
def list_(
    pipeline: Annotated[
        str | None, typer.Option("--pipeline", help="only runs of this pipeline")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List pipeline runs, newest first."""
    runs = open_ws().pipelines.list(pipeline)
    if as_json:
        print_json([r.to_dict() for r in runs])
        return
    from pmle.cli._render import titled_table

    out = console()
    if not runs:
        out.print("no pipeline runs yet — [bold]pmle pipelines run FILE.py[/]")
        return
    table = titled_table(
        "pipeline runs",
        [
            ("id", "right"),
            ("pipeline", "left"),
            ("state", "left"),
            ("tasks", "right"),
            ("cached", "right"),
            ("started", "left"),
        ],
    )
    for r in runs:
        leaves = [t for t in r.tasks if not t["isGroup"]]
        hits = sum(1 for t in leaves if t["cacheHit"])
        started = r.started_at.strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(str(r.id), r.name, r.state, str(len(leaves)), str(hits), started)
    out.print(table)


@pipelines_app.command("show")
@handle_errors
def show(
    run_id: Annotated[str, typer.Argument(help="run id (see pmle pipelines list)")],
    as_json: JsonOpt = False,
) -> None:
    """A run's tasks: states, attempts, cache hits, durations, logs."""
    r = open_ws().pipelines.get(run_id)
    if as_json:
        print_json(r.to_dict())
        return
    from pmle.cli._render import titled_table

    _summary(r)
    table = titled_table(
        f"tasks of run {r.id}",
        [
            ("task", "left"),
            ("state", "left"),
            ("attempts", "right"),
            ("cached", "left"),
            ("time", "right"),
            ("log", "left"),
        ],
    )
    for t in r.tasks:
        table.add_row(
            t["key"] + ("/" if t["isGroup"] else ""),
            t["state"],
            str(t["attempts"]),
            "yes" if t["cacheHit"] else "",
            _seconds(t),
            t.get("logPath") or "",
        )
    console().print(table)


def register(app: typer.Typer) -> None:
    """Add the commands to the main CLI."""
    app.add_typer(pipelines_app, name="pipelines")
