"""`pmle pipelines …`: run Kubeflow Pipelines v2 pipelines locally, list and show runs."""

from __future__ import annotations

import re
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


def _add_schedules() -> None:
    from pmle.cli.pipeline_schedules_cmd import schedule_app

    pipelines_app.add_typer(schedule_app, name="schedule")


_add_schedules()


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


_COLOURS = {"SUCCEEDED": "green", "FAILED": "red", "CANCELLED": "magenta", "SKIPPED": "dim"}


def _how(task: dict[str, Any]) -> str:
    if task.get("reused"):
        return " [dim](reused)[/]"
    return " [dim](cached)[/]" if task["cacheHit"] else ""


def _task_line(task: dict[str, Any]) -> str:
    colour = _COLOURS.get(task["state"], "yellow")
    error = f" — {task['error']}" if task["state"] == "FAILED" and task.get("error") else ""
    return f"[{colour}]{task['state']:<9}[/] {task['key']} {_seconds(task)}{_how(task)}{error}"


def _on_task(as_json: bool) -> Any:
    out = console()

    def on_task(task: dict[str, Any]) -> None:
        if not as_json and not task["isGroup"]:
            out.print(_task_line(task))

    return on_task


def _finish(result: PipelineRun, as_json: bool) -> None:
    if as_json:
        print_json(result.to_dict())
    else:
        _summary(result)
    if not result.succeeded:
        raise typer.Exit(EXIT_FAILURE)


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
    runner: Annotated[
        str, typer.Option("--runner", help="local (warm worker processes) or ray (Ray tasks)")
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", help="Ray cluster to join (default: $RAY_ADDRESS or local)"),
    ] = None,
    containers: Annotated[
        str,
        typer.Option(
            "--containers",
            help="container components: auto (Docker when an engine answers, else local "
            "processes), local or docker",
        ),
    ] = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Run a pipeline; exit 1 when it fails."""
    result = open_ws().pipelines.run(
        path,
        _params(param),
        no_cache=no_cache,
        max_parallel=max_parallel,
        on_task=_on_task(as_json),
        runner=runner,
        ray_address=ray_address,
        containers=containers,
    )
    _finish(result, as_json)


@pipelines_app.command("retry")
@handle_errors
def retry(
    run_id: Annotated[str, typer.Argument(help="a FAILED or CANCELLED run")],
    max_parallel: Annotated[
        int | None, typer.Option("--max-parallel", help="leaf tasks running at once")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a failed or cancelled run again, reusing every task that succeeded; exit 1 when it
    fails again."""
    result = open_ws().pipelines.retry(run_id, max_parallel=max_parallel, on_task=_on_task(as_json))
    _finish(result, as_json)


@pipelines_app.command("cancel")
@handle_errors
def cancel(
    run_id: Annotated[str, typer.Argument(help="a RUNNING run")],
    wait: Annotated[float, typer.Option("--wait", help="seconds to wait for it to stop")] = 30.0,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a running run: no task starts any more and running Python tasks are stopped."""
    result = open_ws().pipelines.cancel(run_id, wait_s=wait)
    if as_json:
        print_json(result.to_dict())
        return
    if result.ended:
        console().print(f"run [bold]{result.id}[/]: {result.state}")
    else:
        console().print(
            f"run [bold]{result.id}[/] was asked to stop and is still {result.state}; "
            "see pmle pipelines show"
        )


def _summary(run: PipelineRun) -> None:
    out = console()
    leaves = [t for t in run.tasks if not t["isGroup"]]
    hits = sum(1 for t in leaves if t["cacheHit"])
    took = (run.ended_at - run.started_at).total_seconds() if run.ended_at else 0.0
    reused = sum(1 for t in leaves if t.get("reused"))
    colour = _COLOURS.get(run.state, "yellow")
    extra = f", {reused} reused" if reused else ""
    attempt = f" (attempt {run.attempt})" if run.attempt > 1 else ""
    out.print(
        f"run [bold]{run.id}[/] ({run.run_name}){attempt}: [{colour}]{run.state}[/] in "
        f"{took:.1f}s — {len(leaves)} tasks, {hits} from cache{extra}"
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
    _summary(r)
    console().print(dag_tree(r))


def dag_tree(run: PipelineRun) -> Any:
    """The run's DAG as a tree: groups (conditions, loops, nested pipelines) hold their
    tasks; each task shows its state, time, attempts, cache hit and what it waited for."""
    from rich.tree import Tree

    root = Tree(f"[bold]{run.name}[/]")
    nodes: dict[str, Any] = {"root": root}

    def node_of(key: str) -> Any:  # a loop iteration has no record: a plain node
        if key not in nodes:
            parent, _, name = key.rpartition("/")
            nodes[key] = node_of(parent or "root").add(f"[dim]{name}[/]")
        return nodes[key]

    def order(task: dict[str, Any]) -> tuple[int, str, float]:  # iteration-2 before -10
        parent = re.sub(r"\d+", lambda m: m.group().zfill(8), task["key"].rpartition("/")[0])
        return task["key"].count("/"), parent, task.get("start") or 0.0

    for task in sorted(run.tasks, key=order):
        nodes[task["key"]] = node_of(task["key"].rpartition("/")[0]).add(_node_label(task))
    return root


def _node_label(task: dict[str, Any]) -> str:
    colour = _COLOURS.get(task["state"], "yellow")
    name = task["key"].rpartition("/")[2]
    parts = [f"{name}{'/' if task['isGroup'] else ''}", f"[{colour}]{task['state']}[/]"]
    if task.get("durationS") is not None and not task["isGroup"]:
        parts.append(_seconds(task))
    if (task.get("attempts") or 0) > 1:
        parts.append(f"{task['attempts']} attempts")
    how = _how(task).strip()
    if how:
        parts.append(how)
    upstream = [u.rpartition("/")[2] for u in task.get("upstream") or []]
    if upstream:
        parts.append(f"[dim]after {', '.join(upstream)}[/]")
    if task["state"] in {"FAILED", "SKIPPED", "CANCELLED"} and task.get("error"):
        parts.append(f"[dim]— {str(task['error']).splitlines()[0][:120]}[/]")
    if task.get("logPath") and task["state"] == "FAILED":
        parts.append(f"[dim]log: {task['logPath']}[/]")
    return "  ".join(parts)


_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _age_seconds(text: str) -> float:
    from pmle.errors import InvalidInput

    match = _AGE.match(text)
    if match is None:
        raise InvalidInput(f"cannot read the age {text!r}", hint="write e.g. 30d, 12h or 90m")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


@pipelines_app.command("delete")
@handle_errors
def delete(
    run_ids: Annotated[list[str], typer.Argument(help="ended runs to delete")],
) -> None:
    """Delete ended runs: records, output folders and the cache entries they made."""
    ws = open_ws()
    for run_id in run_ids:
        run = ws.pipelines.delete(run_id)
        console().print(f"deleted run [bold]{run.id}[/] ({run.run_name}, {run.state})")


@pipelines_app.command("prune")
@handle_errors
def prune(
    older_than: Annotated[
        str, typer.Option("--older-than", help="age of the runs to delete: 30d, 12h, 90m")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only list them")] = False,
) -> None:
    """Delete every ended run older than an age, with its outputs and cache entries."""
    runs = open_ws().pipelines.prune(_age_seconds(older_than), dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    out = console()
    for run in runs:
        out.print(f"{verb} run {run.id} ({run.run_name}, {run.state})")
    out.print(f"{verb} {len(runs)} run(s)")


def register(app: typer.Typer) -> None:
    """Add the commands to the main CLI."""
    app.add_typer(pipelines_app, name="pipelines")
