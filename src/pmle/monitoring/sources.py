"""What a monitor reads, as DuckDB SQL relations: the model's training data (the skew
baseline, found through lineage), a window of an endpoint's request log, or any table, dataset
or Parquet / CSV files given for a batch run. Nothing is loaded into Python: the histograms are
aggregated by DuckDB over these relations."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.storage.warehouse import quote_ident, quote_literal

if TYPE_CHECKING:
    from pmle.models.registry import ModelVersion
    from pmle.models.signature import Signature
    from pmle.workspace import Workspace

#: Signature types monitored as numbers; the others (string, boolean) as categories.
NUMERIC_TYPES = ("integer", "float")
MONITORED_TYPES = ("integer", "float", "string", "boolean")


def feature_kinds(signature: Signature, features: list[str] | None = None) -> dict[str, str]:
    """Feature → numeric | categorical from the model's input signature (datetime columns are
    left out unless named)."""
    specs = {c.name: c for c in signature.inputs}
    if features is None:
        chosen = [c.name for c in signature.inputs if c.type in MONITORED_TYPES]
    else:
        unknown = [f for f in features if f not in specs]
        if unknown:
            raise InvalidInput(
                f"the model has no input(s) {', '.join(map(repr, unknown))}",
                hint=f"inputs: {', '.join(specs)}",
            )
        if not features:
            raise InvalidInput("monitor at least one feature")
        chosen = list(dict.fromkeys(features))
    unsupported = [f for f in chosen if specs[f].type not in MONITORED_TYPES]
    if unsupported:
        raise InvalidInput(
            f"cannot monitor {', '.join(map(repr, unsupported))}: only number, string and "
            "boolean inputs have histograms"
        )
    return {f: "numeric" if specs[f].type in NUMERIC_TYPES else "categorical" for f in chosen}


def training_dataset(mv: ModelVersion) -> str:
    """The dataset version the model was trained on: the first Dataset among its lineage
    inputs (AutoML lists the training split first)."""
    for node in (mv.manifest.get("lineage") or {}).get("inputs", []):
        if node.get("type") == "Dataset" and node.get("name"):
            return str(node["name"])
    raise InvalidInput(
        f"{mv.ref} records no training dataset in its lineage",
        hint="give the baseline data yourself (--baseline DATASET|FILE)",
    )


def data_relation(ws: Workspace, given: str | os.PathLike[str]) -> tuple[str, str]:
    """(SQL relation, label) for a dataset reference, a warehouse table, or files: Parquet
    (globs allowed), CSV or JSON lines."""
    text = os.fspath(given)
    if any(ch in text for ch in "*?["):
        import glob

        pattern = os.path.expanduser(text)
        if not glob.glob(pattern):
            raise InvalidInput(f"no file matches {text}")
        return f"SELECT * FROM read_parquet({quote_literal(pattern)})", text
    path = Path(text).expanduser()
    if path.is_file():
        from pmle.data.sources import detect_format

        fmt = detect_format(path)
        reader = {"parquet": "read_parquet", "csv": "read_csv_auto", "jsonl": "read_json_auto"}
        if fmt not in reader:
            raise InvalidInput(f"cannot read {path.name} ({fmt})", hint="Parquet, CSV or JSONL")
        return f"SELECT * FROM {reader[fmt]}({quote_literal(str(path.resolve()))})", str(path)
    if os.sep in text or path.suffix.lower() in {".parquet", ".csv", ".jsonl", ".json", ".gz"}:
        raise InvalidInput(f"no such file: {path}")
    if "@" in text or text not in ws.warehouse.tables():
        dv = ws.datasets.get(text)  # NotFound names the datasets there are
        return f"SELECT * FROM read_parquet({quote_literal(str(ws.datasets.path(dv)))})", dv.ref
    return f"SELECT * FROM {quote_ident(text)}", f"table {text}"


def log_relation(
    endpoint: str,
    model: str,
    kinds: Mapping[str, str],
    signature: Signature,
    *,
    start: datetime | None,
    end: datetime | None,
    id_field: str | None = None,
) -> str:
    """The logged instances of `model` on `endpoint` with time in (start, end], one column per
    model input (and monitored feature) pulled out of the instance JSON (objects by key, lists
    by signature position) and typed as the signature says (monitored numbers as DOUBLE), plus
    `_id` (the instance's `id_field`, else the request id), `_prediction` and `_time`."""
    input_names = signature.input_names
    types = {c.name: c.type for c in signature.inputs}
    cols = []
    for name in dict.fromkeys([*kinds, *input_names]):
        key = quote_literal("$." + _json_key(name))
        pos = input_names.index(name) if name in input_names else None
        value = (
            f"CASE WHEN json_type(instance) = 'ARRAY' THEN json_extract_string(instance, {pos}) "
            f"ELSE json_extract_string(instance, {key}) END"
            if pos is not None
            else f"json_extract_string(instance, {key})"
        )
        cast = _LOG_TYPES.get(types.get(name, ""))
        if kinds.get(name) == "numeric":
            value = f"TRY_CAST({value} AS DOUBLE)"
        elif cast is not None:
            value = f"TRY_CAST({value} AS {cast})"
        cols.append(f"{value} AS {quote_ident(name)}")
    ident = (
        f"json_extract_string(instance, {quote_literal('$.' + _json_key(id_field))})"
        if id_field
        else "request_id"
    )
    where = [f"endpoint = {quote_literal(endpoint)}", f"model = {quote_literal(model)}"]
    if start is not None:
        where.append(f"time > {quote_literal(start.isoformat())}::TIMESTAMPTZ")
    if end is not None:
        where.append(f"time <= {quote_literal(end.isoformat())}::TIMESTAMPTZ")
    return (
        f"SELECT {', '.join(cols)}, {ident} AS _id, prediction AS _prediction, time AS _time "
        f"FROM prediction_log WHERE {' AND '.join(where)}"
    )


_LOG_TYPES = {"integer": "DOUBLE", "float": "DOUBLE", "boolean": "BOOLEAN", "datetime": "TIMESTAMP"}


def sampled(relation: str, rate: float, seed: int = 0) -> str:
    """The relation with a Bernoulli sample of its rows (rate in (0, 1])."""
    if rate >= 1.0:
        return relation
    return f"SELECT * FROM ({relation}) USING SAMPLE {rate * 100:.6f} PERCENT (bernoulli, {seed})"


def _json_key(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def frame_of(con: Any, relation: str, columns: list[str], limit: int, seed: int = 0) -> Any:
    """Up to `limit` rows of the relation's `columns` as a DataFrame (a reservoir sample)."""
    cols = ", ".join(quote_ident(c) for c in columns)
    return con.sql(
        f"SELECT {cols} FROM ({relation}) USING SAMPLE reservoir({int(limit)} ROWS) "
        f"REPEATABLE ({int(seed)})"
    ).df()
