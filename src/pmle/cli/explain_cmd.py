"""`pmle explain`: feature attributions of a registered model, per instance or global."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from pmle.cli._common import console, handle_errors, open_ws, print_json

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from pmle.monitoring.attributions import Explanation
    from pmle.monitoring.explanations import Baseline
    from pmle.serving.batch_io import Source
    from pmle.workspace import Workspace

#: Rows streamed from a --data file per chunk while sampling it for --global.
_CHUNK_ROWS = 65_536
_BAR = 24


def _instances(texts: list[str]) -> list[dict[str, Any]]:
    """--instance values: each a JSON object, or a JSON list of objects."""
    import orjson

    from pmle.errors import InvalidInput

    rows: list[dict[str, Any]] = []
    for text in texts:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"--instance is not JSON: {exc}", hint="e.g. '{\"tenure\": 3}'")
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(v, dict) for v in items):
            raise InvalidInput(
                "--instance must be a JSON object keyed by column (or a list of them)"
            )
        rows.extend(items)
    return rows


def _read(ws: Workspace, model_ref: str, data: str, rows: int) -> pd.DataFrame:
    """The first `rows` rows of a dataset or a .parquet / .csv / .jsonl file."""
    from pmle.serving.batch_io import open_source, resolve_input

    model = ws.models.load(model_ref)
    reader = open_source(resolve_input(ws, data), model, rows)
    for chunk in reader.chunks():
        return chunk.to_pandas()
    from pmle.errors import InvalidInput

    raise InvalidInput(f"{data} holds no rows")


def _global_baseline(ws: Workspace, model_ref: str, method: str, data: str) -> Baseline:
    """The baseline from --data: a dataset is passed on by name (the baseline reads a sample of
    it and names it); a file is sampled across all its rows, and its path named."""
    from pmle.serving.batch_io import resolve_input

    source = resolve_input(ws, data)
    if source.dataset is not None:
        return ws.explanations.baseline(model_ref, method=method, data=source.dataset.ref)
    frame, total = _sample_file(ws, model_ref, source)
    label = f"file {source.path}"
    if total > len(frame):
        label += f" ({len(frame):,} of its {total:,} rows sampled)"
    return ws.explanations.baseline(model_ref, method=method, data=frame, source=label)


def _sample_file(ws: Workspace, model_ref: str, source: Source) -> tuple[pd.DataFrame, int]:
    """A seeded uniform sample of up to BASELINE_ROWS rows of the file's input columns (the
    rows with the smallest random keys), streamed a chunk at a time; and its row count."""
    import numpy as np
    import pyarrow as pa

    from pmle.errors import InvalidInput
    from pmle.monitoring.explanations import BASELINE_ROWS
    from pmle.serving.batch_io import open_source

    model = ws.models.load(model_ref)
    names = model.signature.input_names
    rng = np.random.default_rng(0)
    kept: pa.Table | None = None
    keys = np.empty(0)
    total = 0
    for chunk in open_source(source, model, _CHUNK_ROWS).chunks():
        total += chunk.num_rows
        chunk = chunk.select([c for c in names if c in chunk.column_names])
        table = (
            chunk if kept is None else pa.concat_tables([kept, chunk], promote_options="permissive")
        )
        keys = np.concatenate([keys, rng.random(chunk.num_rows)])
        if len(keys) > BASELINE_ROWS:
            keep = np.sort(np.argpartition(keys, BASELINE_ROWS)[:BASELINE_ROWS])
            table, keys = table.take(pa.array(keep)), keys[keep]
        kept = table
    if kept is None or total == 0:
        raise InvalidInput(f"{source.label} holds no rows")
    return kept.to_pandas(), total


def _bar(value: float, top: float) -> str:
    """A bar whose length is |value| / top, green for positive, red for negative."""
    cells = 0 if top <= 0 else round(abs(value) / top * _BAR)
    color = "green" if value >= 0 else "red"
    return f"[{color}]{'█' * cells}[/]"


def _shown(value: Any) -> str:
    from pmle.cli._render import fmt_num

    if isinstance(value, float) and value != value:
        return "—"
    return fmt_num(value)


def explanation_table(
    e: Explanation, row: Mapping[str, Any] | None = None, index: int | None = None
) -> Table:
    """One explanation: attributions sorted by size, with bars (and the instance's values)."""
    from pmle.cli._render import fmt_num, titled_table

    what = "instance" if index is None else f"instance {index}"
    target = f" for {e.output_display_name!r}" if e.output_display_name else ""
    title = (
        f"{what}{target} — {e.output_name} {fmt_num(e.instance_output)} = baseline "
        f"{fmt_num(e.baseline_output)} + attributions ({e.method.replace('_', ' ')})"
    )
    if e.approximation_error is not None:
        title += f", approximation error {e.approximation_error:.2g}"
    columns = [("feature", "left"), ("attribution", "right"), ("", "left")]
    if row is not None:
        columns.insert(1, ("value", "left"))
    table = titled_table(title, columns)
    items = sorted(e.feature_attributions.items(), key=lambda kv: -abs(kv[1]))
    top = max((abs(v) for _, v in items), default=0.0)
    for name, value in items:
        cells = [name, f"{value:+.4g}", _bar(value, top)]
        if row is not None:
            cells.insert(1, _shown(row.get(name)))
        table.add_row(*cells)
    return table


def print_explanation(
    out: Console, e: Explanation, row: Mapping[str, Any] | None = None, index: int | None = None
) -> None:
    """Print one explanation (see :func:`explanation_table`)."""
    out.print(explanation_table(e, row, index))


def _global_table(base: Baseline) -> Table:
    from pmle.cli._render import titled_table

    table = titled_table(
        f"{base.model} — global importance: mean |attribution| "
        f"({base.method.replace('_', ' ')}, {base.source})",
        [("feature", "left"), ("importance", "right"), ("", "left"), ("baseline", "left")],
    )
    top = max(base.global_importance.values(), default=0.0)
    for name, value in base.global_importance.items():
        table.add_row(name, f"{value:.4g}", _bar(value, top), _shown(base.instance.get(name)))
    return table


@handle_errors
def explain(
    model: Annotated[str, typer.Argument(help="NAME, NAME@VERSION or NAME@ALIAS")],
    instance: Annotated[
        list[str] | None,
        typer.Option(
            "--instance", "-i", help="an instance as a JSON object (or a list of them); repeatable"
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data", "-d", help="dataset (NAME or NAME@V) or .parquet / .csv / .jsonl file"
        ),
    ] = None,
    rows: Annotated[int, typer.Option("--rows", "-n", min=1, help="rows of --data to explain")] = 5,
    method: Annotated[
        str, typer.Option("--method", "-m", help="auto, tree_shap or sampled_shapley")
    ] = "auto",
    path_count: Annotated[
        int, typer.Option("--path-count", help="sampled Shapley: random feature orders (1-50)")
    ] = 10,
    global_: Annotated[
        bool,
        typer.Option(
            "--global",
            help="the model's global importance, stored with it (computed on first use from "
            "its training dataset, or from --data)",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Explain predictions: how much each input column moved them from the baseline."""
    from pmle.errors import InvalidInput

    ws = open_ws()
    out = console()
    if global_:
        if instance:
            raise InvalidInput("--global takes no --instance", hint="give --data or nothing")
        base = (
            _global_baseline(ws, model, method, data)
            if data is not None
            else ws.explanations.baseline(model, method=method)
        )
        if as_json:
            print_json(base.to_dict())
            return
        out.print(_global_table(base))
        return
    if (instance is None) == (data is None):
        raise InvalidInput(
            "give either --instance JSON or --data DATASET_OR_FILE",
            hint="or --global for the model's global importance",
        )
    frame = _read(ws, model, data, rows) if data is not None else None
    given: Any = frame if frame is not None else _instances(instance or [])
    found = ws.explanations.explain(model, given, method=method, path_count=path_count)
    if as_json:
        print_json([e.to_dict() for e in found])
        return
    records = frame.to_dict(orient="records") if frame is not None else given
    for i, (e, row) in enumerate(zip(found, records, strict=True)):
        print_explanation(out, e, row, i)


def register(app: typer.Typer) -> None:
    """Add `explain` to the `pmle` application."""
    app.command("explain")(explain)
