"""The pmle side (pmle's venv), in three modes, each run as its own process by bench.py:

- ``prepare``: a new workspace in --ws with the feature Parquet imported as the dataset
  ``activity_events`` and the entity ``user`` + the feature view ``activity`` (TTL 14 days,
  the 4 features) applied; times both (reported apart, not part of the retrieval time). A
  multi-view set (``--features 10m/10v``): every view's Parquet as the dataset ``v{k}_events``
  and the K views ``v{k}`` (the set's TTL, 365 days; 4 features each) over them;
- ``offline``: ``ws.features.training_set(entities, ["activity:amount", …],
  timestamp="event_timestamp")`` with the entity rows as an Arrow table (read from the
  entity Parquet before the clock starts), --reps times; the answer goes to --out. A
  multi-view set: one call asking for every view's 4 features (``["v0:v0_amount", …]``);
- ``online``: materialize the view into the online store (--store sqlite, or redis with
  --redis-url) up to the end of the feature window, then p50/p99 of
  ``ws.features.online_features`` for 1 and for 100 keys (--calls each), and of the online
  store's own ``read`` for the same keys (what the store costs without the API around it);
  then materialize again, into one chunk (``chunks=1``).

    python pmle_side.py prepare --data DIR --features 10m|10m/10v --ws DIR
    python pmle_side.py offline --data DIR --features 10m|10m/10v --entities 1m --ws DIR
        [--reps 5]
    python pmle_side.py online --ws DIR --features 10m --store sqlite|redis [--redis-url URL]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workload as w

SIDE = "pmle"


def definitions(fset: w.FeatureSet) -> dict[str, Any]:
    return {
        "entities": [{"name": w.ENTITY, "join_keys": [w.KEY]}],
        "feature_views": [
            {
                "name": view.name,
                "entities": [w.ENTITY],
                "source": {"dataset": view.dataset},
                "timestamp": view.ts,
                "ttl": f"{fset.ttl_s}s",
                "features": [{"name": f, "dtype": view.dtype(f)} for f in view.features],
            }
            for view in fset.views
        ],
    }


def versions() -> dict[str, str]:
    import duckdb
    import pyarrow as pa

    import pmle

    return {
        "pmle": getattr(pmle, "__version__", "?"),
        "duckdb": duckdb.__version__,
        "pyarrow": pa.__version__,
        "python": sys.version.split()[0],
    }


def open_ws(path: Path, **settings: Any) -> Any:
    from pmle.workspace import open_workspace

    if w.threads():
        settings["warehouse_threads"] = w.threads()
    return open_workspace(path, **settings)


def prepare(a: argparse.Namespace) -> dict[str, Any]:
    import pmle

    if a.ws.exists():
        shutil.rmtree(a.ws)
    fset = w.feature_set(a.features)
    ws = pmle.init(a.ws)
    started = time.perf_counter()
    rows = 0
    for view in fset.views:
        rows += ws.datasets.import_(view.dataset, w.view_path(a.data, view)).num_rows
    import_s = time.perf_counter() - started
    w.log(SIDE, f"imported {rows:,} feature rows ({len(fset.views)} datasets) in {import_s:.1f} s")
    started = time.perf_counter()
    ws.features.apply(definitions(fset))
    apply_s = time.perf_counter() - started
    ws.close()
    return {
        "mode": "prepare",
        "features": fset.name,
        "views": len(fset.views),
        "rows": rows,
        "import_s": import_s,
        "apply_s": apply_s,
    }


def offline(a: argparse.Namespace) -> dict[str, Any]:
    import pyarrow.parquet as pq

    fset = w.feature_set(a.features)
    ws = open_ws(a.ws)
    entities = pq.read_table(w.entity_path(a.data, a.features, a.entities))
    refs = fset.refs
    with ws.warehouse.connect(read_only=True) as con:
        threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    rss_before = w.rss_mib()

    def call() -> Any:
        return ws.features.training_set(entities, refs, timestamp=w.ENTITY_TS)

    times, table = w.timed(call, a.reps)
    w.log(SIDE, f"{a.features}×{a.entities}: {', '.join(f'{t:.2f}' for t in times)} s")
    if a.out is not None:
        w.write_result(table, a.out, fset.features)
    out: dict[str, Any] = {
        "mode": "offline",
        "features": a.features,
        "views": len(fset.views),
        "entities": a.entities,
        "rows_in": entities.num_rows,
        "rows_out": table.num_rows,
        "order_kept": table.column("row_id").equals(entities.column("row_id")),
        "threads": int(threads),
        "rss_before_mib": rss_before,
        "versions": versions(),
        **w.summary(times),
    }
    ws.close()
    return out


def percentiles(times: list[float]) -> dict[str, Any]:
    ordered = sorted(times)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    return {
        "calls": len(times),
        "p50_ms": pct(50) * 1000,
        "p99_ms": pct(99) * 1000,
        "mean_ms": statistics.fmean(times) * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def api_profile(
    ws: Any, refs: list[str], known: int, now: float, rng: random.Random, calls: int = 300
) -> list[dict[str, Any]]:
    """cProfile of `calls` one-key `online_features` calls: pmle's functions (and the
    SQLAlchemy / driver calls under them) by cumulative time per call."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        ws.features.online_features(refs, [{w.KEY: rng.randrange(known)}], now=now)
    prof.disable()
    rows = []
    for (path, line, func), (_cc, n, _tt, ct, _callers) in pstats.Stats(prof).stats.items():  # type: ignore[attr-defined]
        if "/pmle/" in path:
            short = path.split("/pmle/", 1)[1]
            rows.append(
                {
                    "function": f"{short}:{line}({func})",
                    "calls": n / calls,
                    "ms_per_call": ct / calls * 1000,
                }
            )
    rows.sort(key=lambda r: -r["ms_per_call"])
    return rows[:12]


def online(a: argparse.Namespace) -> dict[str, Any]:
    settings = {"online_store_url": a.redis_url} if a.store == "redis" else {}
    ws = open_ws(a.ws, **settings)
    store = ws.features.online
    store.drop(w.VIEW)  # a clean store: every record is new
    end = w.START_S + w.SPAN_S
    started = time.perf_counter()
    (run,) = ws.features.materialize([w.VIEW], end=end)
    materialize_s = time.perf_counter() - started
    entities = store.count(w.VIEW)
    source_rows = w.FEATURE_SIZES[a.features] * w.EVENTS_PER_ENTITY
    w.log(
        SIDE,
        f"{a.store}: materialized {run.rows:,} records ({entities:,} entities) from "
        f"{source_rows:,} rows in {materialize_s:.1f} s ({run.chunks} chunks)",
    )
    rng = random.Random(w.SEED)
    known = w.FEATURE_SIZES[a.features]
    refs = [f"{w.VIEW}:{f}" for f in w.FEATURES]
    now = float(end)
    reads: dict[str, Any] = {}
    for keys in (1, 100):
        batches = [
            [{w.KEY: rng.randrange(known)} for _ in range(keys)] for _ in range(a.calls + 50)
        ]
        api, raw = [], []
        for n, rows in enumerate(batches):
            started = time.perf_counter()
            got = ws.features.online_features(refs, rows, now=now)
            took = time.perf_counter() - started
            if n >= 50:  # the first 50 warm up
                api.append(took)
        assert len(got) == keys and all("amount" in r for r in got)
        found = sum(r["amount"] is not None for r in got)
        for n, rows in enumerate(batches):
            wanted = [str(r[w.KEY]) for r in rows]
            started = time.perf_counter()
            store.read(w.VIEW, wanted)
            took = time.perf_counter() - started
            if n >= 50:
                raw.append(took)
        reads[str(keys)] = {
            "online_features": percentiles(api),
            "store_read": percentiles(raw),
            "found_last_call": found,
        }
        w.log(
            SIDE,
            f"{a.store}, {keys} key(s): online_features p50 "
            f"{reads[str(keys)]['online_features']['p50_ms']:.2f} ms, p99 "
            f"{reads[str(keys)]['online_features']['p99_ms']:.2f} ms; store.read p99 "
            f"{reads[str(keys)]['store_read']['p99_ms']:.2f} ms",
        )
    # where a one-key call's time goes, outside the store's read
    out_profile = api_profile(ws, refs, known, now, rng)

    # the same into one chunk (the default run writes chunks of entities by key hash,
    # resumable; each entity once either way)
    store.drop(w.VIEW)
    started = time.perf_counter()
    (one,) = ws.features.materialize([w.VIEW], end=end, chunks=1)
    one_s = time.perf_counter() - started
    w.log(SIDE, f"{a.store}: in one chunk, {one.rows:,} records in {one_s:.1f} s")
    out = {
        "mode": "online",
        "store": a.store,
        "features": a.features,
        "source_rows": source_rows,
        "records_written": run.rows,
        "entities_online": entities,
        "chunks": run.chunks,
        "materialize_s": materialize_s,
        "source_rows_per_s": source_rows / materialize_s,
        "records_per_s": run.rows / materialize_s,
        "reads": reads,
        "api_profile": out_profile,
        "one_chunk": {
            "records_written": one.rows,
            "materialize_s": one_s,
            "source_rows_per_s": source_rows / one_s,
            "records_per_s": one.rows / one_s,
        },
        "versions": versions(),
    }
    if a.store == "redis":
        import redis

        out["versions"]["redis-py"] = redis.__version__
    ws.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["prepare", "offline", "online"])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--ws", type=Path, required=True)
    ap.add_argument("--features", required=True, help="10m, 1m, or (not online) 10m/10v, …")
    ap.add_argument("--entities", choices=list(w.ENTITY_SIZES))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--store", choices=["sqlite", "redis"], default="sqlite")
    ap.add_argument("--redis-url", default="")
    ap.add_argument("--calls", type=int, default=2000)
    a = ap.parse_args()
    try:
        multi = w.feature_set(a.features).multi
    except ValueError as e:
        ap.error(str(e))
    if multi and a.mode == "online":
        ap.error("online reads take a one-view feature set (1m, 10m)")
    result = {"prepare": prepare, "offline": offline, "online": online}[a.mode](a)
    result["side"] = SIDE
    w.emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
