"""`pmle batch-predict`: a registered model over a dataset or a file, with a progress bar."""

from __future__ import annotations

from typing import Annotated

import typer

from pmle.cli._common import console, handle_errors, open_ws, print_json


@handle_errors
def batch_predict(
    model: Annotated[str, typer.Argument(help="NAME, NAME@VERSION or NAME@ALIAS")],
    input_: Annotated[
        str,
        typer.Option(
            "--input", "-i", help="dataset (NAME or NAME@V) or .parquet / .csv / .jsonl file"
        ),
    ],
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", help=".parquet or .csv file, or a dataset name (a new version)"
        ),
    ],
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", min=1, help="rows predicted at a time (bounds memory)")
    ] = 100_000,
    no_resume: Annotated[
        bool, typer.Option("--no-resume", help="redo chunks an interrupted run finished")
    ] = False,
    runner: Annotated[
        str, typer.Option("--runner", help="local, or ray (Ray Data actors; pmle[ray])")
    ] = "local",
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
) -> None:
    """Predict every row of INPUT with MODEL; write instances and predictions to OUTPUT.

    Streams in chunks, so memory stays bounded; rerun the same command after a crash to resume
    where it stopped."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from pmle.errors import InvalidInput
    from pmle.serving.batch import batch_predict as run

    if fmt not in {"text", "json"}:
        raise InvalidInput(f"unknown output format {fmt!r}", hint="use text or json")
    ws = open_ws()
    err = console(stderr=True)
    bar = Progress(
        TextColumn("predicting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,  # no bar in logs and pipes
    )
    task = bar.add_task("rows", total=None)

    def progress(done: int, total: int | None) -> None:
        # Started on the first chunk, so an error in the set-up prints alone on its line.
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        result = run(
            ws,
            model,
            input_,
            output,
            chunk_rows=chunk_rows,
            resume=not no_resume,
            progress=progress,
            runner=runner,
        )
    finally:
        bar.stop()
    if fmt == "json":
        print_json(result.to_dict())
        return
    resumed = (
        f"; {result.chunks_skipped} of {result.chunks} chunks resumed"
        if result.chunks_skipped
        else ""
    )
    console().print(
        f"[green]✓[/] predicted {result.rows:,} rows of {result.input} with [bold]{result.model}"
        f"[/] → [bold]{result.output}[/] in {result.seconds:.1f} s "
        f"({result.rows_per_second:,.0f} rows/s{resumed})"
    )


def register(app: typer.Typer) -> None:
    """Add `batch-predict` to the `pmle` application."""
    app.command("batch-predict")(batch_predict)
