"""The feature store benchmark's workload, shared by every side (numpy and pyarrow only: it is
imported by pmle's venv and by Feast's).

Deterministic synthetic data, written once as Parquet and read by all sides:

- a feature table ``features-{10m,1m}.parquet``: ENTITIES entities × 10 events each, in event
  time order (an event log): ``entity_id`` int64, ``event_ts`` timestamp[us, UTC] (whole
  seconds, strictly increasing per entity so "the latest event at or before t" is never a
  tie), ``amount`` / ``score`` float64, ``clicks`` / ``sessions`` int64;
- entity tables ``entities-{F}-{N}.parquet``: N rows of ``row_id`` int64 (0…N-1, the row's
  position), ``entity_id`` (≈ 2 % of them never seen in the features), ``event_timestamp``
  timestamp[us, UTC] over the feature window plus the TTL, in random order, unique per
  (entity_id, event_timestamp) (Feast's file store deduplicates on that pair).

Features are valid for TTL_S (14 days): about 28 % of the rows find no event in the 14 days
before their time (2 % name an unknown entity), so the join's null paths are exercised.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SEED = 10
EVENTS_PER_ENTITY = 10
START_S = 1_735_689_600  # 2025-01-01 00:00 UTC
SPAN_S = 90 * 86_400  # the feature events fall in 90 days
TTL_S = 14 * 86_400
UNKNOWN_SHARE = 0.02  # entity rows naming an entity with no feature rows
FEATURES = ["amount", "score", "clicks", "sessions"]
VIEW = "activity"  # the feature view's name on every side
ENTITY = "user"
KEY = "entity_id"
FEATURE_TS = "event_ts"
ENTITY_TS = "event_timestamp"

#: feature table size → entities (× EVENTS_PER_ENTITY rows)
FEATURE_SIZES = {"1m": 100_000, "10m": 1_000_000}
#: entity table sizes
ENTITY_SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
#: the cases run by default: (feature size, entity size, sides)
CASES = [
    ("1m", "10k", ("pmle", "duckdb", "feast")),
    ("1m", "100k", ("pmle", "duckdb", "feast")),
    ("10m", "100k", ("pmle", "duckdb", "feast")),
    ("10m", "1m", ("pmle", "duckdb", "feast")),
]

PARQUET = {"compression": "zstd", "row_group_size": 128 * 1024}  # as pmle stores datasets


def feature_path(data: Path, fsize: str) -> Path:
    return data / f"features-{fsize}.parquet"


def entity_path(data: Path, fsize: str, esize: str) -> Path:
    return data / f"entities-{fsize}-{esize}.parquet"


def make_features(n_entities: int, seed: int = SEED) -> Any:
    """The feature table as an Arrow table (event time order)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    e = EVENTS_PER_ENTITY
    offsets = np.sort(rng.integers(0, SPAN_S - e, size=(n_entities, e)), axis=1)
    offsets += np.arange(e)  # strictly increasing within an entity
    ids = np.repeat(np.arange(n_entities, dtype=np.int64), e)
    ts = (START_S + offsets.ravel()).astype(np.int64)
    order = np.argsort(ts, kind="stable")
    n = n_entities * e
    cols = {
        KEY: ids[order],
        FEATURE_TS: pa.array(ts[order] * 1_000_000, pa.timestamp("us", tz="UTC")),
        "amount": np.round(rng.gamma(2.0, 30.0, n), 2)[order],
        "score": rng.random(n)[order],
        "clicks": rng.poisson(4.0, n).astype(np.int64)[order],
        "sessions": rng.integers(0, 1000, n, dtype=np.int64)[order],
    }
    return pa.table(cols)


def make_entities(n_rows: int, n_entities: int, seed: int) -> Any:
    """An entity table of `n_rows` rows (random order) over `n_entities` known entities."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    top = int(n_entities / (1 - UNKNOWN_SHARE))
    ids = rng.integers(0, top, n_rows, dtype=np.int64)
    ts = START_S + rng.integers(0, SPAN_S + TTL_S, n_rows, dtype=np.int64)
    # unique (entity_id, event_timestamp): bump the later duplicates by a second until none
    while True:
        key = ids * (1 << 30) + (ts - START_S)
        _, first = np.unique(key, return_index=True)
        if len(first) == n_rows:
            break
        dup = np.ones(n_rows, bool)
        dup[first] = False
        ts[dup] += 1
    return pa.table(
        {
            "row_id": np.arange(n_rows, dtype=np.int64),
            KEY: ids,
            ENTITY_TS: pa.array(ts * 1_000_000, pa.timestamp("us", tz="UTC")),
        }
    )


def ensure_data(data: Path, fsizes: list[str], cases: list[tuple[str, str]]) -> dict[str, Any]:
    """Write the Parquet files that are missing; returns what each holds."""
    import pyarrow.parquet as pq

    data.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {}
    for fsize in fsizes:
        path = feature_path(data, fsize)
        if not path.exists():
            started = time.perf_counter()
            table = make_features(FEATURE_SIZES[fsize])
            tmp = path.with_suffix(".tmp")
            pq.write_table(table, tmp, **PARQUET)
            tmp.rename(path)
            log(
                "data",
                f"{path.name}: {table.num_rows:,} rows in {time.perf_counter() - started:.1f} s",
            )
        out[path.name] = {
            "rows": pq.ParquetFile(path).metadata.num_rows,
            "bytes": path.stat().st_size,
        }
    for fsize, esize in cases:
        path = entity_path(data, fsize, esize)
        if not path.exists():
            seed = (
                SEED + 1 + list(ENTITY_SIZES).index(esize) + 10 * list(FEATURE_SIZES).index(fsize)
            )
            table = make_entities(ENTITY_SIZES[esize], FEATURE_SIZES[fsize], seed)
            tmp = path.with_suffix(".tmp")
            pq.write_table(table, tmp, **PARQUET)
            tmp.rename(path)
        out[path.name] = {
            "rows": pq.ParquetFile(path).metadata.num_rows,
            "bytes": path.stat().st_size,
        }
    return out


# -- what every side's process does -----------------------------------------------------------


def log(side: str, message: str) -> None:
    print(f"[{side}] {message}", file=sys.stderr, flush=True)


def rss_mib() -> float:
    """This process's resident memory now."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (ru_maxrss, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], Any], reps: int) -> tuple[list[float], Any]:
    """Seconds of each of `reps` calls of `fn`, and the last call's result."""
    times = []
    result = None
    for _ in range(reps):
        result = None  # let the previous result go before the next call
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return times, result


def summary(times: list[float]) -> dict[str, Any]:
    return {
        "times_s": times,
        "median_s": statistics.median(times),
        "best_s": min(times),
        "first_s": times[0],
    }


def write_result(table: Any, path: Path) -> None:
    """A side's answer, sorted by row_id, for bench.py's comparison."""
    import pyarrow.parquet as pq

    table = table.select(["row_id", *FEATURES]).sort_by("row_id")
    pq.write_table(table, path, compression="zstd")


def emit(result: dict[str, Any]) -> None:
    """The side's result: one JSON line on stdout (bench.py reads the last one)."""
    result["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(result), flush=True)


def threads() -> int:
    return int(os.environ.get("BENCH_THREADS", "0"))
