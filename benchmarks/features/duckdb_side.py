"""The raw DuckDB side (pmle's venv, but no pmle): the point-in-time join written by hand as
one ASOF LEFT JOIN over the same feature Parquet file, with the same TTL condition, to an
Arrow table — what pmle's `training_set` is measured against. With a multi-view feature set
(``--features 10m/10v``) the query has one such ASOF LEFT JOIN per view, each over its view's
Parquet file with the set's TTL, in one SELECT.

One query (--query), timed --reps times in an in-memory connection, with the entity rows
registered as an Arrow table before the clock starts (as pmle is handed them); bench.py runs
each query in its own process so that each has its own peak RSS:

- ``asof``: the join, rows in whatever order DuckDB produces them (the goal's baseline);
- ``asof_ordered``: the same with ``ORDER BY e.row_id``, i.e. the entity rows' order kept,
  which pmle's result promises.

    python duckdb_side.py --data DIR --features 10m|10m/10v --entities 1m [--query asof]
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
    """The hand-written point-in-time join of the one-view feature table (entity rows
    registered as `entities`)."""
    fset = w.feature_set("10m")  # any one-view set: the same view, the same columns
    return query_views([(features, fset.views[0])], w.TTL_S, ordered)


def query_views(views: list[tuple[Path, w.View]], ttl_s: int, ordered: bool) -> str:
    """The join over one or more views (file, view): one ASOF LEFT JOIN per view."""
    values, joins = [], []
    for n, (features, view) in enumerate(views):
        alias = "f" if len(views) == 1 else f"f{n}"
        path = "'" + str(features).replace("'", "''") + "'"
        fresh = f"{alias}.{view.ts} >= e.{w.ENTITY_TS} - INTERVAL {ttl_s} SECOND"
        values += [f"CASE WHEN {fresh} THEN {alias}.{c} END AS {c}" for c in view.features]
        joins.append(
            f"ASOF LEFT JOIN (SELECT {w.KEY}, {view.ts}, {', '.join(view.features)} FROM "
            f"read_parquet({path})) {alias} ON e.{w.KEY} = {alias}.{w.KEY} AND "
            f"e.{w.ENTITY_TS} >= {alias}.{view.ts}"
        )
    sql = f"SELECT e.*, {', '.join(values)} FROM entities e {' '.join(joins)}"
    return sql + " ORDER BY e.row_id" if ordered else sql


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--features", required=True, type=w.feature_set, help="10m, 10m/10v, …")
    ap.add_argument("--entities", required=True, choices=list(w.ENTITY_SIZES))
    ap.add_argument("--query", choices=["asof", "asof_ordered"], default="asof")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()

    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    fset = a.features
    entities = pq.read_table(w.entity_path(a.data, fset.name, a.entities))
    con = duckdb.connect()
    if w.threads():
        con.execute(f"SET threads = {w.threads()}")
    con.execute("SET TimeZone = 'UTC'")
    con.register("entities", entities)
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    rss_before = w.rss_mib()
    views = [(w.view_path(a.data, v).resolve(), v) for v in fset.views]
    sql = query_views(views, fset.ttl_s, a.query == "asof_ordered")
    times, table = w.timed(lambda: con.sql(sql).to_arrow_table(), a.reps)
    w.log(SIDE, f"{fset.name}×{a.entities} {a.query}: {', '.join(f'{t:.2f}' for t in times)} s")
    if a.out is not None:
        w.write_result(table, a.out, fset.features)
    out: dict[str, Any] = {
        "side": SIDE if a.query == "asof" else f"{SIDE}_ordered",
        "query": a.query,
        "sql": sql,
        "features": fset.name,
        "views": len(fset.views),
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
