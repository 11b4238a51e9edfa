"""`pmle features …`: the feature store — definitions applied with a plan, point-in-time
training sets, materialization into the online store, online reads, freshness, Feast import."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pmle.cli._common import console, handle_errors, open_ws, print_json

if TYPE_CHECKING:
    from pmle.features import Plan

app = typer.Typer(
    help="The feature store: entities and feature views, training sets, online serving.",
    no_args_is_help=True,
)

FilesArg = Annotated[list[Path], typer.Argument(help="YAML definition files")]
_SYMBOLS = {
    "create": "[green]+[/]",
    "update": "[yellow]~[/]",
    "delete": "[red]-[/]",
    "unchanged": "[dim]=[/]",
}


def _print_plan(plan: Plan) -> None:
    out = console()
    for change in plan.changes:
        out.print(
            f"{_SYMBOLS[change.action]} {change.kind} [bold]{change.name}[/] ({change.action})"
        )
        for detail in change.details:
            out.print(f"    {detail}", markup=False)
    counts = {a: sum(c.action == a for c in plan.changes) for a in ("create", "update", "delete")}
    out.print(
        f"{counts['create']} to create, {counts['update']} to update, {counts['delete']} to delete"
    )


@app.command("plan")
@handle_errors
def plan(
    files: FilesArg,
    prune: Annotated[bool, typer.Option(help="also delete views the files do not declare")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check definitions against their sources and show what `apply` would change."""
    ws = open_ws()
    result = ws.features.plan(ws.features.load(map(str, files)), prune=prune)
    if json_out:
        print_json(result.to_dict())
    else:
        _print_plan(result)


@app.command("apply")
@handle_errors
def apply(
    files: FilesArg,
    prune: Annotated[bool, typer.Option(help="also delete views the files do not declare")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Register definitions: a new version of every entity and view that changed."""
    ws = open_ws()
    result = ws.features.apply(ws.features.load(map(str, files)), prune=prune)
    if json_out:
        print_json(result.to_dict())
        return
    _print_plan(result)
    console().print("applied" if result.has_changes else "nothing to change")


@app.command("list")
@handle_errors
def list_(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Entities and feature views."""
    from rich.table import Table

    ws = open_ws()
    entities = ws.features.entities()
    views = ws.features.views()
    if json_out:
        print_json(
            {"entities": [e.to_dict() for e in entities], "views": [v.to_dict() for v in views]}
        )
        return
    out = console()
    table = Table("entity", "join keys", "description")
    for e in entities:
        table.add_row(e.name, ", ".join(e.join_keys), e.description)
    out.print(table)
    table = Table("feature view", "version", "entities", "features", "source", "ttl", "owner")
    for v in views:
        spec = v.view.to_dict()
        source = f"dataset {v.view.dataset}" if v.view.dataset else "sql"
        table.add_row(
            v.name,
            str(v.version),
            ", ".join(v.view.entities),
            ", ".join(f"{f.name}:{f.dtype}" for f in v.view.features),
            source,
            spec["ttl"] or "—",
            v.view.owner,
        )
    out.print(table)


@app.command("show")
@handle_errors
def show(
    view: Annotated[str, typer.Argument(help="feature view (NAME or NAME@VERSION)")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A feature view: its definition, versions and freshness."""
    ws = open_ws()
    found = ws.features.view(view)
    versions = ws.features.versions(found.name)
    fresh = next((f for f in ws.features.freshness() if f.view == found.name), None)
    if json_out:
        print_json(
            {
                **found.to_dict(),
                "versions": [v.version for v in versions],
                "freshness": fresh.to_dict() if fresh else None,
            }
        )
        return
    import yaml

    out = console()
    out.print(f"[bold]{found.name}[/] version {found.version} of {len(versions)}")
    out.print(yaml.safe_dump(found.view.to_dict(), sort_keys=False).rstrip(), markup=False)
    if fresh is not None:
        out.print(_freshness_line(fresh))


def _when(epoch: float | None) -> str:
    from datetime import UTC, datetime

    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _freshness_line(f: Any) -> str:
    lag = f"{f.lag_s:,.0f} s of events not online" if f.lag_s else "up to date"
    if f.materialized_until is None:
        lag = "never materialized"
    return (
        f"newest event {_when(f.latest_event)}; online until {_when(f.materialized_until)} "
        f"({f.online_entities:,} entities): {lag}"
    )


@app.command("training-set")
@handle_errors
def training_set(
    entities: Annotated[
        str, typer.Option("--entities", "-e", help="a table or dataset name, SQL, or a file")
    ],
    features: Annotated[
        list[str], typer.Option("--features", "-f", help="view or view:feature (repeatable)")
    ],
    timestamp: Annotated[
        str, typer.Option(help="the entity rows' timestamp column")
    ] = "event_timestamp",
    register: Annotated[
        str | None, typer.Option(help="store the result as a version of this dataset")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="write the result to .parquet or .csv")] = None,
    full_names: Annotated[
        bool, typer.Option("--full-names", help="name columns view__feature")
    ] = False,
) -> None:
    """Point-in-time correct features for entity rows (never a value from the future).

    Each row gets the values as they were at its timestamp, within each view's time to
    live."""
    from pmle.errors import InvalidInput

    ws = open_ws()
    given: Any = entities
    path = Path(entities)
    if path.suffix.lower() in {".csv", ".parquet", ".jsonl", ".json"} and path.is_file():
        from pmle.data.sources import read_file

        given = read_file(path).table
    if register is None and out is None:
        raise InvalidInput("say where the result goes", hint="--register NAME or --out FILE")
    table = ws.features.training_set(
        given, features, timestamp=timestamp, full_names=full_names, register=register
    )
    if out is not None:
        _write(table, out)
    what = f"dataset {register}" if register else str(out)
    console().print(f"{table.num_rows:,} rows × {table.num_columns} columns → {what}")


def _write(table: Any, out: Path) -> None:
    from pmle.errors import InvalidInput

    suffix = out.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, out)
    elif suffix == ".csv":
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, out)
    else:
        raise InvalidInput(f"cannot write {out.name}", hint="use .parquet or .csv")


@app.command("export")
@handle_errors
def export(
    view: Annotated[str, typer.Argument(help="feature view")],
    start: Annotated[str | None, typer.Option(help="from this event time (ISO 8601)")] = None,
    end: Annotated[str | None, typer.Option(help="before this event time (ISO 8601)")] = None,
    latest: Annotated[
        bool, typer.Option(help="only the newest row per entity (as of --end, within the ttl)")
    ] = False,
    register: Annotated[
        str | None, typer.Option(help="store the rows as a version of this dataset")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="write the rows to .parquet or .csv")] = None,
) -> None:
    """A view's feature values by time range, without an entity table (or a snapshot)."""
    from pmle.errors import InvalidInput

    if register is None and out is None:
        raise InvalidInput("say where the rows go", hint="--register NAME or --out FILE")
    ws = open_ws()
    table = ws.features.feature_values(view, start=start, end=end, latest=latest)
    if out is not None:
        _write(table, out)
    if register is not None:
        version = ws.features.view(view)
        ws.datasets.import_derived(
            register,
            table,
            source=f"feature values: {view}",
            inputs=[(version.lineage_artifact_id, "feature_view")]
            if version.lineage_artifact_id
            else [],
            execution=("ExportFeatureValues", {"view": view, "start": start, "end": end}),
        )
    what = f"dataset {register}" if register else str(out)
    console().print(f"{table.num_rows:,} rows × {table.num_columns} columns → {what}")


@app.command("materialize")
@handle_errors
def materialize(
    views: Annotated[list[str] | None, typer.Argument(help="views (default: all)")] = None,
    incremental: Annotated[
        bool, typer.Option(help="only events since the last successful run")
    ] = False,
    start: Annotated[str | None, typer.Option(help="from this event time (ISO 8601)")] = None,
    end: Annotated[str | None, typer.Option(help="up to this event time (default now)")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Copy the latest feature values per entity into the online store.

    A run a crash interrupted is resumed without redoing its finished chunks."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    ws = open_ws()
    err = console(stderr=True)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("chunks"),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    tasks: dict[str, Any] = {}

    def progress(view: str, done: int, total: int) -> None:
        if not bar.live.is_started:
            bar.start()
        if view not in tasks:
            tasks[view] = bar.add_task(view, total=total)
        bar.update(tasks[view], completed=done, total=total)

    try:
        runs = ws.features.materialize(
            views, incremental=incremental, start=start, end=end, progress=progress
        )
    finally:
        bar.stop()
    if json_out:
        print_json([r.to_dict() for r in runs])
        return
    for r in runs:
        console().print(
            f"{r.view}@{r.version}: {r.rows:,} entity records from {_when(r.start)} to "
            f"{_when(r.end)} in {r.chunks} chunk(s) → {r.store}"
        )


@app.command("get")
@handle_errors
def get(
    features: Annotated[list[str], typer.Argument(help="view or view:feature")],
    key: Annotated[
        list[str], typer.Option("--key", "-k", help="an entity row: col=value[,col=value]")
    ],
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Read features from the online store for entity keys."""
    from pmle.errors import InvalidInput

    rows = []
    for text in key:
        row: dict[str, Any] = {}
        for part in text.split(","):
            name, sep, value = part.partition("=")
            if not sep or not name.strip():
                raise InvalidInput(f"bad key {text!r}", hint="write --key customer_id=42")
            row[name.strip()] = value.strip()
        rows.append(row)
    found = open_ws().features.online_features(features, rows)
    if json_out:
        print_json(found)
        return
    from rich.table import Table

    columns = list(found[0]) if found else []
    table = Table(*columns)
    for row in found:
        table.add_row(*("—" if row[c] is None else str(row[c]) for c in columns))
    console().print(table)
    given = {k for r in rows for k in r}
    if any(all(r[c] is None for c in columns if c not in given) for r in found):
        console().print(
            "[dim]— : no online value (the entity was never materialized, or its values are "
            "older than the view's ttl)[/]"
        )


@app.command("freshness")
@handle_errors
def freshness(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """How current each view's online values are."""
    found = open_ws().features.freshness()
    if json_out:
        print_json([f.to_dict() for f in found])
        return
    for f in found:
        console().print(f"[bold]{f.view}@{f.version}[/]: {_freshness_line(f)}")


@app.command("import-feast")
@handle_errors
def import_feast(
    repo: Annotated[Path, typer.Argument(help="a Feast feature repository folder")],
    dataset_prefix: Annotated[
        str, typer.Option(help="prefix for the datasets made from its file sources")
    ] = "",
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Import a Feast repository: entities, feature views and file sources (as datasets).

    What cannot be imported (on-demand views, stream sources …) is listed."""
    from pmle.features.feast_import import import_feast_repo

    report = import_feast_repo(open_ws(), repo, dataset_prefix=dataset_prefix)
    data = report.to_dict() if hasattr(report, "to_dict") else report
    if json_out:
        print_json(data)
        return
    console().print_json(data=data)
