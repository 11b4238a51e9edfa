"""The Ray runner of batch prediction: the chunks and part files of the local runner, predicted
by a pool of Ray Data actors that each load the model once.

```python
batch_predict(ws, "churn@champion", "customers.csv", "scored.parquet", runner="ray")
```

How it runs (`predict_parts`, called by `pmle.serving.batch.batch_predict`, which resolves the
input and output, holds the staging folder and writes the output and its lineage as it does for
the local runner):

- A Ray Data read stage streams the input with batch_io's chunked reader — the same pinned column
  types, CSV delimiter and chunk boundaries as the local runner — skips the chunks an earlier run
  finished, and tags each row with its chunk, its position in the chunk and the chunk's size.
  (Ray's `read_csv` / `read_json` would guess types on their own and cut blocks elsewhere; they
  read one file in one task too, so nothing is lost by reading it this way.)
- `map_batches` hands the blocks to an actor pool of up to one actor per CPU; each actor
  loads the model folder once and appends the prediction columns with `PredictionColumns.add`,
  so columns and values are those of the local runner.
- The driver regroups the rows of each chunk as blocks come back (in any order) and writes the
  chunk as `part-NNNNNN.parquet` by temp file and rename, like the local runner. A killed run
  leaves only whole parts and a rerun predicts only the others — with either runner, since the
  parts are the same.

Ray is started locally for the call (small object store) unless a Ray session is already running
or `$RAY_ADDRESS` names a cluster. On a cluster the input, the model folder and the staging folder
are used by path: every node must see the workspace and the files at the same paths.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import PmleError

if TYPE_CHECKING:
    import pyarrow as pa

#: Columns the read stage adds so that the driver can put each chunk back together.
CHUNK = "__pmle_chunk__"
ROW = "__pmle_row__"
SIZE = "__pmle_chunk_rows__"
TAGS = [CHUNK, ROW, SIZE]

Progress = Callable[[int, int | None], None]


def predict_parts(
    path: Path,
    fmt: str,
    forced: dict[str, pa.DataType],
    model_dir: Path,
    chunk_rows: int,
    staging: Path,
    *,
    total_rows: int | None = None,
    progress: Progress | None = None,
) -> tuple[int, int, int]:
    """Write every missing part of the input into `staging`; (rows, chunks, chunks skipped)."""
    from pmle.compute.ray_runtime import ray_session
    from pmle.serving.batch_io import part_path, part_rows

    finished = finished_parts(staging)
    with ray_session("batch prediction with runner='ray'") as ray:
        from ray.data import ActorPoolStrategy, DataContext

        context = DataContext.get_current()
        bars = context.enable_progress_bars
        # The caller draws its own progress; Ray's bars would interleave with it.
        context.enable_progress_bars = False
        actors = max(1, int(ray.cluster_resources().get("CPU", 1)))
        try:
            # One item, no read task: `range` would ask a CPU the actors may all hold.
            ds = ray.data.from_items([{"input": str(path)}]).map_batches(
                read_chunks,
                batch_size=1,
                batch_format="pyarrow",
                fn_kwargs={
                    "path": str(path),
                    "fmt": fmt,
                    "chunk_rows": chunk_rows,
                    "forced": forced,
                    "finished": finished,
                },
                # One long streaming task: reserving a core for it would idle a predictor.
                num_cpus=0,
            )
            ds = ds.map_batches(
                Predictor,
                fn_constructor_args=(str(model_dir),),
                batch_size=None,  # whole blocks: a block is one chunk or a slice of a few
                batch_format="pyarrow",
                # Grows with the backlog: a small input starts one model process, not one per CPU.
                compute=ActorPoolStrategy(min_size=1, max_size=actors),
                num_cpus=1,
            )
            blocks = ds.iter_batches(batch_size=None, batch_format="pyarrow")
            try:
                written = write_parts(
                    blocks,
                    staging,
                    done=sum(finished.values()),
                    total=total_rows,
                    progress=progress,
                )
            finally:
                # On an error, stop the read task and the actors now rather than at collection.
                close = getattr(blocks, "close", None)
                if close is not None:
                    close()
        except Exception as exc:
            cause = pmle_cause(exc)
            if cause is None:
                raise
            raise cause from None  # the reader's own message, not Ray's task traceback
        finally:
            context.enable_progress_bars = bars
    # Every chunk now has its part: count them from the first.
    chunks = rows = 0
    while (part := part_path(staging, chunks)).is_file():
        rows += part_rows(part) or 0
        chunks += 1
    return rows, chunks, chunks - written


def finished_parts(staging: Path) -> dict[int, int]:
    """Chunk index → rows of each readable part already in the staging folder."""
    from pmle.serving.batch_io import part_rows

    found: dict[int, int] = {}
    for part in staging.glob("part-*.parquet"):
        index = part.stem.removeprefix("part-")
        rows = part_rows(part)
        if index.isdigit() and rows is not None:
            found[int(index)] = rows
    return found


def read_chunks(
    _: Any,
    *,
    path: str,
    fmt: str,
    chunk_rows: int,
    forced: dict[str, pa.DataType],
    finished: dict[int, int],
) -> Iterator[pa.Table]:
    """The read stage (a Ray task): the input's unfinished chunks, each row tagged."""
    import numpy as np
    import pyarrow as pa

    from pmle.serving.batch_io import open_reader

    reader = open_reader(Path(path), fmt, chunk_rows, forced)
    for index, chunk in enumerate(reader.chunks()):
        n = chunk.num_rows
        if finished.get(index) == n:
            continue  # predicted by an earlier run
        yield (
            chunk.append_column(CHUNK, pa.repeat(pa.scalar(index, pa.int64()), n))
            .append_column(ROW, pa.array(np.arange(n, dtype=np.int64)))
            .append_column(SIZE, pa.repeat(pa.scalar(n, pa.int64()), n))
        )


class Predictor:
    """A Ray Data actor: loads the model once, then appends predictions to each block."""

    def __init__(self, model_dir: str) -> None:
        from pmle.models.format import load_model
        from pmle.serving.batch_io import PredictionColumns

        self.columns = PredictionColumns(load_model(model_dir))

    def __call__(self, block: pa.Table) -> pa.Table:
        # The tags ride along untouched: `add` predicts from the model's input columns only.
        return self.columns.add(block)


def write_parts(
    blocks: Iterable[pa.Table],
    staging: Path,
    *,
    done: int = 0,
    total: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Regroup predicted blocks into chunks and write each complete chunk as its part; returns
    how many parts were written. Memory holds only chunks still partly in flight."""
    import numpy as np
    import pyarrow as pa

    from pmle.serving.batch_io import part_path, write_part

    pending: dict[int, list[tuple[int, pa.Table]]] = {}
    have: dict[int, int] = {}
    written = 0
    for block in blocks:
        if block.num_rows == 0:
            continue
        ids = block.column(CHUNK).to_numpy()
        # A block holds consecutive rows of the read stream: runs of one chunk each.
        cuts = [0, *(np.flatnonzero(np.diff(ids)) + 1).tolist(), len(ids)]
        for start, stop in itertools.pairwise(cuts):
            piece = block.slice(start, stop - start)
            index, first, size = (piece.column(c)[0].as_py() for c in TAGS)
            pending.setdefault(index, []).append((first, piece))
            have[index] = have.get(index, 0) + piece.num_rows
            if have[index] < size:
                continue
            # Complete: its pieces in row order, the tags dropped, as the local runner writes it.
            pieces = [p for _, p in sorted(pending.pop(index), key=lambda x: x[0])]
            del have[index]
            write_part(part_path(staging, index), pa.concat_tables(pieces).drop_columns(TAGS))
            written += 1
            done += size
            if progress is not None:
                progress(done, total)
    return written


def pmle_cause(exc: BaseException) -> PmleError | None:
    """The pmle error raised inside a Ray task, found in the exceptions Ray wraps it in."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        # Ray re-raises task errors as classes derived from the cause's (only a pmle class
        # proper is the original), and Ray Data appends retry advice to its args: rebuilt from
        # the message and hint, which survive pickling as attributes.
        if isinstance(current, PmleError) and type(current).__module__ == "pmle.errors":
            return type(current)(current.message, hint=current.hint)
        for nxt in (getattr(current, "cause", None), current.__cause__, current.__context__):
            if isinstance(nxt, BaseException):
                stack.append(nxt)
    return None


__all__ = ["Predictor", "finished_parts", "predict_parts", "read_chunks", "write_parts"]
