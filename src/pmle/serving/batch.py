"""Batch prediction: a registered model over a dataset or a file, in bounded memory, resumable.

```python
from pmle.serving.batch import batch_predict

result = batch_predict(ws, "churn@champion", "churn_test", "churn_scored")    # dataset → dataset
batch_predict(ws, "churn@2", "customers.csv", "scored.parquet", chunk_rows=50_000)
```

The input is streamed in chunks of `chunk_rows` rows. Each predicted chunk (input columns plus
`prediction` and, for classifiers, one `probability_<class>` column per class) is written to a
staging folder as `part-000123.parquet` by temp file and rename, so a killed run leaves only
finished parts. A rerun with the same model version, input and chunk size skips those parts.
At the end the parts are streamed into the output (written to a temp file and renamed, so the
output is never half-written), the run is recorded in lineage and the staging folder removed.

`runner="ray"` predicts the same chunks on a pool of Ray Data actors (`pmle.serving.batch_ray`,
extra `pmle[ray]`); parts, resume, output and lineage are those of the local runner.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from pmle.data.datasets import DatasetVersion
    from pmle.models.format import LoadedModel
    from pmle.models.registry import ModelVersion
    from pmle.serving.batch_io import ChunkReader, PredictionColumns, Source, Target
    from pmle.workspace import Workspace

#: Runners batch prediction knows: in this process, or on Ray Data actors.
RUNNERS = ("local", "ray")
EXECUTION_TYPE = "BatchPrediction"

Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class BatchPredictionResult:
    """What a batch prediction did."""

    model: str  #: the resolved model version, NAME@VERSION
    input: str  #: the dataset version (NAME@VERSION) or the file read
    output: str  #: the dataset version written (NAME@VERSION) or the file path
    output_kind: str  #: "dataset" or "file"
    rows: int
    chunks: int
    chunks_skipped: int  #: chunks found finished by an earlier, interrupted run
    seconds: float
    execution_id: int | None  #: the lineage execution (None when the model has no lineage)
    dataset: DatasetVersion | None = None

    @property
    def rows_per_second(self) -> float:
        """Throughput of this run (resumed chunks included)."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (CLI, REST API)."""
        return {
            "model": self.model,
            "input": self.input,
            "output": self.output,
            "output_kind": self.output_kind,
            "rows": self.rows,
            "chunks": self.chunks,
            "chunks_skipped": self.chunks_skipped,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "execution_id": self.execution_id,
        }


def batch_predict(
    ws: Workspace,
    model_ref: str,
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    chunk_rows: int = 100_000,
    resume: bool = True,
    progress: Progress | None = None,
    runner: str = "local",
) -> BatchPredictionResult:
    """Predict `model_ref` (`NAME`, `NAME@VERSION`, `NAME@ALIAS`) over every row of `input`.

    `input` is a dataset reference or a .parquet / .csv / .jsonl file; `output` is a .parquet or
    .csv file, or else the name of a dataset that gets a new version. With `resume`, chunks a
    killed run finished are reused. `progress(rows_done, rows_total)` is called after each chunk
    (`rows_total` is None when the input does not say, as for CSV). `runner` is "local" (this
    process) or "ray" (Ray Data actors, same parts and output; see `pmle.serving.batch_ray`)."""
    from pmle.serving.batch_io import (
        PredictionColumns,
        open_source,
        part_path,
        part_rows,
        resolve_input,
        resolve_output,
        write_part,
    )

    started = time.perf_counter()
    if runner not in RUNNERS:
        raise InvalidInput(f"unknown runner {runner!r}", hint=f"use one of {', '.join(RUNNERS)}")
    if runner == "ray":
        from pmle.compute.ray_runtime import import_ray

        import_ray("batch prediction with runner='ray'")  # fail before any work
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise InvalidInput(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    mv = ws.models.get(model_ref)  # resolved once: an alias moving mid-run changes nothing
    source = resolve_input(ws, input)
    target = resolve_output(output, source)
    model = ws.models.load(mv.ref)
    columns = PredictionColumns(model)
    reader = open_source(source, model, chunk_rows)
    _check_columns(reader, model, columns, source.label)

    key = _job_key(mv, source, target, chunk_rows)
    staging = (
        target.path.with_name(f"{target.path.name}.pmle-batch")
        if target.path is not None
        else ws.state_dir / "tmp" / "batch" / key[:24]
    )
    with _staging(staging, key, resume):
        if runner == "ray":
            from pmle.serving.batch_io import forced_types
            from pmle.serving.batch_ray import predict_parts

            rows, chunks, skipped = predict_parts(
                source.path,
                source.fmt,
                forced_types(model),
                ws.models.path(mv.ref),
                chunk_rows,
                staging,
                total_rows=reader.total_rows,
                progress=progress,
            )
        else:
            rows = chunks = skipped = 0
            for index, chunk in enumerate(reader.chunks()):
                part = part_path(staging, index)
                if part_rows(part) == chunk.num_rows:
                    skipped += 1  # finished by an earlier run
                else:
                    write_part(part, columns.add(chunk))
                chunks += 1
                rows += chunk.num_rows
                if progress is not None:
                    progress(rows, reader.total_rows)
        parts = [part_path(staging, i) for i in range(chunks)]
        schema = _output_schema(parts, reader, columns)
        props = {
            "model": mv.ref,
            "input": source.label,
            "output": target.name,
            "rows": rows,
            "chunks": chunks,
            "chunk_rows": chunk_rows,
            "chunks_skipped": skipped,
            "runner": runner,
        }
        dataset = None
        if target.kind == "file":
            assert target.path is not None
            execution_id = _finish_file(ws, mv, source, target.path, parts, schema, staging, props)
            label = str(target.path)
        else:
            dataset, execution_id = _finish_dataset(
                ws, mv, source, target.name, parts, schema, staging, props
            )
            label = dataset.ref
    return BatchPredictionResult(
        model=mv.ref,
        input=source.label,
        output=label,
        output_kind=target.kind,
        rows=rows,
        chunks=chunks,
        chunks_skipped=skipped,
        seconds=time.perf_counter() - started,
        execution_id=execution_id,
        dataset=dataset,
    )


def _check_columns(
    reader: ChunkReader, model: LoadedModel, columns: PredictionColumns, label: str
) -> None:
    names = reader.schema.names
    missing = [c for c in model.signature.input_names if c not in names]
    if missing:
        raise InvalidInput(
            f"{label} lacks the model's column(s) {', '.join(missing)}",
            hint=f"the model takes {', '.join(model.signature.input_names)}",
        )
    taken = [c for c in columns.names if c in names]
    if taken:
        raise InvalidInput(
            f"{label} already has column(s) {', '.join(taken)}, which the predictions add",
            hint=f"drop or rename them first, e.g. `pmle data import NAME --sql "
            f"'SELECT * EXCLUDE ({', '.join(taken)}) FROM …'`",
        )


def _job_key(mv: ModelVersion, source: Source, target: Target, chunk_rows: int) -> str:
    """Parts are reusable only for the same model version, input rows and chunking."""
    text = "\x00".join(
        [
            "pmle-batch-v1",
            mv.ref,
            mv.tree_key,
            source.identity,
            str(chunk_rows),
            target.kind,
            target.name,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()


@contextlib.contextmanager
def _staging(folder: Path, key: str, resume: bool) -> Iterator[None]:
    """Hold the staging folder for this job (one writer at a time); remove it on success."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # no flock (Windows): one writer is the caller's to ensure
            pass
        except BlockingIOError:
            raise Conflict(
                f"another batch prediction is writing to {folder}",
                hint="wait for it to finish, or stop it and run again",
            )
        job = folder / "job.txt"
        # Parts of another job (other model, input or chunking) or a fresh start are dropped.
        if not resume or not job.is_file() or job.read_text().strip() != key:
            for stale in folder.glob("*part-*.parquet*"):
                stale.unlink()
            job.write_text(key + "\n")
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink()  # a killed run's unfinished part
        try:
            yield
        except BaseException:
            if not any(folder.glob("part-*.parquet")):
                shutil.rmtree(folder, ignore_errors=True)  # nothing to resume from
            raise
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        os.close(fd)


def _output_schema(parts: list[Path], reader: ChunkReader, columns: PredictionColumns) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if parts:
        return pq.read_schema(parts[0]).remove_metadata()
    return pa.schema(list(reader.schema.remove_metadata()) + columns.fields)  # an empty input


# -- finishing: output and lineage ---------------------------------------------------------------


def _finish_file(
    ws: Workspace,
    mv: ModelVersion,
    source: Source,
    path: Path,
    parts: list[Path],
    schema: Any,
    staging: Path,
    props: dict[str, Any],
) -> int | None:
    from pmle.serving.batch_io import OUTPUT_SUFFIXES, combine

    tmp = staging / f".output{path.suffix}.tmp"
    combine(parts, schema, tmp, OUTPUT_SUFFIXES[path.suffix.lower()])
    os.replace(tmp, path)  # same file system: the staging folder sits beside the output
    uri = f"file://{path}"
    with ws.engine.begin() as conn:
        inputs = _lineage_inputs(ws, conn, mv, source)
        output_id = ws.lineage.add_artifact(
            conn, "File", path.name, uri, {"rows": props["rows"], "bytes": path.stat().st_size}
        )
        return ws.lineage.record_execution(
            conn,
            EXECUTION_TYPE,
            name=f"batch prediction {mv.ref} → {path.name}",
            inputs=inputs,
            outputs=[(output_id, "predictions")],
            properties=props,
        )


def _finish_dataset(
    ws: Workspace,
    mv: ModelVersion,
    source: Source,
    name: str,
    parts: list[Path],
    schema: Any,
    staging: Path,
    props: dict[str, Any],
) -> tuple[DatasetVersion, int | None]:
    """Store the combined parts as a new version of `name`, made by the BatchPrediction execution.

    Datasets.import_ would record an extra Import execution from a temp file; the split path's
    `_insert_version(..., inputs=, execution=)` records the true producer instead."""
    import pyarrow.parquet as pq
    import sqlalchemy as sa

    from pmle.data.datasets import content_hash, normalize
    from pmle.data.schema import infer_schema
    from pmle.data.sources import Loaded
    from pmle.data.stats import compute_stats
    from pmle.serving.batch_io import combine
    from pmle.storage import schema as t

    combined = staging / ".output.parquet.tmp"
    combine(parts, schema, combined, "parquet")
    # A dataset version is identified by its whole content, so this step holds the output table.
    table = normalize(pq.read_table(combined))
    digest = content_hash(table)
    datasets = ws.datasets
    dv = datasets._find_by_hash(name, digest)
    key = size = None
    if dv is None:
        stats = compute_stats(table)
        store = ws.artifacts
        tmp = store.temp_path(".parquet")
        try:
            pq.write_table(table, tmp, compression="zstd", row_group_size=128 * 1024)
            size = tmp.stat().st_size
            key = store.put_moved(tmp)
        finally:
            tmp.unlink(missing_ok=True)
    with ws.engine.begin() as conn:
        inputs = _lineage_inputs(ws, conn, mv, source)
        if dv is None:
            assert key is not None and size is not None
            dv = datasets._insert_version(
                conn,
                name,
                digest,
                key,
                table.num_rows,
                size,
                infer_schema(table, stats),
                stats,
                Loaded(table, f"batch prediction of {source.label} by {mv.ref}", None, "Frame"),
                "",
                inputs=inputs,
                execution=(EXECUTION_TYPE, props),
            )
            if dv.new:
                execution_id = conn.execute(
                    sa.select(sa.func.max(t.events.c.execution_id)).where(
                        t.events.c.artifact_id == dv.lineage_artifact_id,
                        t.events.c.type == "OUTPUT",
                    )
                ).scalar()
                return dv, execution_id
        # Same content as an existing version (a rerun): record this run against it.
        outputs = [(dv.lineage_artifact_id, "dataset")] if dv.lineage_artifact_id else []
        return dv, ws.lineage.record_execution(
            conn,
            EXECUTION_TYPE,
            name=f"batch prediction {mv.ref} → {dv.ref}",
            inputs=inputs,
            outputs=outputs,
            properties=props,
        )


def _lineage_inputs(
    ws: Workspace, conn: Connection, mv: ModelVersion, source: Source
) -> list[tuple[int, str]]:
    inputs: list[tuple[int, str]] = []
    if mv.lineage_artifact_id is not None:
        inputs.append((mv.lineage_artifact_id, "model"))
    if source.dataset is not None:
        if source.dataset.lineage_artifact_id is not None:
            inputs.append((source.dataset.lineage_artifact_id, "instances"))
    else:
        uri = f"file://{source.path}"
        inputs.append((ws.lineage.add_artifact(conn, "File", source.path.name, uri), "instances"))
    return inputs
