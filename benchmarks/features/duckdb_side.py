"""The raw DuckDB side (pmle's venv, but no pmle): the point-in-time join written by hand as
one ASOF LEFT JOIN over the same feature Parquet file, with the same TTL condition, to an
Arrow table — what pmle's `training_set` is measured against.

One query (--query), timed --reps times in an in-memory connection, with the entity rows
registered as an Arrow table before the clock starts (as pmle is handed them); bench.py runs
each query in its own process so that each has its own peak RSS:

- ``asof``: the join, rows in whatever order DuckDB produces them (the goal's baseline);
- ``asof_ordered``: the same with ``ORDER BY e.row_id``, i.e. the entity rows' order kept,
  which pmle's result promises.

    python duckdb_side.py --data DIR --features 10m --entities 1m [--query asof]
        [--reps 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workload as w

SIDE = "duckdb"


def query(features: Path, ordered: bool) -> str:
    """The hand-written point-in-time join (entity rows registered as `entities`)."""
    path = "'" + str(features).replace("'", "''") + "'"
    fresh = f"f.{w.FEATURE_TS} >= e.{w.ENTITY_TS} - INTERVAL {w.TTL_S} SECOND"
    values = ", ".join(f"CASE WHEN {fresh} THEN f.{c} END AS {c}" for c in w.FEATURES)
    sql = (
        f"SELECT e.*, {values} FROM entities e ASOF LEFT JOIN "
        f"(SELECT {w.KEY}, {w.FEATURE_TS}, {', '.join(w.FEATURES)} FROM read_parquet({path})) f "
        f"ON e.{w.KEY} = f.{w.KEY} AND e.{w.ENTITY_TS} >= f.{w.FEATURE_TS}"
    )
    return sql + " ORDER BY e.row_id" if ordered else sql


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--features", required=True, choices=list(w.FEATURE_SIZES))
    ap.add_argument("--entities", required=True, choices=list(w.ENTITY_SIZES))
    ap.add_argument("--query", choices=["asof", "asof_ordered"], default="asof")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()

    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    entities = pq.read_table(w.entity_path(a.data, a.features, a.entities))
    con = duckdb.connect()
    if w.threads():
        con.execute(f"SET threads = {w.threads()}")
    con.execute("SET TimeZone = 'UTC'")
    con.register("entities", entities)
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    rss_before = w.rss_mib()
    sql = query(w.feature_path(a.data, a.features).resolve(), a.query == "asof_ordered")
    times, table = w.timed(lambda: con.sql(sql).to_arrow_table(), a.reps)
    w.log(SIDE, f"{a.features}×{a.entities} {a.query}: {', '.join(f'{t:.2f}' for t in times)} s")
    if a.out is not None:
        w.write_result(table, a.out)
    out: dict[str, Any] = {
        "side": SIDE if a.query == "asof" else f"{SIDE}_ordered",
        "query": a.query,
        "sql": sql,
        "features": a.features,
        "entities": a.entities,
        "rows_in": entities.num_rows,
        "rows_out": table.num_rows,
        "threads": int(threads),
        "rss_before_mib": rss_before,
        "versions": {
            "duckdb": duckdb.__version__,
            "pyarrow": pa.__version__,
            "python": sys.version.split()[0],
        },
        **w.summary(times),
    }
    w.emit(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
