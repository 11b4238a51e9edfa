"""Reading a dataset's source into an Arrow table: files (CSV, Parquet, JSON Lines), in-memory
frames (pandas, Polars, Arrow) and SQL over the warehouse. Third-party parse errors become
:class:`~pmle.errors.InvalidInput` with the file named."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    import pyarrow as pa

FILE_FORMATS = ("csv", "parquet", "jsonl")
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


@dataclass(frozen=True)
class Loaded:
    """A source read into memory, and a description of where it came from."""

    table: pa.Table
    source: str  # "file:///…/x.csv", "pandas.DataFrame", "sql: SELECT …"
    uri: str | None  # for the lineage artifact of the source, when it has one
    kind: str  # File | Frame | Query


def detect_format(path: Path) -> str:
    """The format of a file from its name (`.csv.gz` counts as CSV)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in {".gz", ".zst", ".bz2"}:
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _SUFFIXES:
        return _SUFFIXES[suffixes[-1]]
    raise InvalidInput(
        f"cannot tell the format of {path.name}",
        hint="pass format='csv', 'parquet' or 'jsonl' (CLI: --format)",
    )


def read_file(path: str | os.PathLike[str], format: str | None = None, **options: Any) -> Loaded:
    """Read a CSV, Parquet or JSON Lines file with DuckDB's readers (type sniffing included)."""
    import duckdb

    p = Path(path).expanduser()
    if not p.exists():
        raise NotFound(f"no such file: {p}")
    if p.is_dir():
        raise InvalidInput(f"{p} is a folder", hint="give a file")
    fmt = (format or detect_format(p)).lower()
    if fmt not in FILE_FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}", hint=f"use one of {', '.join(FILE_FORMATS)}")
    if p.stat().st_size == 0:
        raise InvalidInput(f"{p} is empty")
    reader = {"csv": "read_csv", "parquet": "read_parquet", "jsonl": "read_json"}[fmt]
    args = [_literal(str(p.resolve()))]
    if fmt == "jsonl":
        args.append("format = 'newline_delimited'")
    if fmt == "csv":
        # A ragged or otherwise broken file is an error, not silently skipped rows.
        args.append("strict_mode = true")
        args.append("null_padding = false")
    for key, value in options.items():
        args.append(f"{key} = {_literal(value) if isinstance(value, str) else value!r}")
    con = duckdb.connect()
    try:
        table = con.sql(f"SELECT * FROM {reader}({', '.join(args)})").to_arrow_table()
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(f"cannot read {p.name} as {fmt}: {message}",
                           hint="check the file, or pass the format / reader options explicitly")
    finally:
        con.close()
    if table.num_columns == 0:
        raise InvalidInput(f"{p} has no columns")
    if fmt == "csv" and table.num_columns == 1 and "delim" not in options:
        table = _recheck_single_column(p, table)
    return Loaded(table, f"file://{p.resolve()}", f"file://{p.resolve()}", "File")


def _recheck_single_column(path: Path, table: pa.Table) -> pa.Table:
    """DuckDB falls back to one column when rows disagree on their number of fields; if the
    header clearly has a delimiter, read strictly with it to report the broken row."""
    import gzip

    import pyarrow as pa
    import pyarrow.csv as pacsv

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        header = f.readline()
    delims = [d for d in (",", ";", "\t", "|") if d in header]
    if not delims:
        return table
    try:
        return pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter=delims[0]))
    except pa.ArrowInvalid as exc:
        raise InvalidInput(
            f"malformed CSV {path.name}: {str(exc).strip().splitlines()[0]}",
            hint="every row needs as many fields as the header",
        )


def from_object(obj: Any) -> Loaded:
    """Accept a pandas or Polars DataFrame, or an Arrow Table / RecordBatch."""
    import pyarrow as pa

    module = type(obj).__module__.split(".")[0]
    if isinstance(obj, pa.Table):
        return Loaded(obj, "pyarrow.Table", None, "Frame")
    if isinstance(obj, pa.RecordBatch):
        return Loaded(pa.Table.from_batches([obj]), "pyarrow.RecordBatch", None, "Frame")
    if module == "pandas" and type(obj).__name__ == "DataFrame":
        if not all(isinstance(c, str) for c in obj.columns):
            raise InvalidInput("every column name of the DataFrame must be a string")
        try:
            table = pa.Table.from_pandas(obj, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInput(f"cannot convert the DataFrame: {exc}",
                               hint="give each column one type")
        return Loaded(table.replace_schema_metadata(None), "pandas.DataFrame", None, "Frame")
    if module == "polars" and type(obj).__name__ == "DataFrame":
        return Loaded(obj.to_arrow(), "polars.DataFrame", None, "Frame")
    raise InvalidInput(
        f"cannot import an object of type {type(obj).__name__}",
        hint="give a file path, a pandas / Polars DataFrame or a pyarrow Table",
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
