"""Where pmle's point-in-time retrieval spends its time, against the raw ASOF JOIN (pmle's
venv; bench.py runs it on the largest case after the measured runs).

1. ``training_set`` as measured (Arrow entity rows), and with a pandas DataFrame;
2. one call taken apart: the warehouse connection (opening the DuckDB file and attaching the
   dataset views), every statement pmle sends (SET, register, DESCRIBEs, the join) and the
   join's ``to_arrow_table``, by wrapping the connection; what is left is Python (parsing
   the feature names, the registry and dataset look-ups in the metadata database);
3. the SQL alone, the variants interleaved: pmle's query as it is and with one thing taken
   out at a time (the ORDER BY on the row number, the row number itself); the raw query
   (over the workload's Parquet file and over the dataset's own copy, in pmle's warehouse
   connection and in an in-memory one, with and without ORDER BY); the raw query with a row
   number column appended to the entity rows in Arrow instead of `row_number()`, ordered by
   DuckDB or put back in order afterwards by an inverse permutation and one Arrow `take`;
   and the raw query and pmle's in a new connection per call, opened and closed around the
   query, as pmle does;
4. DuckDB's own profile (per operator) of pmle's query and of the raw one.

    python pmle_profile.py --data DIR --features 10m --entities 1m --ws DIR [--reps 5]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import pstats
import re
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import duckdb_side
import workload as w

SIDE = "profile"


class Recorder:
    """The statements a wrapped connection ran, with their seconds."""

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.sql: list[str] = []

    def add(self, what: str, seconds: float, sql: str | None = None) -> None:
        self.steps.append({"step": what, "s": seconds})
        if sql is not None:
            self.sql.append(sql)


def _label(sql: str) -> str:
    text = " ".join(sql.split())
    if text.upper().startswith("DESCRIBE"):
        return "DESCRIBE " + ("(the entity rows)" if "__pmle_entities" in text else "(the source)")
    if text.upper().startswith("SET"):
        return text
    if "ASOF" in text.upper():
        return "the join: planning (con.sql)"
    return text[:60]


class RelationProxy:
    def __init__(self, rel: Any, rec: Recorder) -> None:
        self._rel, self._rec = rel, rec

    def to_arrow_table(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        out = self._rel.to_arrow_table(*args, **kwargs)
        self._rec.add(
            "the join: execution + Arrow result (to_arrow_table)", time.perf_counter() - started
        )
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rel, name)


class ConnectionProxy:
    def __init__(self, con: Any, rec: Recorder) -> None:
        self._con, self._rec = con, rec

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        out = self._con.execute(sql, *args, **kwargs)
        self._rec.add(_label(sql), time.perf_counter() - started, sql)
        return out

    def sql(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        rel = self._con.sql(sql, *args, **kwargs)
        self._rec.add(_label(sql), time.perf_counter() - started, sql)
        return RelationProxy(rel, self._rec) if rel is not None else None

    def register(self, name: str, obj: Any) -> Any:
        started = time.perf_counter()
        out = self._con.register(name, obj)
        self._rec.add(f"register the entity rows ({name})", time.perf_counter() - started)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def taken_apart(ws: Any, entities: Any, refs: list[str], reps: int) -> dict[str, Any]:
    """Median per step over `reps` instrumented calls, and pmle's SQL."""
    from pmle.features.store import FeatureStore

    original = FeatureStore.connect_warehouse
    rec = Recorder()

    @contextlib.contextmanager
    def wrapped(self: Any) -> Iterator[Any]:
        started = time.perf_counter()
        manager = original(self)
        con = manager.__enter__()
        rec.add("open the warehouse + attach dataset views", time.perf_counter() - started)
        try:
            yield ConnectionProxy(con, rec)
        finally:
            started = time.perf_counter()
            manager.__exit__(None, None, None)
            rec.add("close the warehouse", time.perf_counter() - started)

    FeatureStore.connect_warehouse = wrapped  # type: ignore[method-assign]
    calls = []
    faults: list[int] = []
    try:
        for _ in range(reps):
            rec.steps = []
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            started = time.perf_counter()
            ws.features.training_set(entities, refs, timestamp=w.ENTITY_TS)
            total = time.perf_counter() - started
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
            calls.append((total, list(rec.steps)))
    finally:
        FeatureStore.connect_warehouse = original  # type: ignore[method-assign]
    steps: dict[str, list[float]] = {}
    for total, done in calls:
        seen: dict[str, float] = {}
        for s in done:
            seen[s["step"]] = seen.get(s["step"], 0.0) + s["s"]
        seen["Python: feature names, registry and dataset look-ups, result"] = total - sum(
            seen.values()
        )
        seen["total"] = total
        for k, v in seen.items():
            steps.setdefault(k, []).append(v)
    join_sql = next(s for s in rec.sql if "ASOF" in s.upper())
    return {
        "steps": [{"step": k, "median_s": statistics.median(v)} for k, v in steps.items()],
        "sql": join_sql,
        "page_faults": statistics.median(faults),
    }


def variants(pmle_sql: str, features_file: Path) -> dict[str, str]:
    """pmle's SQL and its variants, each over `__pmle_entities` (registered)."""
    no_order = re.sub(r"\s*ORDER BY __e\.__pmle_row\s*$", "", pmle_sql)
    assert no_order != pmle_sql, "pmle's SQL no longer ends with ORDER BY __e.__pmle_row"
    no_row = no_order.replace(", row_number() OVER () AS __pmle_row", "").replace(
        "__e.* EXCLUDE (__pmle_row)", "__e.*"
    )
    raw = duckdb_side.query(features_file, ordered=False).replace(
        "FROM entities e", "FROM __pmle_entities e"
    )
    dataset_file = re.search(r"read_parquet\('([^']+)'\)", raw)
    assert dataset_file is not None
    return {
        "pmle's query": pmle_sql,
        "pmle's query without ORDER BY __pmle_row": no_order,
        "… and without row_number() (no order kept)": no_row,
        "raw ASOF JOIN": raw,
        "raw ASOF JOIN + ORDER BY e.row_id": raw + " ORDER BY e.row_id",
    }


def sql_alone(
    ws: Any, entities: Any, queries: dict[str, str], features_file: Path, reps: int
) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """Each variant's seconds (median, best, all; the variants of a group interleaved,
    `reps` rounds, so that a slow spell of the machine hits them all alike), DuckDB's
    profile of pmle's query and the raw one, and whether the Arrow-side reordering gives
    pmle's answer."""
    import duckdb
    import numpy as np
    import pyarrow as pa

    n = entities.num_rows
    numbered = entities.append_column("__pmle_row", pa.array(np.arange(n, dtype=np.int64)))
    raw = queries["raw ASOF JOIN"]
    on_numbered = raw.replace("FROM __pmle_entities e", "FROM __numbered e")
    queries["raw, row number appended in Arrow, ORDER BY it"] = (
        on_numbered.replace("SELECT e.*", "SELECT e.* EXCLUDE (__pmle_row)")
        + " ORDER BY e.__pmle_row"
    )
    queries["raw, row number appended in Arrow, no ORDER BY"] = on_numbered

    def register(con: Any) -> Any:
        con.execute("SET TimeZone = 'UTC'")
        con.register("__pmle_entities", entities)
        con.register("__numbered", numbered)
        return con

    def memory_connection() -> Any:
        con = duckdb.connect()
        if w.threads():
            con.execute(f"SET threads = {w.threads()}")
        return register(con)

    def reorder(table: Any) -> Any:
        """Rows back in entity order: the inverse permutation of the row numbers, one take."""
        rows = table.column("__pmle_row").to_numpy()
        order = np.empty(n, dtype=np.int64)
        order[rows] = np.arange(n, dtype=np.int64)
        return table.take(order).drop_columns(["__pmle_row"])

    def sql(con: Any, text: str) -> Any:
        return lambda: con.sql(text).to_arrow_table()

    def interleaved(runs: list[tuple[str, Any]]) -> dict[str, dict[str, Any]]:
        times: dict[str, list[float]] = {name: [] for name, _ in runs}
        faults: dict[str, list[int]] = {name: [] for name, _ in runs}
        for _ in range(reps):
            for name, fn in runs:
                before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                started = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - started)
                faults[name].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
        out = {}
        for name, v in times.items():
            out[name] = {
                "median_s": statistics.median(v),
                "best_s": min(v),
                "times_s": v,
                "page_faults": statistics.median(faults[name]),
            }
            w.log(
                SIDE,
                f"  SQL {name}: {out[name]['median_s']:.2f} s (best {min(v):.2f}), "
                f"{out[name]['page_faults']:,.0f} page faults",
            )
        return out

    # 1. variants of the query in one warehouse connection kept open (the only database
    #    instance in the process, as in a training_set call)
    with ws.warehouse.connect(read_only=True) as con:
        wcon = register(con)
        found = wcon.execute(
            "SELECT sql FROM duckdb_views() WHERE view_name = 'activity_events'"
        ).fetchall()
        copy = re.search(r"read_parquet\('([^']+)'\)", found[0][0] if found else "")
        if copy:
            queries["raw ASOF JOIN over the dataset's own Parquet copy"] = raw.replace(
                str(features_file), copy.group(1)
            )
        runs: list[tuple[str, Any]] = [
            (name, sql(wcon, text))
            for name, text in queries.items()
            if name != "raw, row number appended in Arrow, no ORDER BY"
        ]
        runs.append(
            (
                "raw, row number appended in Arrow, no ORDER BY, rows put back in order "
                "afterwards (inverse permutation + one Arrow take)",
                lambda: reorder(wcon.sql(on_numbered).to_arrow_table()),
            )
        )
        kept = interleaved(runs)
        mine = wcon.sql(queries["pmle's query"]).to_arrow_table()
        same = reorder(wcon.sql(on_numbered).to_arrow_table()).equals(mine)
        del mine
        profiles = {
            "pmle": operators(wcon, queries["pmle's query"]),
            "raw": operators(wcon, raw),
        }

    # 2. a connection kept open against a new one per call (opened and closed around the
    #    query, as training_set does), after the warehouse connection above is closed
    def fresh_raw() -> None:
        con = memory_connection()
        con.sql(raw).to_arrow_table()
        con.close()

    def fresh_pmle() -> None:
        with ws.warehouse.connect(read_only=True) as con:
            register(con).sql(queries["pmle's query"]).to_arrow_table()

    mem = memory_connection()
    try:
        fresh = interleaved(
            [
                (
                    "raw ASOF JOIN, in-memory connection kept open (as duckdb_side.py)",
                    sql(mem, raw),
                ),
                (
                    "raw ASOF JOIN, a new in-memory connection per call (closing included)",
                    fresh_raw,
                ),
                (
                    "pmle's query, a new warehouse connection per call (closing included)",
                    fresh_pmle,
                ),
            ]
        )
    finally:
        mem.close()
    return {"kept_open": kept, "per_call": fresh}, profiles, same


def operators(con: Any, sql: str) -> dict[str, Any]:
    """DuckDB's profile of `sql`: its time, CPU time, peak buffer memory, and per operator
    type, details, rows and seconds (summed over threads), largest first."""
    with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
        con.execute("PRAGMA enable_profiling = 'json'")
        con.execute(f"PRAGMA profiling_output = '{tmp.name}'")
        con.sql(sql).to_arrow_table()
        con.execute("PRAGMA disable_profiling")
        tree = json.loads(Path(tmp.name).read_text() or "{}")
    out: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        kind = node.get("type") or node.get("operator_type")
        if kind:
            info = node.get("extra_info") or {}
            detail = ", ".join(f"{k}: {v}" for k, v in info.items() if k != "Estimated Cardinality")
            out.append(
                {
                    "operator": str(kind),
                    "detail": " ".join(detail.split())[:160],
                    "rows": node.get("intermediate_rows", node.get("operator_cardinality")),
                    "s": float(node.get("timing", node.get("operator_timing")) or 0.0),
                }
            )
        for child in node.get("children", []):
            walk(child)

    for root in tree.get("operator", []) if isinstance(tree.get("operator"), list) else [tree]:
        walk(root)
    out.sort(key=lambda r: -r["s"])
    query = tree.get("query") or {}
    system = tree.get("system") or {}
    return {
        "total_s": query.get("total_time", tree.get("latency")),
        "cpu_s": query.get("cpu_time", tree.get("cpu_time")),
        "peak_buffer_mib": (system.get("peak_buffer_memory") or 0) / 2**20,
        "operators": out,
    }


def python_profile(ws: Any, entities: Any, refs: list[str]) -> list[dict[str, Any]]:
    """cProfile of one call: pmle's functions by cumulative time."""
    prof = cProfile.Profile()
    prof.enable()
    ws.features.training_set(entities, refs, timestamp=w.ENTITY_TS)
    prof.disable()
    stats = pstats.Stats(prof)
    rows = []
    for (path, line, func), (_cc, calls, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if "/pmle/" in path:
            short = path.split("/pmle/", 1)[1]
            rows.append({"function": f"{short}:{line}({func})", "calls": calls, "cum_s": ct})
    rows.sort(key=lambda r: -r["cum_s"])
    return rows[:15]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--features", required=True, choices=list(w.FEATURE_SIZES))
    ap.add_argument("--entities", required=True, choices=list(w.ENTITY_SIZES))
    ap.add_argument("--ws", type=Path, required=True)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()

    import pyarrow.parquet as pq

    from pmle.workspace import open_workspace

    settings = {"warehouse_threads": w.threads()} if w.threads() else {}
    ws = open_workspace(a.ws, **settings)
    entities = pq.read_table(w.entity_path(a.data, a.features, a.entities))
    frame = entities.to_pandas()
    refs = [f"{w.VIEW}:{f}" for f in w.FEATURES]
    out: dict[str, Any] = {"side": SIDE, "features": a.features, "entities": a.entities}

    def call(rows: Any) -> float:
        times, _ = w.timed(
            lambda: ws.features.training_set(rows, refs, timestamp=w.ENTITY_TS), a.reps
        )
        return statistics.median(times)

    out["calls"] = {"arrow": call(entities), "pandas": call(frame)}
    w.log(
        SIDE,
        f"training_set: Arrow in {out['calls']['arrow']:.2f} s, "
        f"pandas in {out['calls']['pandas']:.2f} s",
    )
    out["apart"] = taken_apart(ws, entities, refs, a.reps)
    for s in out["apart"]["steps"]:
        w.log(SIDE, f"  {s['step']}: {s['median_s'] * 1000:.1f} ms")

    features_file = w.feature_path(a.data, a.features).resolve()
    queries = variants(out["apart"]["sql"], features_file)
    out["sql"], out["operators"], out["reorder_same_as_pmle"] = sql_alone(
        ws, entities, queries, features_file, a.reps
    )
    out["queries"] = queries
    out["python"] = python_profile(ws, entities, refs)
    ws.close()
    w.emit(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
