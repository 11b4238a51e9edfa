"""`pmle jobs …`: custom training jobs — run a script or module with the workspace injected,
list them, read their logs, cancel them."""

from __future__ import annotations

from typing import Annotated

import typer

from pmle.cli._common import EXIT_FAILURE, console, handle_errors, open_ws, print_json
from pmle.cli._render import when as _when

app = typer.Typer(
    help="Custom training jobs: your training code in its own process, tracked.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
STATE_COLOUR = {"RUNNING": "cyan", "SUCCEEDED": "green", "FAILED": "red", "CANCELLED": "yellow"}


@app.command(
    "run",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
@handle_errors
def run(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="a training script (train.py) or a module")],
    name: Annotated[str | None, typer.Option("--name", help="the job's name")] = None,
    experiment: Annotated[str, typer.Option("--experiment", help="its run's experiment")] = "jobs",
    data: Annotated[
        str | None, typer.Option("--data", help="dataset version → AIP_TRAINING_DATA_URI")
    ] = None,
    register: Annotated[
        str | None, typer.Option("--register", help="register AIP_MODEL_DIR as this model")
    ] = None,
    runner: Annotated[str, typer.Option("--runner", help="local | ray")] = "local",
    ray_address: Annotated[str | None, typer.Option("--ray-address")] = None,
    cpus: Annotated[int | None, typer.Option("--cpus", help="CPU cores")] = None,
    memory: Annotated[str | None, typer.Option("--memory", help="e.g. 2G")] = None,
    gpus: Annotated[int | None, typer.Option("--gpus", help="GPUs")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="do not print the log")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Run TARGET to the end; arguments after it (or after --) go to the script."""
    out = console()
    err = console(stderr=True)
    with open_ws() as ws:
        follow = None if (quiet or json_out) else (lambda line: out.print(line, markup=False))
        job = ws.jobs.run(
            target,
            list(ctx.args),
            name=name,
            experiment=experiment,
            data=data,
            register=register,
            runner=runner,
            ray_address=ray_address,
            cpus=cpus,
            memory=memory,
            gpus=gpus,
            on_output=follow,
        )
    if json_out:
        print_json(job.to_dict())
    else:
        colour = STATE_COLOUR.get(job.state, "white")
        extra = f", registered {job.model}" if job.model else ""
        err.print(f"job {job.id} [{colour}]{job.state}[/] (run #{job.run_id}{extra})")
        if job.error:
            err.print(f"[red]{job.error.splitlines()[0]}[/] — pmle jobs logs {job.id}")
    if job.state != "SUCCEEDED":
        raise typer.Exit(EXIT_FAILURE)


@app.command("list")
@handle_errors
def list_(
    state: Annotated[str | None, typer.Option("--state", help="only jobs in this state")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """The newest jobs first."""
    from rich.table import Table

    from pmle.training.jobs import command_line

    with open_ws() as ws:
        jobs = ws.jobs.list(state=state, limit=limit)
    if json_out:
        print_json([j.to_dict() for j in jobs])
        return
    out = console()
    if not jobs:
        out.print("no training jobs yet — pmle jobs run train.py")
        return
    table = Table("id", "name", "state", "started", "took", "run", "model", "command")
    for j in jobs:
        took = f"{j.duration_s:.1f} s" if j.duration_s is not None else "—"
        colour = STATE_COLOUR.get(j.state, "white")
        table.add_row(
            str(j.id), j.name, f"[{colour}]{j.state}[/]", _when(j.created_at), took,
            f"#{j.run_id}" if j.run_id else "—", j.model or "—", command_line(j),
        )  # fmt: skip
    out.print(table)


@app.command("show")
@handle_errors
def show(
    job_id: Annotated[str, typer.Argument(help="job number")], json_out: JsonOpt = False
) -> None:
    """One job: state, command, resources, run, model, error."""
    from pmle.training.jobs import command_line

    with open_ws() as ws:
        job = ws.jobs.get(job_id)
    if json_out:
        print_json(job.to_dict())
        return
    out = console()
    colour = STATE_COLOUR.get(job.state, "white")
    out.print(f"[bold]job {job.id}[/] {job.name} [{colour}]{job.state}[/]")
    out.print(f"command: {command_line(job)} ({job.runner})", markup=False)
    if job.resources:
        out.print("resources: " + ", ".join(f"{k}={v}" for k, v in job.resources.items()))
    out.print(f"started {_when(job.created_at)}, ended {_when(job.ended_at)}")
    out.print(f"run #{job.run_id}; folder {job.job_dir}", markup=False)
    if job.data:
        out.print(f"data: {job.data}")
    if job.model:
        out.print(f"model: {job.model}")
    if job.error:
        out.print(f"[red]error:[/] {job.error}", markup=True)


@app.command("logs")
@handle_errors
def logs(
    job_id: Annotated[str, typer.Argument(help="job number")],
    tail: Annotated[int | None, typer.Option("--tail", help="only the last N lines")] = None,
) -> None:
    """A job's output (stdout and stderr)."""
    with open_ws() as ws:
        text = ws.jobs.logs(job_id)
    lines = text.splitlines()
    if tail is not None:
        lines = lines[-tail:]
    for line in lines:
        typer.echo(line)


@app.command("cancel")
@handle_errors
def cancel(job_id: Annotated[str, typer.Argument(help="job number")]) -> None:
    """Stop a running job."""
    with open_ws() as ws:
        job = ws.jobs.cancel(job_id)
    console().print(f"job {job.id} [yellow]{job.state}[/]")
