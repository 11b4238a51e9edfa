"""Request–response logging: sampled predictions appended as Parquet files.

Servers never hold the DuckDB warehouse open; they buffer logged rows and write a Parquet file
per flush (to a temp name, then renamed), so a server killed mid-write leaves every finished
file readable and no partial one visible. The warehouse reads them all as the view
`prediction_log`: time, endpoint, deployed model, model, request id, instance, prediction
(both JSON text) and latency.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pmle.errors import InvalidInput

VIEW = "prediction_log"
FLUSH_ROWS = 2000
FLUSH_SECONDS = 1.0


def schema() -> Any:
    """The columns of a log file."""
    import pyarrow as pa

    return pa.schema(
        [
            ("time", pa.timestamp("us", tz="UTC")),
            ("endpoint", pa.string()),
            ("deployed_model_id", pa.string()),
            ("model", pa.string()),
            ("request_id", pa.string()),
            ("instance", pa.string()),
            ("prediction", pa.string()),
            ("latency_ms", pa.float64()),
        ]
    )


def log_view(directory: Path) -> list[tuple[str, str]]:
    """The warehouse view over the log files. An empty file with the columns sits among them
    (in `_schema/`), so the view exists, with no rows, before anything is logged."""
    empty = directory / "_schema" / "empty.parquet"
    if not empty.is_file():
        import pyarrow.parquet as pq

        from pmle._util import atomic_write

        try:
            with atomic_write(empty) as fh:
                pq.write_table(schema().empty_table(), fh)
        except OSError:  # a read-only workspace: the view appears with the first log file
            if not any(directory.glob("*/*.parquet")):
                return []
    return [(VIEW, str(directory / "*" / "*.parquet"))]


#: the most log files one `traffic` call reads (about a millisecond each)
TRAFFIC_MAX_FILES = 600


@dataclass(frozen=True)
class Traffic:
    """Logged requests per time bucket and deployed model (see :func:`traffic`)."""

    rows: list[dict[str, Any]]
    since: datetime  # the rows cover the logged requests from here on
    files: int  # log files written in the window asked for
    files_read: int  # of which the newest ones were read

    @property
    def complete(self) -> bool:
        """Whether every log file of the window was read."""
        return self.files_read == self.files


def traffic(
    directory: Path,
    endpoint: str,
    *,
    since: datetime,
    bucket_s: int = 60,
    max_files: int = TRAFFIC_MAX_FILES,
) -> Traffic:
    """The logged requests of `endpoint` from `since` on, per time bucket of `bucket_s` seconds
    and deployed model: `time` (the bucket's start, UTC), `deployed_model_id`, `requests`,
    `rows` and the median / 99th percentile request latency in ms. These count the *logged*
    requests only: the share the endpoint's sampling rate kept.

    Only the files written since `since` are read (their names carry the time they were
    written), at most the newest `max_files` of them; when there are more, the result starts
    later (`Traffic.since`) and covers that shorter window completely."""
    import duckdb

    from pmle.storage.warehouse import quote_literal

    if bucket_s < 1:
        raise InvalidInput(f"bucket_s must be at least 1, got {bucket_s}")
    if max_files < 1:
        raise InvalidInput(f"max_files must be at least 1, got {max_files}")
    start = (since if since.tzinfo is not None else since.replace(tzinfo=UTC)).astimezone(UTC)
    first = (start - timedelta(seconds=1)).strftime("%Y%m%dT%H%M%S")
    folder = directory / endpoint
    found = (
        [f for f in sorted(folder.glob("part-*.parquet")) if f.name[5:20] >= first]
        if folder.is_dir()
        else []
    )
    files = found[-max_files:]
    if len(files) < len(found):
        # A file holds rows logged up to the second in its name: after the newest file left
        # out, every row is in the files read.
        written = datetime.strptime(found[-max_files - 1].name[5:20], "%Y%m%dT%H%M%S")
        start = max(start, written.replace(tzinfo=UTC) + timedelta(seconds=1))
    if not files:
        return Traffic([], start, 0, 0)
    listed = ", ".join(quote_literal(str(f)) for f in files)
    sql = f"""
        WITH r AS (
            SELECT deployed_model_id, time, count(*) AS n, max(latency_ms) AS ms
            FROM read_parquet([{listed}])
            WHERE endpoint = $endpoint AND time >= $start
            GROUP BY deployed_model_id, request_id, time
        )
        SELECT floor(epoch(time) / $bucket) * $bucket AS bucket, deployed_model_id,
               count(*) AS requests, sum(n) AS rows,
               quantile_cont(ms, 0.5) AS p50, quantile_cont(ms, 0.99) AS p99
        FROM r GROUP BY ALL ORDER BY bucket, deployed_model_id
    """
    con = duckdb.connect()
    try:
        rows = con.execute(
            sql, {"endpoint": endpoint, "start": start, "bucket": int(bucket_s)}
        ).fetchall()
    finally:
        con.close()
    return Traffic(
        [
            {
                "time": datetime.fromtimestamp(float(b), UTC),
                "deployed_model_id": dm,
                "requests": int(n),
                "rows": int(r),
                "latency_p50_ms": float(p50),
                "latency_p99_ms": float(p99),
            }
            for b, dm, n, r, p50, p99 in rows
        ],
        start,
        len(found),
        len(files),
    )


class RequestLogger:
    """Buffers sampled request–response rows and appends them as Parquet files."""

    def __init__(
        self,
        directory: Path,
        *,
        flush_rows: int = FLUSH_ROWS,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self.directory = directory
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self._rows: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self._seq = 0
        self._last_flush = time.monotonic()
        self._random = random.Random()

    def sampled(self, rate: float) -> bool:
        """Whether to log this request at a sampling rate in [0, 1]."""
        return rate >= 1.0 or (rate > 0.0 and self._random.random() < rate)

    def add(
        self,
        *,
        endpoint: str,
        deployed_model_id: str,
        model: str,
        request_id: str,
        instances: list[Any],
        predictions: list[Any],
        latency_ms: float,
    ) -> None:
        """Buffer one request's rows (one per instance)."""
        import orjson

        now = time.time()
        rows = [
            (
                now,
                endpoint,
                deployed_model_id,
                model,
                request_id,
                orjson.dumps(inst, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
                orjson.dumps(pred, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
                latency_ms,
            )
            for inst, pred in zip(instances, predictions, strict=False)
        ]
        with self._lock:
            self._rows.extend(rows)

    def due(self) -> bool:
        """Whether a flush is due (enough rows, or rows waiting long enough)."""
        with self._lock:
            if not self._rows:
                return False
            return (
                len(self._rows) >= self.flush_rows
                or time.monotonic() - self._last_flush >= self.flush_seconds
            )

    def flush(self) -> Path | None:
        """Write the buffered rows as Parquet files (one per endpoint); the last path written."""
        with self._lock:
            rows, self._rows = self._rows, []
            self._last_flush = time.monotonic()
        if not rows:
            return None
        by_endpoint: dict[str, list[tuple[Any, ...]]] = {}
        for r in rows:
            by_endpoint.setdefault(r[1], []).append(r)
        last = None
        for endpoint, part in by_endpoint.items():
            last = self._write(endpoint, part)
        return last

    def _write(self, endpoint: str, rows: list[tuple[Any, ...]]) -> Path:
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = list(zip(*rows, strict=True))
        cols[0] = tuple(int(t * 1_000_000) for t in cols[0])  # seconds → microseconds
        columns = schema()
        table = pa.Table.from_arrays(
            [pa.array(c, f.type) for c, f in zip(cols, columns, strict=True)], schema=columns
        )
        folder = self.directory / endpoint
        folder.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        name = f"part-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}-{self._seq:06d}"
        final = folder / f"{name}.parquet"
        tmp = folder / f".{name}.parquet.tmp"
        pq.write_table(table, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        return final
