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
    """Read a CSV, Parquet or JSON Lines file (`.gz` compressed files too).

    CSV is parsed strictly (a row with the wrong number of fields is an error, never silently
    skipped); options: `delimiter` (default: sniffed from the header), `skip_rows`."""
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
    if fmt == "csv":
        table = _read_csv(p, **options)
    else:
        if options:
            raise InvalidInput(f"reader options {sorted(options)} apply to CSV files only")
        table = _read_duckdb(p, fmt)
    if table.num_columns == 0:
        raise InvalidInput(f"{p} has no columns")
    uri = f"file://{p.resolve()}"
    return Loaded(table, uri, uri, "File")


def _read_csv(path: Path, delimiter: str | None = None, skip_rows: int = 0) -> pa.Table:
    import gzip

    import pyarrow as pa
    import pyarrow.csv as pacsv

    if delimiter is None:
        opener: Any = gzip.open if path.suffix.lower() == ".gz" else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            for _ in range(skip_rows):
                f.readline()
            header = f.readline()
        if ".tsv" in [s.lower() for s in path.suffixes]:
            delimiter = "\t"
        else:
            counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
            best = max(counts, key=lambda d: counts[d])
            delimiter = best if counts[best] else ","
    if len(delimiter) != 1:
        raise InvalidInput(f"bad delimiter {delimiter!r}", hint="give a single character")
    try:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(skip_rows=skip_rows),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(
            f"malformed CSV {path.name}: {first}",
            hint="every row needs as many fields as the header; check the delimiter "
            "(--delimiter) and the encoding (UTF-8)",
        )


def _read_duckdb(path: Path, fmt: str) -> pa.Table:
    import duckdb

    reader = {"parquet": "read_parquet", "jsonl": "read_json"}[fmt]
    args = [_literal(str(path.resolve()))]
    if fmt == "jsonl":
        args.append("format = 'newline_delimited'")
    con = duckdb.connect()
    try:
        return con.sql(f"SELECT * FROM {reader}({', '.join(args)})").to_arrow_table()
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(
            f"cannot read {path.name} as {fmt}: {message}",
            hint="check the file, or pass the format explicitly",
        )
    finally:
        con.close()


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
            raise InvalidInput(
                f"cannot convert the DataFrame: {exc}", hint="give each column one type"
            )
        return Loaded(table.replace_schema_metadata(None), "pandas.DataFrame", None, "Frame")
    if module == "polars" and type(obj).__name__ == "DataFrame":
        return Loaded(obj.to_arrow(), "polars.DataFrame", None, "Frame")
    raise InvalidInput(
        f"cannot import an object of type {type(obj).__name__}",
        hint="give a file path, a pandas / Polars DataFrame or a pyarrow Table",
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
