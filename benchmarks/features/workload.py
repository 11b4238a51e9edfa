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

Multi-view feature sets, named ``TOTAL/Kv`` (``10m/10v``: 10M feature rows in 10 views; file
tag ``10m_10v``): K views ``v0`` … ``v{K-1}`` of TOTAL / K rows each, every one over the same
entities 0…N-1 (N = TOTAL / K / 10) with 10 events each, made as above but with its own seed
and its own column names (``v{k}_ts``, ``v{k}_amount``, ``v{k}_score``, ``v{k}_clicks``,
``v{k}_sessions``), in ``views-{tag}/v{k}.parquet``. One request asks for all K × 4 features.
Their entity tables are the *dense* variant: times in the second half of the 90 days and a TTL
of DENSE_TTL_S (365 days), so nearly every known entity row has a value in every view. With the
14-day TTL Feast's file store leaves out every entity row that misses a value in ANY of the
views (most of them at K = 10), and its answer would not be the same answer (notes.md).
"""

from __future__ import annotations

import json
import os
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
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
#: the cases run by default: (feature set, entity size, sides); a feature set is a key of
#: FEATURE_SIZES (one view) or TOTAL/Kv (K views holding TOTAL rows together, dense entities)
CASES = [
    ("1m", "10k", ("pmle", "duckdb", "feast")),
    ("1m", "100k", ("pmle", "duckdb", "feast")),
    ("10m", "100k", ("pmle", "duckdb", "feast")),
    ("10m", "1m", ("pmle", "duckdb", "feast")),
    ("10m/10v", "100k", ("pmle", "duckdb", "feast")),
    ("10m/10v", "1m", ("pmle", "duckdb", "feast")),
]
DENSE_TTL_S = 365 * 86_400  # the multi-view feature sets' TTL
DTYPES = {"amount": "float64", "score": "float64", "clicks": "int64", "sessions": "int64"}

PARQUET = {"compression": "zstd", "row_group_size": 128 * 1024}  # as pmle stores datasets


@dataclass(frozen=True)
class View:
    """One feature view: its name, its file's columns, and the dataset / source name."""

    name: str
    ts: str  # the event time column
    features: tuple[str, ...]  # column names = feature names, in FEATURES' order
    dataset: str  # pmle's dataset, Feast's FileSource name
    file: str  # relative to the data folder

    def dtype(self, feature: str) -> str:
        return DTYPES[FEATURES[self.features.index(feature)]]


@dataclass(frozen=True)
class FeatureSet:
    """What a case's FEATURES part names: one view (``10m``) or K views (``10m/10v``)."""

    name: str  # as in --cases
    tag: str  # in file names
    total: str  # the key of FEATURE_SIZES it holds (rows: its entities × EVENTS_PER_ENTITY)
    entities: int  # known entities, the same in every view
    views: tuple[View, ...]
    ttl_s: int
    multi: bool  # named TOTAL/Kv: per-view column names, the dense entity rows, DENSE_TTL_S

    @property
    def rows(self) -> int:
        return FEATURE_SIZES[self.total] * EVENTS_PER_ENTITY

    @property
    def features(self) -> list[str]:
        """Every feature column of the answer, view by view."""
        return [f for v in self.views for f in v.features]

    @property
    def refs(self) -> list[str]:
        """The feature references of one request: "view:feature", every view's."""
        return [f"{v.name}:{f}" for v in self.views for f in v.features]


_MULTI = re.compile(r"^([0-9]+[km])/([0-9]+)v$")


def feature_set(name: str) -> FeatureSet:
    """The feature set a case names (ValueError when it names none)."""
    if name in FEATURE_SIZES:
        view = View(
            VIEW, FEATURE_TS, tuple(FEATURES), "activity_events", f"features-{name}.parquet"
        )
        return FeatureSet(name, name, name, FEATURE_SIZES[name], (view,), TTL_S, False)
    match = _MULTI.match(name)
    if not match or match.group(1) not in FEATURE_SIZES or int(match.group(2)) < 1:
        raise ValueError(
            f"{name!r}: a feature set is one of {list(FEATURE_SIZES)} (one view) or TOTAL/Kv "
            f"(K views holding TOTAL rows together, e.g. 10m/10v), TOTAL in {list(FEATURE_SIZES)}"
        )
    total, k = match.group(1), int(match.group(2))
    if FEATURE_SIZES[total] % k:
        raise ValueError(f"{name!r}: {FEATURE_SIZES[total]:,} entities do not split into {k} views")
    tag = f"{total}_{k}v"
    views = tuple(
        View(
            f"v{i}",
            f"v{i}_ts",
            tuple(f"v{i}_{f}" for f in FEATURES),
            f"v{i}_events",
            f"views-{tag}/v{i}.parquet",
        )
        for i in range(k)
    )
    return FeatureSet(name, tag, total, FEATURE_SIZES[total] // k, views, DENSE_TTL_S, True)


def feature_path(data: Path, fsize: str) -> Path:
    """The one-view feature table's file."""
    return data / f"features-{fsize}.parquet"


def view_path(data: Path, view: View) -> Path:
    return data / view.file


def entity_path(data: Path, fsize: str, esize: str) -> Path:
    return data / f"entities-{feature_set(fsize).tag}-{esize}.parquet"


def _seed_shift(total: str) -> int:
    """Multi-view seeds: 10M in K views uses the seeds of the scratch experiment that notes.md
    quotes (views 100_000 + 100 K + k, entities 300_000 + 10 K + len(esize)), so its data are
    the same; other totals are shifted by 10_000 per size step."""
    sizes = list(FEATURE_SIZES)
    return 10_000 * (sizes.index("10m") - sizes.index(total))


def make_features(n_entities: int, seed: int = SEED, view: View | None = None) -> Any:
    """The feature table as an Arrow table (event time order); columns named after `view`'s
    (default: the one-view table's)."""
    import numpy as np
    import pyarrow as pa

    ts_col, (amount, score, clicks, sessions) = (
        (FEATURE_TS, FEATURES) if view is None else (view.ts, view.features)
    )
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
        ts_col: pa.array(ts[order] * 1_000_000, pa.timestamp("us", tz="UTC")),
        amount: np.round(rng.gamma(2.0, 30.0, n), 2)[order],
        score: rng.random(n)[order],
        clicks: rng.poisson(4.0, n).astype(np.int64)[order],
        sessions: rng.integers(0, 1000, n, dtype=np.int64)[order],
    }
    return pa.table(cols)


def make_entities(n_rows: int, n_entities: int, seed: int, dense: bool = False) -> Any:
    """An entity table of `n_rows` rows (random order) over `n_entities` known entities; times
    over the 90 days + TTL_S, or (`dense`) over the second half of the 90 days."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    top = int(n_entities / (1 - UNKNOWN_SHARE))
    ids = rng.integers(0, top, n_rows, dtype=np.int64)
    if dense:
        half = SPAN_S // 2
        ts = START_S + half + rng.integers(0, half, n_rows, dtype=np.int64)
    else:
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


def _write(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, **PARQUET)
    tmp.rename(path)


def ensure_data(data: Path, fsizes: list[str], cases: list[tuple[str, str]]) -> dict[str, Any]:
    """Write the Parquet files that are missing; returns what each holds (a multi-view set's
    views as one entry: its folder, rows and bytes summed)."""
    import pyarrow.parquet as pq

    data.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {}
    for fsize in fsizes:
        fset = feature_set(fsize)
        rows = size = 0
        for k, view in enumerate(fset.views):
            path = view_path(data, view)
            if not path.exists():
                started = time.perf_counter()
                if fset.multi:
                    seed = 100_000 + 100 * len(fset.views) + k + _seed_shift(fset.total)
                    table = make_features(fset.entities, seed, view)
                else:
                    table = make_features(fset.entities)
                _write(table, path)
                log(
                    "data",
                    f"{view.file}: {table.num_rows:,} rows in "
                    f"{time.perf_counter() - started:.1f} s",
                )
            rows += pq.ParquetFile(path).metadata.num_rows
            size += path.stat().st_size
        name = fset.views[0].file if not fset.multi else f"views-{fset.tag}/"
        out[name] = {"rows": rows, "bytes": size}
        if fset.multi:
            out[name]["views"] = len(fset.views)
    for fsize, esize in cases:
        fset = feature_set(fsize)
        path = entity_path(data, fsize, esize)
        if not path.exists():
            if fset.multi:
                seed = 300_000 + 10 * len(fset.views) + len(esize) + _seed_shift(fset.total)
            else:
                seed = (
                    SEED
                    + 1
                    + list(ENTITY_SIZES).index(esize)
                    + 10 * list(FEATURE_SIZES).index(fsize)
                )
            _write(make_entities(ENTITY_SIZES[esize], fset.entities, seed, fset.multi), path)
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


def write_result(table: Any, path: Path, features: list[str] = FEATURES) -> None:
    """A side's answer (row_id and the feature columns), sorted by row_id, for bench.py's
    comparison."""
    import pyarrow.parquet as pq

    table = table.select(["row_id", *features]).sort_by("row_id")
    pq.write_table(table, path, compression="zstd")


def emit(result: dict[str, Any]) -> None:
    """The side's result: one JSON line on stdout (bench.py reads the last one)."""
    result["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(result), flush=True)


def threads() -> int:
    return int(os.environ.get("BENCH_THREADS", "0"))
