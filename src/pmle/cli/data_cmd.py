"""`pmle data …`: import, list, show, stats and split datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pmle.cli._common import console, handle_errors, open_ws, print_json

app = typer.Typer(help="Versioned datasets: import, inspect, split.", no_args_is_help=True)

FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table or json")]


def _check_format(fmt: str) -> None:
    if fmt not in {"table", "json"}:
        from pmle.errors import InvalidInput

        raise InvalidInput(f"unknown output format {fmt!r}", hint="use table or json")


@app.command("import")
@handle_errors
def import_(
    name: Annotated[str, typer.Argument(help="dataset name, e.g. churn")],
    source: Annotated[
        Path | None, typer.Argument(help="CSV, Parquet or JSON Lines file (.gz allowed)")
    ] = None,
    sql: Annotated[
        str | None, typer.Option("--sql", help="import the result of a warehouse query instead")
    ] = None,
    file_format: Annotated[
        str | None,
        typer.Option("--file-format", help="csv, parquet or jsonl (default: from the name)"),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="CSV field delimiter (default: sniffed)")
    ] = None,
    description: Annotated[str, typer.Option("--description", "-d")] = "",
) -> None:
    """Import a file or a query result as a new version (unchanged content: same version)."""
    from pmle.errors import InvalidInput

    if (source is None) == (sql is None):
        raise InvalidInput(
            "give either a file or --sql QUERY", hint="pmle data import churn churn.csv"
        )
    ws = open_ws()
    out = console()
    with out.status(f"importing {name} …"):
        if sql is not None:
            dv = ws.datasets.import_sql(name, sql, description=description)
        else:
            assert source is not None
            options = {"delimiter": delimiter} if delimiter else {}
            dv = ws.datasets.import_(
                name, source, format=file_format, description=description, **options
            )
    verb = "imported" if dv.new else "unchanged, already stored as"
    out.print(
        f"[green]✓[/] {verb} [bold]{dv.ref}[/]: {dv.num_rows:,} rows × {len(dv.columns)} columns"
        f" [dim](content {dv.content_hash[:12]})[/]"
    )


@app.command("list")
@handle_errors
def list_(fmt: FormatOpt = "table") -> None:
    """List datasets with their newest version."""
    _check_format(fmt)
    items = open_ws().datasets.list()
    if fmt == "json":
        print_json([i.__dict__ for i in items])
        return
    from pmle.cli._render import titled_table

    table = titled_table(
        "datasets",
        [
            ("name", "left"),
            ("versions", "right"),
            ("latest", "right"),
            ("rows", "right"),
            ("columns", "right"),
            ("updated", "left"),
        ],
    )
    for i in items:
        table.add_row(
            i.name,
            str(i.versions),
            f"@{i.latest}",
            f"{i.rows:,}",
            str(i.columns),
            f"{i.updated_at:%Y-%m-%d %H:%M}",
        )
    out = console()
    if items:
        out.print(table)
    else:
        out.print("no datasets yet — import one with [bold]pmle data import NAME FILE[/]")


@app.command("show")
@handle_errors
def show(
    ref: Annotated[str, typer.Argument(help="NAME or NAME@VERSION")],
    fmt: FormatOpt = "table",
) -> None:
    """Show a dataset version's schema and its versions."""
    from pmle.cli._render import schema_table

    _check_format(fmt)
    ws = open_ws()
    dv = ws.datasets.get(ref)
    versions = ws.datasets.versions(dv.name)
    if fmt == "json":
        print_json({**dv.to_dict(), "versions": [v.version for v in versions]})
        return
    out = console()
    out.print(schema_table(dv))
    out.print(f"[dim]source:[/] {dv.source}")
    out.print(
        "[dim]versions:[/] "
        + ", ".join(
            f"@{v.version} ({v.num_rows:,} rows, {v.created_at:%Y-%m-%d %H:%M})" for v in versions
        )
    )


@app.command("stats")
@handle_errors
def stats(
    ref: Annotated[str, typer.Argument(help="NAME or NAME@VERSION")],
    column: Annotated[
        list[str] | None, typer.Option("--column", "-c", help="only these columns")
    ] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Show column statistics: nulls, moments, quantiles, histograms, top values."""
    from pmle.cli._render import stats_table

    _check_format(fmt)
    dv = open_ws().datasets.get(ref)
    for c in column or []:
        dv.column(c)  # NotFound with the list of columns
    if fmt == "json":
        cols = dv.stats["columns"]
        print_json({k: v for k, v in cols.items() if not column or k in column})
        return
    out = console()
    out.print(stats_table(dv, column, out.width))


@app.command("split")
@handle_errors
def split(
    ref: Annotated[str, typer.Argument(help="NAME or NAME@VERSION")],
    method: Annotated[
        str, typer.Option("--method", "-m", help="random, group, predefined or time")
    ] = "random",
    fractions: Annotated[
        str, typer.Option("--fractions", help="train,validation[,test] fractions")
    ] = "0.8,0.1,0.1",
    seed: Annotated[int, typer.Option("--seed")] = 42,
    column: Annotated[
        str | None, typer.Option("--column", "-c", help="group / split / time column")
    ] = None,
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="name of the outputs (default: the dataset)")
    ] = None,
) -> None:
    """Split deterministically into PREFIX_train, PREFIX_validation and PREFIX_test datasets."""
    from pmle.errors import InvalidInput

    try:
        fr = [float(x) for x in fractions.split(",")]
    except ValueError:
        raise InvalidInput(f"bad --fractions {fractions!r}", hint="e.g. --fractions 0.8,0.1,0.1")
    parts = open_ws().datasets.split(
        ref, method=method, fractions=fr, seed=seed, column=column, prefix=prefix
    )
    out = console()
    for split_name, dv in parts.items():
        out.print(f"[green]✓[/] {split_name:<10} [bold]{dv.ref}[/] {dv.num_rows:,} rows")
