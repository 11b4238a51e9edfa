"""Where pmle's point-in-time retrieval spends its time, against the raw ASOF JOIN.

Runs in pmle's venv; bench.py runs it on the largest one-view case after the measured runs.

For Arrow / pandas entity rows over dataset-backed views, ``training_set`` numbers the entity
rows in Arrow (a ``__pmle_row`` column appended), takes a cursor on the process's one
in-memory DuckDB database (``ws.warehouse.memory``: only the views' datasets attached, as
temporary views; no warehouse file, no lock, its memory kept warm from call to call),
registers the rows and runs one ASOF LEFT JOIN per view, ``ORDER BY __e.__pmle_row``.

1. ``training_set`` as measured (Arrow entity rows), and with a pandas DataFrame;
2. one call taken apart: numbering the entity rows in Arrow, opening the cursor and attaching
   the dataset views (``FeatureStore.connect_sources``), every statement pmle sends (SET,
   register, DESCRIBEs, the join) and the join's ``to_arrow_table``, closing the cursor, by
   wrapping them; what is left is Python (parsing the feature names, the registry and dataset
   look-ups in the metadata database, writing the SQL);
3. the SQL alone, all variants interleaved, in a cursor on pmle's in-memory database kept
   open (as ``training_set`` gets it) and in a plain in-memory connection kept open (as
   duckdb_side.py): pmle's query as it is; without its ORDER BY; without it and put back in
   order in Arrow instead (inverse permutation + one ``take``); as pmle writes it for an
   entity table named in the warehouse (``row_number() OVER ()`` instead of the Arrow
   column); the raw query over the workload's Parquet file and over the dataset's own copy,
   with and without ``ORDER BY e.row_id``;
4. per call: the raw query in a connection kept open, ``training_set`` as bench.py calls it,
   and the raw query in a new cursor on pmle's in-memory database per call and in a new
   in-memory database per call (what a warm database saves);
5. DuckDB's own profile (per operator) of pmle's query and of the raw one.

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
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import duckdb_side
import workload as w

SIDE = "profile"
ROW = "__pmle_row"  # pmle's entity row number column (pmle.features.retrieval.ROW)

# the variants' names (the report prints them as they are)
PMLE = "pmle's query"
NO_ORDER = f"pmle's query without ORDER BY {ROW}"
IN_ARROW = (
    "pmle's query without ORDER BY, rows put back in order in Arrow "
    "(inverse permutation + one take)"
)
AS_TABLE = f"pmle's query for an entity table in the warehouse (row_number() OVER () AS {ROW})"
RAW = "raw ASOF JOIN"
RAW_ORDERED = "raw ASOF JOIN + ORDER BY e.row_id"
RAW_COPY = "raw ASOF JOIN over the dataset's own Parquet copy"


class Recorder:
    """The steps of a wrapped call and the statements it ran, with their seconds."""

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
    """Median per step over `reps` instrumented calls, pmle's SQL, and which connection pmle
    took (the in-memory database with the datasets named, or the warehouse file)."""
    from pmle.features import retrieval
    from pmle.features.store import FeatureStore

    original_sources = FeatureStore.connect_sources
    original_number = retrieval._entity_table
    rec = Recorder()
    opened: dict[str, Any] = {}

    def number(rows: Any) -> Any:
        started = time.perf_counter()
        out = original_number(rows)
        rec.add(f"number the entity rows in Arrow (append {ROW})", time.perf_counter() - started)
        return out

    @contextlib.contextmanager
    def wrapped(self: Any, views: Iterable[Any], warehouse: bool = False) -> Iterator[Any]:
        views = list(views)
        datasets = [None if v.dataset is None else str(v.dataset) for v in views]
        memory = not warehouse and None not in datasets
        opened.update(memory=memory, datasets=datasets)
        what = (
            "open a cursor on the in-memory database + attach the dataset views"
            if memory
            else "open the warehouse file + attach the dataset views"
        )
        started = time.perf_counter()
        manager = original_sources(self, views, warehouse=warehouse)
        con = manager.__enter__()
        rec.add(what, time.perf_counter() - started)
        try:
            yield ConnectionProxy(con, rec)
        finally:
            started = time.perf_counter()
            manager.__exit__(None, None, None)
            rec.add(
                "close the cursor" if memory else "close the warehouse",
                time.perf_counter() - started,
            )

    FeatureStore.connect_sources = wrapped  # type: ignore[method-assign,assignment]
    retrieval._entity_table = number  # type: ignore[assignment]
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
        FeatureStore.connect_sources = original_sources  # type: ignore[method-assign]
        retrieval._entity_table = original_number
    if not rec.sql:
        raise SystemExit(
            "[profile] training_set sent no SQL through FeatureStore.connect_sources: "
            "pmle_profile.py no longer matches pmle's retrieval"
        )
    steps: dict[str, list[float]] = {}
    for total, done in calls:
        seen: dict[str, float] = {}
        for s in done:
            seen[s["step"]] = seen.get(s["step"], 0.0) + s["s"]
        seen["Python: feature names, registry and dataset look-ups, the SQL, result"] = total - sum(
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
        "in_memory": opened["memory"],
        "datasets": opened["datasets"],
    }


def variants(pmle_sql: str, features_file: Path) -> dict[str, str]:
    """pmle's SQL (over `__pmle_entities`: the entity rows with pmle's row number column) and
    its variants; the raw query over `entities` (the entity rows as they are)."""
    assert "row_number()" not in pmle_sql, (
        "pmle numbers Arrow entity rows in SQL again (row_number()): update pmle_profile.py"
    )
    no_order = re.sub(rf"\s*ORDER BY __e\.{ROW}\s*$", "", pmle_sql)
    assert no_order != pmle_sql, f"pmle's SQL no longer ends with ORDER BY __e.{ROW}"
    kept = no_order.replace(f"EXCLUDE ({ROW}, ", "EXCLUDE (", 1).replace(
        f"__e.* EXCLUDE ({ROW})", "__e.*", 1
    )
    assert kept != no_order, f"pmle's SQL no longer leaves out {ROW} with EXCLUDE"
    as_table = pmle_sql.replace(
        "WITH __e AS (SELECT *", f"WITH __e AS (SELECT *, row_number() OVER () AS {ROW}", 1
    ).replace("FROM __pmle_entities)", "FROM entities)", 1)
    assert "FROM entities)" in as_table, "pmle's SQL no longer reads FROM __pmle_entities"
    raw = duckdb_side.query(features_file, ordered=False)
    return {
        PMLE: pmle_sql,
        NO_ORDER: no_order,
        IN_ARROW: kept,  # then put back in order in Arrow
        AS_TABLE: as_table,
        RAW: raw,
        RAW_ORDERED: raw + " ORDER BY e.row_id",
    }


def sql_alone(
    ws: Any,
    entities: Any,
    queries: dict[str, str],
    pmle_connection: Callable[[], Any],
    in_memory: bool,
    call: Callable[[], Any],
    reps: int,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, bool]]:
    """Each variant's seconds (median, best, all; the variants of a table interleaved, `reps`
    rounds, so that a slow spell of the machine hits them all alike), DuckDB's profile of
    pmle's query and the raw one, and which variants give exactly pmle's answer."""
    import duckdb
    import numpy as np
    import pyarrow as pa

    n = entities.num_rows
    numbered = entities.append_column(ROW, pa.array(np.arange(n, dtype=np.int64)))
    raw = queries[RAW]

    def register(con: Any, pmle_rows: bool = True) -> Any:
        con.execute("SET TimeZone = 'UTC'")
        con.register("entities", entities)
        if pmle_rows:
            con.register("__pmle_entities", numbered)
        return con

    def memory_connection() -> Any:
        con = duckdb.connect()
        if w.threads():
            con.execute(f"SET threads = {w.threads()}")
        return con

    def reorder(table: Any) -> Any:
        """Rows back in entity order: the inverse permutation of the row numbers, one take."""
        rows = table.column(ROW).to_numpy()
        order = np.empty(n, dtype=np.int64)
        order[rows] = np.arange(n, dtype=np.int64)
        return table.take(order).drop_columns([ROW])

    def sql(con: Any, text: str) -> Callable[[], Any]:
        return lambda: con.sql(text).to_arrow_table()

    def interleaved(runs: list[tuple[str, str, Callable[[], Any]]]) -> dict[str, Any]:
        times: dict[tuple[str, str], list[float]] = {(g, name): [] for g, name, _ in runs}
        faults: dict[tuple[str, str], list[int]] = {k: [] for k in times}
        for _ in range(reps):
            for group, name, fn in runs:
                before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                started = time.perf_counter()
                fn()
                times[group, name].append(time.perf_counter() - started)
                faults[group, name].append(
                    resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
                )
        out: dict[str, dict[str, Any]] = {}
        for (group, name), v in times.items():
            out.setdefault(group, {})[name] = r = {
                "median_s": statistics.median(v),
                "best_s": min(v),
                "times_s": v,
                "page_faults": statistics.median(faults[group, name]),
            }
            w.log(
                SIDE,
                f"  {group.split(' (')[0]}: {name}: {r['median_s']:.2f} s "
                f"(best {r['best_s']:.2f}), {r['page_faults']:,.0f} page faults",
            )
        return out

    # 1. the variants in a connection obtained as training_set obtains it, kept open, and the
    #    raw query and pmle's in a plain in-memory connection kept open, all interleaved
    if in_memory:
        pmle_group = (
            "in a cursor on pmle's in-memory database kept open "
            "(ws.warehouse.memory, as training_set gets it)"
        )
    else:
        pmle_group = "in a warehouse connection kept open (as training_set gets it)"
    plain_group = "in a plain in-memory connection kept open (duckdb.connect(), as duckdb_side.py)"
    plain = memory_connection()
    try:
        with pmle_connection() as con:
            views = con.execute(  # the dataset views pmle attached (before any register)
                "SELECT view_name, sql FROM duckdb_views() WHERE temporary AND NOT internal"
            ).fetchall()
            pcon = register(con)
            register(plain)
            for _name, text in views:  # the dataset views, as pmle attaches them
                plain.execute(text)
            copy = re.search(r"read_parquet\('([^']+)'\)", views[0][1] if views else "")
            file = re.search(r"read_parquet\('([^']+)'\)", raw)
            if copy and file:
                queries[RAW_COPY] = raw.replace(file.group(0), f"read_parquet('{copy.group(1)}')")
            runs = [
                (pmle_group, name, sql(pcon, text))
                for name, text in queries.items()
                if name != IN_ARROW
            ]
            runs.insert(2, (pmle_group, IN_ARROW, lambda: reorder(sql(pcon, queries[IN_ARROW])())))
            runs += [
                (plain_group, PMLE, sql(plain, queries[PMLE])),
                (plain_group, RAW, sql(plain, raw)),
            ]
            kept = interleaved(runs)
            mine = pcon.sql(queries[PMLE]).to_arrow_table()
            same = {
                IN_ARROW: reorder(pcon.sql(queries[IN_ARROW]).to_arrow_table()).equals(mine),
                AS_TABLE: pcon.sql(queries[AS_TABLE]).to_arrow_table().equals(mine),
            }
            del mine
            profiles = {"pmle": operators(pcon, queries[PMLE]), "raw": operators(pcon, raw)}

        # 2. per call: the raw query kept open, training_set as bench.py calls it, and the
        #    raw query in a new cursor on pmle's in-memory database / a new database per call
        def cursor_raw() -> None:
            with ws.warehouse.memory(()) as con:
                register(con, pmle_rows=False).sql(raw).to_arrow_table()

        def fresh_raw() -> None:
            con = register(memory_connection(), pmle_rows=False)
            con.sql(raw).to_arrow_table()
            con.close()

        per_call = "per call"
        fresh = interleaved(
            [
                (
                    per_call,
                    f"{RAW}, plain in-memory connection kept open (as duckdb_side.py)",
                    sql(plain, raw),
                ),
                (
                    per_call,
                    "training_set (Arrow entity rows), as bench.py's pmle side calls it",
                    call,
                ),
                (
                    per_call,
                    f"{RAW}, a new cursor on pmle's in-memory database per call "
                    "(ws.warehouse.memory, entity rows registered; closing included)",
                    cursor_raw,
                ),
                (
                    per_call,
                    f"{RAW}, a new in-memory database per call "
                    "(duckdb.connect(); closing included)",
                    fresh_raw,
                ),
            ]
        )
    finally:
        plain.close()
    groups = [
        {"title": pmle_group, "variants": kept[pmle_group]},
        {"title": plain_group, "variants": kept[plain_group]},
        {
            "title": "per call: the raw query kept open, training_set, the raw query in a new "
            "cursor / a new database per call",
            "variants": fresh[per_call],
        },
    ]
    together = "the first two groups' variants interleaved together, the last group's apart"
    return {"groups": groups, "interleaved": together}, profiles, same


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
    out["apart"] = apart = taken_apart(ws, entities, refs, a.reps)
    for s in apart["steps"]:
        w.log(SIDE, f"  {s['step']}: {s['median_s'] * 1000:.1f} ms")

    features_file = w.feature_path(a.data, a.features).resolve()
    queries = variants(apart["sql"], features_file)

    def pmle_connection() -> Any:
        if apart["in_memory"]:
            return ws.warehouse.memory(apart["datasets"])
        return ws.warehouse.connect(read_only=True)

    out["sql"], out["operators"], out["same_as_pmle"] = sql_alone(
        ws,
        entities,
        queries,
        pmle_connection,
        apart["in_memory"],
        lambda: ws.features.training_set(entities, refs, timestamp=w.ENTITY_TS),
        a.reps,
    )
    for name, same in out["same_as_pmle"].items():
        w.log(SIDE, f"  same answer as pmle's query: {same} ({name})")
    out["queries"] = queries
    out["python"] = python_profile(ws, entities, refs)
    ws.close()
    w.emit(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
