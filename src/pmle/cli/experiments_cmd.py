"""`pmle experiments …`: experiments and their runs — list, show with filters, one run's
details, compare runs side by side with their metric curves."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pmle.cli._common import console, handle_errors, open_ws, print_json
from pmle.cli._render import when as _when

if TYPE_CHECKING:
    from pmle.tracking import RunInfo

app = typer.Typer(
    help="Experiments and runs: parameters, metrics and their curves, artifacts, lineage.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
STATUS_COLOUR = {"RUNNING": "cyan", "FINISHED": "green", "FAILED": "red", "KILLED": "yellow"}


def _short(value: Any) -> str:
    return value.strftime("%m-%d %H:%M") if value is not None else "—"


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


@app.command("list")
@handle_errors
def list_(json_out: JsonOpt = False) -> None:
    """Experiments with their run counts."""
    from rich.table import Table

    with open_ws() as ws:
        experiments = ws.tracking.experiments()
    if json_out:
        print_json([e.to_dict() for e in experiments])
        return
    out = console()
    if not experiments:
        out.print("no experiments yet — start a run: ws.tracking.start_run('NAME')")
        return
    table = Table("experiment", "runs", "last run", "description")
    for e in experiments:
        table.add_row(e.name, str(e.run_count), _when(e.last_run_at), e.description)
    out.print(table)


@app.command("create")
@handle_errors
def create(
    name: Annotated[str, typer.Argument(help="experiment name")],
    description: Annotated[str, typer.Option("--description", "-d")] = "",
) -> None:
    """Create an experiment (runs also create theirs)."""
    with open_ws() as ws:
        experiment = ws.tracking.create_experiment(name, description)
    console().print(f"[green]✓[/] experiment {experiment.name}")


@app.command("show")
@handle_errors
def show(
    experiment: Annotated[str, typer.Argument(help="experiment name")],
    filter_: Annotated[
        str | None,
        typer.Option("--filter", help="e.g. \"metrics.auc > 0.8 AND params.model = 'lgbm'\""),
    ] = None,
    order_by: Annotated[
        list[str] | None, typer.Option("--order-by", help="e.g. 'metrics.auc DESC' (repeatable)")
    ] = None,
    max_results: Annotated[int, typer.Option("--max", help="at most this many runs")] = 50,
    fmt: Annotated[
        str, typer.Option("--format", help="table | csv | json", case_sensitive=False)
    ] = "table",
) -> None:
    """The runs of an experiment: status, duration, parameters and latest metrics."""
    from pmle.errors import InvalidInput
    from pmle.tracking import frame_of

    fmt = fmt.lower()
    if fmt not in {"table", "csv", "json"}:
        raise InvalidInput(f"unknown format {fmt!r}", hint="table, csv or json")
    with open_ws() as ws:
        runs = ws.tracking.runs(
            experiment, filter=filter_, order_by=order_by, max_results=max_results
        )
    if fmt == "json":
        print_json([r.to_dict() for r in runs])
        return
    if fmt == "csv":
        typer.echo(frame_of(runs).to_csv(index=False), nl=False)
        return
    _runs_table(experiment, runs)


def _runs_table(experiment: str, runs: list[RunInfo]) -> None:
    from rich.table import Table

    out = console()
    if not runs:
        out.print(f"no runs in {experiment} match")
        return
    params = sorted({k for r in runs for k in r.params})
    metrics = sorted({k for r in runs for k in r.metrics})
    table = Table(
        "id", "run", "status", "started", "duration", title=f"{experiment}: {len(runs)} runs"
    )
    for key in params:
        table.add_column(f"params.{key}", style="dim")
    for key in metrics:
        table.add_column(key, justify="right")
    names = {r.id: r.name for r in runs}
    for r in _nested_order(runs):
        colour = STATUS_COLOUR.get(r.status, "white")
        name = r.name if r.parent_id is None else f"  └ {r.name}"
        if r.parent_id is not None and r.parent_id not in names:
            name = f"{r.name} (in #{r.parent_id})"
        table.add_row(
            str(r.id),
            name,
            f"[{colour}]{r.status}[/]",
            _short(r.started_at),
            _duration(r.duration_s),
            *[r.params.get(k, "—") for k in params],
            *[_number(r.metrics.get(k)) for k in metrics],
        )
    out.print(table)


def _nested_order(runs: list[RunInfo]) -> list[RunInfo]:
    """`runs` in their order, each nested run moved right after its parent (when listed)."""
    listed = {r.id for r in runs}
    children: dict[int, list[RunInfo]] = {}
    for r in runs:
        if r.parent_id is not None and r.parent_id in listed:
            children.setdefault(r.parent_id, []).append(r)
    out: list[RunInfo] = []

    def visit(r: RunInfo) -> None:
        out.append(r)
        for child in children.get(r.id, []):
            visit(child)

    for r in runs:
        if r.parent_id is None or r.parent_id not in listed:
            visit(r)
    return out


@app.command("run")
@handle_errors
def run(
    ref: Annotated[str, typer.Argument(help="run id or EXPERIMENT/RUN")],
    json_out: JsonOpt = False,
) -> None:
    """One run: status, parameters, metrics, tags, notes, artifacts, lineage."""
    from rich.table import Table

    with open_ws() as ws:
        info = ws.tracking.run(ref)
        children = ws.tracking.runs(info.experiment, parent=info.id, max_results=None)
    if json_out:
        print_json({**info.to_dict(), "children": [c.ref for c in children]})
        return
    out = console()
    colour = STATUS_COLOUR.get(info.status, "white")
    out.print(f"[bold]{info.ref}[/] (#{info.id}) [{colour}]{info.status}[/]")
    out.print(
        f"started {_when(info.started_at)}, ended {_when(info.ended_at)}, "
        f"took {_duration(info.duration_s)}"
    )
    if info.parent_id is not None:
        out.print(f"nested in run #{info.parent_id}")
    if info.error:
        out.print(f"[red]error:[/] {info.error}")
    if info.notes:
        out.print(f"notes: {info.notes}")
    for title, values in (("parameters", info.params), ("tags", info.tags)):
        if values:
            table = Table("name", "value", title=title, title_justify="left")
            for key, value in sorted(values.items()):
                table.add_row(key, value)
            out.print(table)
    if info.metrics:
        table = Table("metric", "latest", title="metrics", title_justify="left")
        for key, number in sorted(info.metrics.items()):
            table.add_row(key, _number(number))
        out.print(table)
    if info.artifacts:
        out.print("artifacts: " + ", ".join(a["path"] for a in info.artifacts))
    if info.inputs:
        out.print("lineage: " + ", ".join(info.inputs))
    if children:
        out.print("nested runs: " + ", ".join(c.name for c in children))


@app.command("compare")
@handle_errors
def compare(
    refs: Annotated[list[str], typer.Argument(help="run ids or EXPERIMENT/RUN names")],
    metric: Annotated[
        list[str] | None, typer.Option("--metric", "-m", help="curves to draw (repeatable)")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="draw the metric curves to a .png/.svg/.html")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Runs side by side: parameters and latest metrics; `--plot` draws their curves."""
    from rich.table import Table

    with open_ws() as ws:
        frame = ws.tracking.compare(refs)
        curves = ws.tracking.curves(refs, metric) if plot is not None else None
    if plot is not None and curves is not None:
        from pmle.tracking.plots import write_curves

        written = write_curves(curves, plot)
    if json_out:
        print_json(
            {
                column: {k: (None if _number(v) == "—" else v) for k, v in frame[column].items()}
                for column in frame.columns
            }
        )
    else:
        table = Table("", *frame.columns)
        for row_name, row in frame.iterrows():
            cells = [_number(v) if not isinstance(v, str) else v for v in row.tolist()]
            differs = len({c for c in cells if c != "—"}) > 1
            label = f"[bold]{row_name}[/]" if differs else str(row_name)
            table.add_row(label, *cells)
        console().print(table)
    if plot is not None:
        console(stderr=True).print(f"[green]✓[/] curves drawn to {written}")


@app.command("export-mlflow")
@handle_errors
def export_mlflow(
    experiments: Annotated[
        list[str] | None, typer.Argument(help="experiments to export (default: all)")
    ] = None,
    to: Annotated[
        str, typer.Option("--to", help="MLflow tracking URI, e.g. sqlite:///mlflow.db or http://…")
    ] = "",
    run: Annotated[list[str] | None, typer.Option("--run", help="only these runs")] = None,
    artifacts: Annotated[
        str | None, typer.Option("--artifacts", help="where new experiments keep artifacts")
    ] = None,
) -> None:
    """Export runs (params, metric curves, tags, artifacts, nesting) to an MLflow store."""
    from pmle.errors import InvalidInput
    from pmle.tracking.mlflow_export import export_runs

    if not to:
        raise InvalidInput("say where to: --to sqlite:///mlflow.db (or an MLflow server URL)")
    with open_ws() as ws:
        exported = export_runs(
            ws, to, experiments or None, runs=run or None, artifact_location=artifacts
        )
    console().print(f"[green]✓[/] exported {len(exported)} run(s) to {to}")
