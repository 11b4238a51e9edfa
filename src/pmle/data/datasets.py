"""Versioned datasets.

A dataset version is an immutable Parquet file in the artifact store. Its identity is the hash
of its content (the Arrow IPC stream of the table), so importing the same content again returns
the existing version and a change makes a new one. Each version keeps its schema and column
statistics, and its import is recorded in the lineage graph.
"""

from __future__ import annotations

import builtins
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle._util import as_utc, check_name, parse_ref, utcnow
from pmle.data.schema import Column, infer_schema
from pmle.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from sqlalchemy import Connection

    from pmle.data.sources import Loaded
    from pmle.workspace import Workspace

ARTIFACT_TYPE = "Dataset"


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a dataset."""

    name: str
    version: int
    content_hash: str
    artifact_key: str
    num_rows: int
    num_bytes: int
    columns: list[Column]
    stats: dict[str, Any]
    source: str
    created_at: datetime
    lineage_artifact_id: int | None
    description: str = ""
    #: True when this call created the version, False when the content was already stored.
    new: bool = field(default=False, compare=False)

    @property
    def ref(self) -> str:
        """`NAME@VERSION`."""
        return f"{self.name}@{self.version}"

    def column(self, name: str) -> Column:
        """One column of the schema."""
        for c in self.columns:
            if c.name == name:
                return c
        raise NotFound(
            f"{self.ref} has no column {name!r}",
            hint=f"columns: {', '.join(c.name for c in self.columns)}",
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (without the full statistics)."""
        return {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "rows": self.num_rows,
            "bytes": self.num_bytes,
            "content_hash": self.content_hash,
            "source": self.source,
            "created_at": self.created_at.isoformat(),
            "schema": [c.to_dict() for c in self.columns],
        }


@dataclass(frozen=True)
class DatasetSummary:
    """A dataset and its newest version, for listings."""

    name: str
    versions: int
    latest: int
    rows: int
    columns: int
    description: str
    updated_at: datetime


def content_hash(table: pa.Table) -> str:
    """Hash of a table's logical content: column names, types, null positions and values.

    Independent of chunking, buffer layout and the file or library the table came from."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as pt

    h = hashlib.sha256(b"pmle-table-v1")
    h.update(str(table.num_rows).encode())
    for name, column in zip(table.column_names, table.columns, strict=True):
        arr = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        typ = arr.type
        h.update(f"\x00{name}\x00{typ}\x00".encode())
        if arr.null_count:
            h.update(np.packbits(arr.is_valid().to_numpy(zero_copy_only=False)).tobytes())
        if pt.is_string(typ) or pt.is_binary(typ):
            filled = arr.fill_null("" if pt.is_string(typ) else b"")
            lengths = pc.binary_length(filled).to_numpy(zero_copy_only=False)
            h.update(lengths.astype(np.int64).tobytes())
            offsets = np.frombuffer(filled.buffers()[1], dtype=np.int32)[
                filled.offset : filled.offset + len(filled) + 1
            ]
            data = filled.buffers()[2]
            if data is not None and len(offsets):
                h.update(memoryview(data)[int(offsets[0]) : int(offsets[-1])])
        elif pt.is_boolean(typ) or pt.is_integer(typ) or pt.is_floating(typ) or pt.is_temporal(typ):
            if pt.is_temporal(typ):
                arr = arr.view(pa.int64() if typ.bit_width == 64 else pa.int32())
            zero = False if pt.is_boolean(typ) else 0
            values = arr.fill_null(zero).to_numpy(zero_copy_only=False)
            h.update(np.ascontiguousarray(values).tobytes())
        else:  # nested and rare types: their IPC bytes (stable enough for these)
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, pa.schema([pa.field(name, typ)])) as writer:
                writer.write_batch(pa.record_batch([arr], names=[name]))
            h.update(sink.getvalue())
    return h.hexdigest()


def normalize(table: pa.Table) -> pa.Table:
    """One Arrow type per kind of data, so the same content hashes the same from any source.

    Large / view string and binary types become the plain ones, dictionary columns are decoded,
    and schema metadata (pandas' index notes) is dropped."""
    import pyarrow as pa
    import pyarrow.types as pt

    fields = []
    for f in table.schema:
        typ = f.type
        if pt.is_dictionary(typ):
            typ = typ.value_type
        if pt.is_large_string(typ) or pt.is_string_view(typ):
            typ = pa.string()
        elif pt.is_large_binary(typ) or pt.is_binary_view(typ):
            typ = pa.binary()
        fields.append(pa.field(f.name, typ))
    target = pa.schema(fields)
    if target != table.schema.remove_metadata():
        table = table.cast(target)
    return table.replace_schema_metadata(None)


class Datasets:
    """The datasets of a workspace (``ws.datasets``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    # -- import ---------------------------------------------------------------------------------

    def import_(
        self,
        name: str,
        source: str | os.PathLike[str] | Any,
        *,
        format: str | None = None,
        description: str = "",
        **read_options: Any,
    ) -> DatasetVersion:
        """Import a file (CSV, Parquet, JSON Lines) or a pandas / Polars / Arrow table.

        Returns the new version, or the existing one when the content is unchanged
        (``version.new`` tells which)."""
        from pmle.data import sources

        check_name(name, "dataset name")
        if isinstance(source, (str, os.PathLike)):
            loaded = sources.read_file(source, format=format, **read_options)
        else:
            if format is not None or read_options:
                raise InvalidInput("format and reader options apply to files only")
            loaded = sources.from_object(source)
        return self._store(name, loaded, description)

    def import_sql(self, name: str, query: str, *, description: str = "") -> DatasetVersion:
        """Import the result of a SQL query over the warehouse (datasets are views there)."""
        from pmle.data.sources import Loaded

        check_name(name, "dataset name")
        if not query.strip():
            raise InvalidInput("empty SQL query")
        table = self._ws.warehouse.query_arrow(query, read_only=False)
        if table.num_columns == 0:
            raise InvalidInput("the query returned no columns", hint="use a SELECT statement")
        return self._store(name, Loaded(table, f"sql: {query.strip()}", None, "Query"), description)

    def import_derived(
        self,
        name: str,
        table: pa.Table,
        *,
        source: str,
        inputs: Sequence[tuple[int, str]],
        execution: tuple[str, dict[str, Any]],
        description: str = "",
    ) -> DatasetVersion:
        """Store a table another capability computed (e.g. a point-in-time training set), with
        its lineage: the execution that made it and the artifacts it read (`(id, role)`)."""
        from pmle.data.sources import Loaded

        check_name(name, "dataset name")
        loaded = Loaded(table, source, None, execution[0])
        return self._store(name, loaded, description, inputs=inputs, execution=execution)

    def _store(
        self,
        name: str,
        loaded: Loaded,
        description: str,
        *,
        inputs: Sequence[tuple[int, str]] = (),
        execution: tuple[str, dict[str, Any]] | None = None,
    ) -> DatasetVersion:
        import pyarrow.parquet as pq

        from pmle.data.stats import compute_stats

        table = normalize(loaded.table)
        _check_columns(table)
        digest = content_hash(table)
        existing = self._find_by_hash(name, digest)
        if existing is not None:
            return existing
        stats = compute_stats(table)
        schema = infer_schema(table, stats)
        store = self._ws.artifacts
        tmp = store.temp_path(".parquet")
        try:
            pq.write_table(table, tmp, compression="zstd", row_group_size=128 * 1024)
            num_bytes = tmp.stat().st_size
            key = store.put_moved(tmp)
        finally:
            tmp.unlink(missing_ok=True)
        with self._ws.engine.begin() as conn:
            return self._insert_version(
                conn,
                name,
                digest,
                key,
                table.num_rows,
                num_bytes,
                schema,
                stats,
                loaded,
                description,
                inputs=inputs,
                execution=execution,
            )

    def _insert_version(
        self,
        conn: Connection,
        name: str,
        digest: str,
        key: str,
        num_rows: int,
        num_bytes: int,
        schema: list[Column],
        stats: dict[str, Any],
        loaded: Loaded,
        description: str,
        *,
        inputs: Sequence[tuple[int, str]] = (),
        execution: tuple[str, dict[str, Any]] | None = None,
    ) -> DatasetVersion:
        import sqlalchemy as sa

        from pmle.storage import schema as t

        now = utcnow()
        dataset_id = conn.execute(
            sa.select(t.datasets.c.id).where(t.datasets.c.name == name)
        ).scalar()
        if dataset_id is None:
            dataset_id = conn.execute(
                t.datasets.insert().values(name=name, description=description, created_at=now)
            ).inserted_primary_key[0]  # type: ignore[index]
        elif description:
            conn.execute(
                t.datasets.update()
                .where(t.datasets.c.id == dataset_id)
                .values(description=description)
            )
        # Another process may have stored the same content since we looked: reuse it.
        row = conn.execute(
            self._select().where(
                t.dataset_versions.c.dataset_id == dataset_id,
                t.dataset_versions.c.content_hash == digest,
            )
        ).first()
        if row is not None:
            return _version(row)
        version = (
            conn.execute(
                sa.select(sa.func.max(t.dataset_versions.c.version)).where(
                    t.dataset_versions.c.dataset_id == dataset_id
                )
            ).scalar()
            or 0
        ) + 1
        lineage = self._ws.lineage
        ref = f"{name}@{version}"
        artifact_id = lineage.add_artifact(
            conn,
            ARTIFACT_TYPE,
            ref,
            f"pmle://datasets/{name}/versions/{version}",
            {"rows": num_rows, "content_hash": digest, "artifact_key": key},
        )
        edges = list(inputs)
        if loaded.uri is not None and not edges:
            source_id = lineage.add_artifact(conn, loaded.kind, Path(loaded.uri).name, loaded.uri)
            edges.append((source_id, "source"))
        exec_type, exec_props = execution or ("Import", {"source": loaded.source})
        lineage.record_execution(
            conn,
            exec_type,
            name=f"{exec_type.lower()} {ref}",
            inputs=edges,
            outputs=[(artifact_id, "dataset")],
            properties=exec_props,
        )
        conn.execute(
            t.dataset_versions.insert().values(
                dataset_id=dataset_id,
                version=version,
                content_hash=digest,
                artifact_key=key,
                num_rows=num_rows,
                num_bytes=num_bytes,
                schema=[c.to_dict() for c in schema],
                stats=stats,
                source=loaded.source,
                lineage_artifact_id=artifact_id,
                created_at=now,
            )
        )
        return DatasetVersion(
            name,
            version,
            digest,
            key,
            num_rows,
            num_bytes,
            schema,
            stats,
            loaded.source,
            now,
            artifact_id,
            description,
            new=True,
        )

    # -- reading --------------------------------------------------------------------------------

    @staticmethod
    def _select() -> Any:
        import sqlalchemy as sa

        from pmle.storage import schema as t

        dv, d = t.dataset_versions, t.datasets
        return sa.select(dv, d.c.name, d.c.description).join(d, d.c.id == dv.c.dataset_id)

    def _find_by_hash(self, name: str, digest: str) -> DatasetVersion | None:
        from pmle.storage import schema as t

        with self._ws.engine.connect() as conn:
            row = conn.execute(
                self._select().where(
                    t.datasets.c.name == name, t.dataset_versions.c.content_hash == digest
                )
            ).first()
        return None if row is None else _version(row)

    def get(self, ref: str) -> DatasetVersion:
        """`NAME` (newest version), `NAME@VERSION` or `NAME@latest`."""
        from pmle.storage import schema as t

        r = parse_ref(ref)
        if r.alias is not None and r.alias != "latest":
            raise InvalidInput(
                f"datasets have versions, not aliases: {ref!r}",
                hint=f"write {r.name} or {r.name}@VERSION",
            )
        dv = t.dataset_versions
        q = self._select().where(t.datasets.c.name == r.name)
        q = q.where(dv.c.version == r.version) if r.version else q.order_by(dv.c.version.desc())
        with self._ws.engine.connect() as conn:
            row = conn.execute(q.limit(1)).first()
        if row is None:
            existing = [v.version for v in self._versions(r.name)]
            if existing:
                raise NotFound(
                    f"dataset {r.name} has no version {r.version}",
                    hint=f"versions: {', '.join(map(str, existing))}",
                )
            names = [s.name for s in self.list()]
            raise NotFound(
                f"no dataset named {r.name!r}",
                hint=("datasets: " + ", ".join(names[:10]))
                if names
                else "import one with `pmle data import NAME FILE`",
            )
        return _version(row)

    def _versions(self, name: str) -> list[DatasetVersion]:
        from pmle.storage import schema as t

        q = self._select().where(t.datasets.c.name == name).order_by(t.dataset_versions.c.version)
        with self._ws.engine.connect() as conn:
            return [_version(r) for r in conn.execute(q)]

    def versions(self, name: str) -> list[DatasetVersion]:
        """Every version of a dataset, oldest first."""
        out = self._versions(check_name(name, "dataset name"))
        if not out:
            self.get(name)  # raises NotFound with a hint
        return out

    def list(self) -> list[DatasetSummary]:
        """Every dataset with its newest version."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        dv, d = t.dataset_versions, t.datasets
        latest = (
            sa.select(
                dv.c.dataset_id,
                sa.func.max(dv.c.version).label("latest"),
                sa.func.count().label("n"),
            )
            .group_by(dv.c.dataset_id)
            .subquery()
        )
        q = (
            sa.select(
                d.c.name,
                d.c.description,
                latest.c.latest,
                latest.c.n,
                dv.c.num_rows,
                dv.c.schema,
                dv.c.created_at,
            )
            .join(latest, latest.c.dataset_id == d.c.id)
            .join(dv, sa.and_(dv.c.dataset_id == d.c.id, dv.c.version == latest.c.latest))
            .order_by(d.c.name)
        )
        with self._ws.engine.connect() as conn:
            return [
                DatasetSummary(
                    r.name,
                    r.n,
                    r.latest,
                    r.num_rows,
                    len(r.schema),
                    r.description,
                    as_utc(r.created_at),
                )
                for r in conn.execute(q)
            ]

    def path(self, ref: str | DatasetVersion) -> Path:
        """The Parquet file of a version (read-only: it is shared and content-addressed)."""
        dv = ref if isinstance(ref, DatasetVersion) else self.get(ref)
        return self._ws.artifacts.path(dv.artifact_key)

    def to_arrow(self, ref: str | DatasetVersion) -> pa.Table:
        """A version as an Arrow table."""
        import pyarrow.parquet as pq

        return pq.read_table(self.path(ref))

    def to_pandas(self, ref: str | DatasetVersion) -> pd.DataFrame:
        """A version as a pandas DataFrame."""
        return self.to_arrow(ref).to_pandas()

    def views(self) -> builtins.list[tuple[str, str]]:
        """`(view, parquet path)` for the warehouse: `name` (newest) and `name@V` per version."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        dv, d = t.dataset_versions, t.datasets
        q = (
            sa.select(d.c.name, dv.c.version, dv.c.artifact_key)
            .join(dv, dv.c.dataset_id == d.c.id)
            .order_by(d.c.name, dv.c.version)
        )
        out: builtins.list[tuple[str, str]] = []
        latest: dict[str, str] = {}
        with self._ws.engine.connect() as conn:
            for name, version, key in conn.execute(q):
                path = str(self._ws.artifacts.path(key))
                out.append((f"{name}@{version}", path))
                latest[name] = path
        out.extend(latest.items())
        return out

    # -- splitting ------------------------------------------------------------------------------

    def split(
        self,
        ref: str,
        *,
        method: str = "random",
        fractions: Sequence[float] = (0.8, 0.1, 0.1),
        seed: int = 42,
        column: str | None = None,
        prefix: str | None = None,
    ) -> dict[str, DatasetVersion]:
        """Split a version into `PREFIX_train`, `PREFIX_validation`, `PREFIX_test` datasets.

        Deterministic: the same version, method, fractions and seed give the same rows (and so
        the same dataset versions). See :mod:`pmle.data.split` for the methods."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from pmle.data import split as splitting
        from pmle.data.sources import Loaded
        from pmle.data.stats import compute_stats

        parent = self.get(ref)
        base = check_name(prefix or parent.name, "split prefix")
        table = self.to_arrow(parent)
        labels = splitting.assign(table, method, fractions, seed, column)
        fr = splitting.check_fractions(fractions)
        props = {
            "method": method,
            "fractions": list(fr),
            "seed": seed,
            "column": column,
            "parent": parent.ref,
        }
        staged: list[tuple[str, str, pa.Table, str, str, int, dict[str, Any], list[Column]]] = []
        store = self._ws.artifacts
        for index, split_name in enumerate(splitting.SPLITS):
            part = table.filter(pa.array(labels == index))
            if part.num_rows == 0 and fr[index] == 0:
                continue
            if part.num_rows == 0:
                raise InvalidInput(
                    f"the {split_name} split of {parent.ref} would be empty",
                    hint="use other fractions, or a different column",
                )
            stats = compute_stats(part)
            tmp = store.temp_path(".parquet")
            try:
                pq.write_table(part, tmp, compression="zstd", row_group_size=128 * 1024)
                size = tmp.stat().st_size
                key = store.put_moved(tmp)
            finally:
                tmp.unlink(missing_ok=True)
            staged.append(
                (
                    split_name,
                    f"{base}_{split_name}",
                    part,
                    content_hash(part),
                    key,
                    size,
                    stats,
                    infer_schema(part, stats),
                )
            )
        out: dict[str, DatasetVersion] = {}
        source = f"split of {parent.ref} ({method})"
        with self._ws.engine.begin() as conn:
            inputs = [(parent.lineage_artifact_id, "dataset")] if parent.lineage_artifact_id else []
            for split_name, name, part, digest, key, size, stats, schema in staged:
                out[split_name] = self._insert_version(
                    conn,
                    name,
                    digest,
                    key,
                    part.num_rows,
                    size,
                    schema,
                    stats,
                    Loaded(part, source, None, "Split"),
                    "",
                    inputs=inputs,
                    execution=("Split", {**props, "split": split_name}),
                )
        return out


def _check_columns(table: pa.Table) -> None:
    names = table.column_names
    if not names:
        raise InvalidInput("the data has no columns")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidInput(f"duplicate column names: {', '.join(dupes)}")
    if any(not n or not n.strip() for n in names):
        raise InvalidInput("a column has an empty name", hint="give every column a header")


def _version(row: Any) -> DatasetVersion:
    return DatasetVersion(
        name=row.name,
        version=row.version,
        content_hash=row.content_hash,
        artifact_key=row.artifact_key,
        num_rows=row.num_rows,
        num_bytes=row.num_bytes,
        columns=[Column(**c) for c in row.schema],
        stats=row.stats,
        source=row.source,
        created_at=as_utc(row.created_at),
        lineage_artifact_id=row.lineage_artifact_id,
        description=row.description,
    )
