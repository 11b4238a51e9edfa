"""Batch prediction I/O: chunked readers for Parquet / CSV / JSON Lines, finished-part files,
the prediction columns of one chunk, and combining the parts into the output.

Every reader yields Arrow tables of exactly `chunk_rows` rows (the last one fewer), so chunk `i`
always holds the same rows of the same input: that is what makes a finished part reusable.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import pyarrow as pa

    from pmle.data.datasets import DatasetVersion
    from pmle.models.format import LoadedModel
    from pmle.workspace import Workspace

#: Suffixes that make an input or output a file rather than a dataset name.
INPUT_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".gz")
#: Output formats by file suffix.
OUTPUT_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
#: CSV / JSON reader block size: the first block also decides the column types.
BLOCK_BYTES = 8 << 20
#: Flavors whose LoadedModel.predict is exactly `classes[argmax(predict_proba)]`, so labels can
#: come from the probabilities instead of a second pass over the trees.
_ARGMAX_FLAVORS = {"lightgbm", "xgboost", "ensemble"}


@dataclass
class ChunkReader:
    """An opened input: its Arrow schema, its row count when known, and its chunks."""

    schema: pa.Schema
    total_rows: int | None
    batches: Iterator[pa.RecordBatch]
    name: str
    chunk_rows: int

    def chunks(self) -> Iterator[pa.Table]:
        """Tables of exactly `chunk_rows` rows (the last may be shorter)."""
        import pyarrow as pa

        rows = 0
        try:
            for table in rechunk(self.batches, self.chunk_rows):
                rows += table.num_rows
                yield table
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInput(
                f"cannot read {self.name} after row {rows:,}: {_first_line(exc)}",
                hint="every row needs the same columns and types as the first rows; fix the "
                "file, or import it with `pmle data import` and predict from the dataset",
            )


def rechunk(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Regroup record batches of any sizes into tables of `rows` rows (zero-copy slices)."""
    import pyarrow as pa

    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - count, batch.num_rows)
            pending.append(batch.slice(0, take))
            count += take
            batch = batch.slice(take)
            if count == rows:
                yield pa.Table.from_batches(pending)
                pending, count = [], 0
    if count:
        yield pa.Table.from_batches(pending)


def open_reader(
    path: Path, fmt: str, chunk_rows: int, forced: dict[str, pa.DataType]
) -> ChunkReader:
    """Open `path` for streaming. `forced` pins column types that CSV / JSON inference could get
    wrong from the first block alone (numeric-looking category codes, floats that start as ints).
    """
    import pyarrow as pa

    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            # Buffered page reads instead of pre-buffering whole column chunks: a file written
            # as one huge row group would otherwise be held in memory whole.
            pf = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
            batches = pf.iter_batches(batch_size=min(chunk_rows, 1 << 14))
            return ChunkReader(
                pf.schema_arrow, pf.metadata.num_rows, batches, path.name, chunk_rows
            )
        if fmt == "csv":
            import pyarrow.csv as pacsv

            reader = pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
                parse_options=pacsv.ParseOptions(delimiter=_sniff_delimiter(path)),
                convert_options=pacsv.ConvertOptions(column_types=forced),
            )
        else:
            import pyarrow.json as pajson

            options = pajson.ReadOptions(block_size=BLOCK_BYTES)
            # An explicit schema makes absent fields all-null columns, so pin only the fields
            # the first block shows (reading that block twice is cheap).
            present = set(pajson.open_json(path, read_options=options).schema.names)
            reader = pajson.open_json(
                path,
                read_options=options,
                parse_options=pajson.ParseOptions(
                    explicit_schema=pa.schema([(k, v) for k, v in forced.items() if k in present]),
                    unexpected_field_behavior="infer",
                ),
            )
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise InvalidInput(
            f"cannot read {path.name} as {fmt}: {_first_line(exc)}",
            hint="check the file, or give it the suffix of its format (.parquet, .csv, .jsonl)",
        )
    return ChunkReader(reader.schema, None, iter(reader), path.name, chunk_rows)


def _sniff_delimiter(path: Path) -> str:
    """The delimiter of a CSV from its header (as `pmle data import` guesses it)."""
    import gzip

    if ".tsv" in [s.lower() for s in path.suffixes]:
        return "\t"
    opener: Any = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        header = f.readline()
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- inputs and outputs -------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """The input of a batch prediction: a dataset version's Parquet file or a user's file."""

    label: str  # what the user sees: NAME@V or the file path
    path: Path
    fmt: str
    identity: str  # changes whenever the rows may have changed
    dataset: DatasetVersion | None


@dataclass(frozen=True)
class Target:
    """Where the predictions go: a file, or a new version of a dataset."""

    kind: str  # "file" or "dataset"
    name: str  # the path, or the dataset name
    path: Path | None
    fmt: str


def resolve_input(ws: Workspace, given: str | os.PathLike[str]) -> Source:
    """A file when it exists or looks like a path, else a dataset reference."""
    from pmle.data.sources import detect_format

    text = os.fspath(given)
    path = Path(text).expanduser()
    looks_like_file = (
        isinstance(given, os.PathLike) or os.sep in text or path.suffix.lower() in INPUT_SUFFIXES
    )
    if path.is_file():
        fmt = detect_format(path)  # InvalidInput for an unknown suffix
        if path.suffix.lower() == ".gz" and fmt == "parquet":
            raise InvalidInput(f"cannot stream a compressed Parquet file {path.name}")
        stat = path.stat()
        resolved = path.resolve()
        return Source(
            str(path), resolved, fmt, f"file:{resolved}:{stat.st_size}:{stat.st_mtime_ns}", None
        )
    if looks_like_file or path.exists():
        raise InvalidInput(
            f"no such file: {path}" if not path.exists() else f"{path} is not a file",
            hint="give a .parquet, .csv or .jsonl file, or the name of a dataset "
            "(`pmle data list`)",
        )
    dv = ws.datasets.get(text)  # NotFound names the datasets there are
    return Source(dv.ref, ws.datasets.path(dv), "parquet", f"dataset:{dv.content_hash}", dv)


def resolve_output(given: str | os.PathLike[str], source: Source) -> Target:
    """A .parquet / .csv file, else the name of a dataset."""
    from pmle._util import check_name

    text = os.fspath(given)
    path = Path(text).expanduser()
    suffix = path.suffix.lower()
    if suffix in OUTPUT_SUFFIXES:
        resolved = path.resolve()
        if resolved == source.path:
            raise InvalidInput(
                f"the output {path} is the input file", hint="write the predictions elsewhere"
            )
        if resolved.is_dir():
            raise InvalidInput(f"the output {path} is a folder", hint="give a file name")
        return Target("file", str(resolved), resolved, OUTPUT_SUFFIXES[suffix])
    if isinstance(given, os.PathLike) or os.sep in text or suffix in INPUT_SUFFIXES:
        raise InvalidInput(
            f"cannot write predictions to {path.name}: unknown output format",
            hint="give a .parquet or .csv file, or a dataset name",
        )
    check_name(text, "output dataset name")
    return Target("dataset", text, None, "parquet")


def forced_types(model: LoadedModel) -> dict[str, pa.DataType]:
    """The model's string and float input columns with their Arrow types, pinned when reading
    so that the first block's guess cannot disagree with the model or with later blocks."""
    import pyarrow as pa

    pinned = {"string": pa.string(), "float": pa.float64()}
    return {c.name: pinned[c.type] for c in model.signature.inputs if c.type in pinned}


def open_source(source: Source, model: LoadedModel, chunk_rows: int) -> ChunkReader:
    """Open the input for streaming, with the model's string and float columns pinned."""
    return open_reader(source.path, source.fmt, chunk_rows, forced_types(model))


# -- predictions --------------------------------------------------------------------------------


class PredictionColumns:
    """The columns batch prediction adds to each chunk, and how to compute them."""

    def __init__(self, model: LoadedModel) -> None:
        import pyarrow as pa

        self.model = model
        outputs = model.signature.outputs
        self.name = outputs[0].name if outputs else "prediction"
        self.classes = model.classes if model.task in {"binary", "multiclass"} else None
        self.fields: list[pa.Field] = [pa.field(self.name, pa.float64())]
        if self.classes:
            from pmle.models.flavors import labels_array

            self._labels = labels_array(self.classes)
            label_type = pa.array(self.classes).type
            self.fields = [pa.field(self.name, label_type)] + [
                pa.field(f"probability_{c}", pa.float64()) for c in self.classes
            ]

    @property
    def names(self) -> list[str]:
        """Names of the added columns (before a chunk shows a multi-output raw model)."""
        return [f.name for f in self.fields]

    def add(self, chunk: pa.Table) -> pa.Table:
        """`chunk` with the prediction columns appended (input columns untouched)."""
        import pyarrow as pa

        frame = chunk.select(self.model.signature.input_names).to_pandas()
        arrays: list[tuple[str, pa.Array]] = []
        if self.classes:
            proba = self.model.predict_proba(frame)
            labels = (
                self._labels[proba.argmax(axis=1)]
                if self.model.flavor in _ARGMAX_FLAVORS
                else self.model.predict(frame)
            )
            arrays.append((self.name, pa.array(labels, type=self.fields[0].type)))
            arrays += [(f.name, pa.array(proba[:, i])) for i, f in enumerate(self.fields[1:])]
        else:
            values = self.model.predict(frame)
            if values.ndim == 2:  # a raw multi-output model: one column per output
                arrays += [
                    (f"{self.name}_{i}", pa.array(values[:, i])) for i in range(values.shape[1])
                ]
            else:
                arrays.append((self.name, pa.array(values, type=pa.float64())))
        for name, array in arrays:
            chunk = chunk.append_column(name, array)
        return chunk.replace_schema_metadata(None)


# -- parts and output ---------------------------------------------------------------------------


def part_path(staging: Path, index: int) -> Path:
    """Where chunk `index` is kept once predicted."""
    return staging / f"part-{index:06d}.parquet"


def part_rows(path: Path) -> int | None:
    """Rows of a finished part, None when it is absent or unreadable."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        return None
    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (pa.ArrowInvalid, OSError):
        return None


def write_part(path: Path, table: pa.Table) -> None:
    """Write a part to a temp file, fsync, rename: a kill leaves it whole or absent."""
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.tmp")
    try:
        # Parts live only until the end of the run: a fast codec beats a small file.
        pq.write_table(
            table, tmp, compression="lz4", use_dictionary=_dictionary_columns(table.schema)
        )
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def combine(parts: list[Path], schema: pa.Schema, dest: Path, fmt: str) -> int:
    """Stream the parts, in order, into one Parquet or CSV file at `dest`; returns its rows."""
    import pyarrow.parquet as pq

    rows = 0
    writer: Any
    if fmt == "parquet":
        writer = pq.ParquetWriter(
            dest, schema, compression="zstd", use_dictionary=_dictionary_columns(schema)
        )
    else:
        import pyarrow.csv as pacsv

        schema = _plain_schema(schema)
        writer = pacsv.CSVWriter(dest, schema)
    with writer:
        for part in parts:
            # One part at a time: memory stays at one chunk however many parts there are.
            table = pq.read_table(part).replace_schema_metadata(None)
            if table.schema != schema:
                table = table.cast(schema)
            writer.write_table(table)
            rows += table.num_rows
    return rows


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns worth dictionary-encoding: not floats (scores, probabilities), whose values are
    nearly all distinct, so the encoder's attempt only costs time (2-3x the write)."""
    import pyarrow as pa

    return [f.name for f in schema if not pa.types.is_floating(f.type)]


def _plain_schema(schema: pa.Schema) -> pa.Schema:
    """Dictionary columns decoded: CSV holds values, not codes."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f
            for f in schema
        ]
    )
