"""The histograms of `distances`, computed by DuckDB over any relation — a dataset view, the
`prediction_log`, Parquet files — so memory stays bounded whatever the row count.

All features are done together, in as few scans of the relation as possible:

- `fit` is one query for the categorical features and for the numeric features with few
  distinct values (most of them: counts, flags, prices): a `GROUPING SETS` aggregate counts each
  feature's distinct values (a hash aggregate, which DuckDB spills to disk past its memory
  limit), and window functions over those counts keep only what the baseline needs — the
  categorical top-k with their totals, the missing counts, and for numeric features the few
  distinct values around each quantile's rank. The cut points are then exactly DuckDB's
  `quantile_cont` (the same linear interpolation as numpy's default) and the bucket counts
  follow from the same rows. A numeric feature whose first rows are mostly distinct values
  (a continuous measurement) would make that aggregate count every row as a group: it gets
  `quantile_cont` instead (one query per feature, as its state holds every value) and one more
  scan counts those features' buckets.
- `count_all` is one query of `count_if`s: for each feature, how many values are ≤ each cut point
  (numeric) or equal each category (categorical; past 8 categories, a lookup in a MAP from
  category to bucket), plus the missing and total counts, on all of DuckDB's threads.

DuckDB's own settings apply (`memory_limit`, `threads`, `temp_directory`); set them on the
connection to bound what a fit may hold before it spills.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.monitoring.distances import (
    MAX_CATEGORIES,
    NUMERIC_BUCKETS,
    CategoricalHistogram,
    NumericHistogram,
)
from pmle.storage.warehouse import quote_ident, quote_literal

if TYPE_CHECKING:
    import duckdb
    import numpy as np

Histogram = NumericHistogram | CategoricalHistogram
KINDS = ("numeric", "categorical")

# Past this many categories a categorical feature is counted through a MAP from category to
# bucket (a hash lookup per row) instead of one equality test per category and row.
_EQUALITY_TESTS = 8
# `fit` counts a numeric feature's distinct values unless more than this share of its first
# `_SAMPLE_ROWS` rows are distinct (continuous measurements): those go to `quantile_cont`.
_SAMPLE_ROWS = 100_000
_DISTINCT_SHARE = 0.1


def _number(column: str) -> str:
    return _cast(column, "DOUBLE", try_=True)


def _text(column: str) -> str:
    return _cast(column, "VARCHAR")


def _cast(column: str, to: str, *, try_: bool = False, guard: bool = True) -> str:
    # DuckDB pushes a cast into the reader when the column appears nowhere else in the plan
    # (type_pushdown): read_csv then parses the raw text as `to`, so "False" stays "False"
    # instead of the BOOLEAN's 'false'. The bare `IS NULL` of the guard rules that out;
    # count_all guards more cheaply, with a bare aggregate of the column.
    col, cast = quote_ident(column), "TRY_CAST" if try_ else "CAST"
    if not guard:
        return f"{cast}({col} AS {to})"
    return f"CASE WHEN {col} IS NULL THEN NULL ELSE {cast}({col} AS {to}) END"


def _double(value: float) -> str:
    # Parsed from its shortest repr as a DOUBLE (not a DECIMAL literal): the exact same number.
    return f"{quote_literal(repr(float(value)))}::DOUBLE"


def check_relation(
    con: duckdb.DuckDBPyConnection, relation: str, features: Mapping[str, str]
) -> None:
    """The relation can be read and has every feature; the kinds are known."""
    import duckdb

    try:
        have = {d[0] for d in con.sql(f"SELECT * FROM ({relation}) LIMIT 0").description}
    except duckdb.Error as exc:
        raise InvalidInput(f"cannot read the data to monitor: {str(exc).splitlines()[0]}")
    missing = [f for f in features if f not in have]
    if missing:
        raise InvalidInput(
            f"feature(s) missing from the data: {', '.join(missing)}",
            hint=f"the data has {', '.join(sorted(have))}",
        )
    bad = {f: k for f, k in features.items() if k not in KINDS}
    if bad:
        raise InvalidInput(f"unknown feature kind(s) {bad}", hint="numeric or categorical")


def fit(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    features: Mapping[str, str],
    *,
    buckets: int = NUMERIC_BUCKETS,
    max_categories: int = MAX_CATEGORIES,
) -> dict[str, Histogram]:
    """Baseline histograms of `features` (name → numeric | categorical) over the SQL relation
    `relation` (a table or view name, or a query)."""
    check_relation(con, relation, features)
    if not features:
        return {}
    numeric = [f for f, k in features.items() if k == "numeric"]
    categorical = [f for f, k in features.items() if k == "categorical"]
    qs = [i / buckets for i in range(1, buckets)]
    spread = _spread_out(con, relation, numeric)
    grouped = [f for f in numeric if f not in spread]
    out: dict[str, Histogram] = {}
    if grouped or categorical:
        out.update(_fit_grouped(con, relation, grouped, categorical, qs, int(max_categories)))
    if spread:
        # Mostly distinct values: DuckDB's quantile_cont sorts them faster than a GROUP BY
        # can count them (one feature per query: its state holds every value), then one scan
        # counts all these features in their buckets.
        cut: dict[str, NumericHistogram] = {}
        for name in spread:
            x = _number(name)
            ((got,),) = con.execute(
                f"SELECT quantile_cont({x}, {qs}) FROM ({relation}) "
                f"WHERE {x} IS NOT NULL AND NOT isnan({x})"
            ).fetchall()
            cut[name] = NumericHistogram(tuple(sorted({float(v) for v in got or ()})), ())
        for name, c in count_all(con, relation, cut).items():
            out[name] = NumericHistogram(cut[name].edges, tuple(int(x) for x in c))
    return {name: out[name] for name in features}


def _spread_out(con: duckdb.DuckDBPyConnection, relation: str, numeric: list[str]) -> set[str]:
    """The numeric features whose first rows (up to `_SAMPLE_ROWS`) are mostly distinct (by
    HyperLogLog's estimate): too many values to count one by one. A relation that is all seen
    in the sample is not."""
    if not numeric:
        return set()
    cols = ", ".join(f"{_number(f)} AS _n{i}" for i, f in enumerate(numeric))
    distinct = ", ".join(f"approx_count_distinct(_n{i})" for i in range(len(numeric)))
    ((rows, *values),) = con.execute(
        f"SELECT count(*), {distinct} FROM (SELECT {cols} FROM ({relation}) LIMIT {_SAMPLE_ROWS})"
    ).fetchall()
    if rows < _SAMPLE_ROWS:
        return set()
    return {f for f, d in zip(numeric, values, strict=True) if d > _DISTINCT_SHARE * rows}


def _fit_grouped(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    numeric: list[str],
    categorical: list[str],
    qs: list[float],
    max_categories: int,
) -> dict[str, Histogram]:
    """Histograms of `numeric` and `categorical` from their distinct values' counts: one scan."""
    rows = con.execute(_fit_sql(relation, numeric, categorical, qs, max_categories)).fetchall()
    names = [*numeric, *categorical]
    missing = dict.fromkeys(names, 0)
    totals = dict.fromkeys(names, 0)
    around: dict[str, list[tuple[float, int, int, float | None, float | None]]] = {}
    top: dict[str, list[tuple[str, int]]] = {}
    for part, f, x, v, n, below, prev, nxt, total in rows:
        name = names[f]
        if part == 0:
            missing[name] = int(n)
        elif part == 1:
            around.setdefault(name, []).append((float(x), int(below), int(n), prev, nxt))
            totals[name] = int(total)
        else:
            top.setdefault(name, []).append((str(v), int(n)))
            totals[name] = int(total)

    out: dict[str, Histogram] = {}
    undetermined: dict[str, NumericHistogram] = {}
    near = {name: sorted(around.get(name, [])) for name in numeric}
    cuts = _quantiles(con, near, totals, qs)
    for name in numeric:
        edges = cuts[name]
        counts = _numeric_counts(near[name], totals[name], edges, missing[name])
        if counts is None:  # not settled by the rows around the quantiles: count them
            undetermined[name] = NumericHistogram(edges, ())
        else:
            out[name] = NumericHistogram(edges, counts)
    if undetermined:
        for name, c in count_all(con, relation, undetermined).items():
            out[name] = NumericHistogram(undetermined[name].edges, tuple(int(x) for x in c))
    for name in categorical:
        best = top.get(name, [])  # in the query's order: count descending, then value
        known = [n for _, n in best]
        out[name] = CategoricalHistogram(
            tuple(v for v, _ in best), (*known, totals[name] - sum(known), missing[name])
        )
    return out


def _fit_sql(
    relation: str, numeric: list[str], categorical: list[str], qs: list[float], k: int
) -> str:
    """One scan: per feature, its missing count; numeric: the distinct values whose ranks are
    within one of each quantile's (with their neighbours and counts); categorical: the top k."""
    n_num = len(numeric)
    cols = [
        f"CASE WHEN isnan({_number(f)}) THEN NULL ELSE {_number(f)} END AS _n{i}"
        for i, f in enumerate(numeric)
    ] + [f"{_text(f)} AS _c{i}" for i, f in enumerate(categorical)]
    keys = [f"_n{i}" for i in range(n_num)] + [f"_c{i}" for i in range(len(categorical))]
    which = " ".join(f"WHEN GROUPING({key}) = 0 THEN {j}" for j, key in enumerate(keys))
    x = f"coalesce({', '.join(keys[:n_num])})" if numeric else "NULL::DOUBLE"
    v = f"coalesce({', '.join(keys[n_num:])})" if categorical else "NULL::VARCHAR"
    near = " OR ".join(
        f"(below <= ceil((total - 1)::DOUBLE * {_double(q)}) + 1 "
        f"AND below + n >= floor((total - 1)::DOUBLE * {_double(q)}) - 1)"
        for q in qs
    )
    return f"""
WITH g AS MATERIALIZED (
    SELECT CASE {which} END AS f, {x} AS x, {v} AS v, count(*) AS n
    FROM (SELECT {", ".join(cols)} FROM ({relation}))
    GROUP BY GROUPING SETS ({", ".join(f"({key})" for key in keys)})
), num AS (
    SELECT f, x, n,
        sum(n) OVER (PARTITION BY f ORDER BY x ROWS UNBOUNDED PRECEDING) - n AS below,
        lag(x) OVER (PARTITION BY f ORDER BY x) AS prev,
        lead(x) OVER (PARTITION BY f ORDER BY x) AS next,
        sum(n) OVER (PARTITION BY f) AS total
    FROM g WHERE f < {n_num} AND x IS NOT NULL
), cat AS (
    SELECT f, v, n, sum(n) OVER (PARTITION BY f) AS total,
        row_number() OVER (PARTITION BY f ORDER BY n DESC, v) AS rank
    FROM g WHERE f >= {n_num} AND v IS NOT NULL
)
SELECT 0 AS part, f, NULL::DOUBLE, NULL::VARCHAR, n, NULL::BIGINT, NULL::DOUBLE, NULL::DOUBLE,
    NULL::BIGINT
FROM g WHERE x IS NULL AND v IS NULL
UNION ALL
SELECT 1, f, x, NULL, n, below, prev, next, total FROM num WHERE {near or "false"}
UNION ALL
SELECT 2, f, NULL, v, n, NULL, NULL, NULL, total FROM cat WHERE rank <= {k}
ORDER BY 1, 2, 3, 5 DESC, 4
"""


def _quantiles(
    con: duckdb.DuckDBPyConnection,
    near: Mapping[str, Sequence[tuple[float, int, int, float | None, float | None]]],
    totals: Mapping[str, int],
    qs: Sequence[float],
) -> dict[str, tuple[float, ...]]:
    """Each numeric feature's cut points: DuckDB's `quantile_cont` (ties merged), from the
    distinct values whose ranks `below ≤ r < below + n` cover each quantile's two neighbouring
    ranks. DuckDB interpolates the pairs itself (a two-value `quantile_cont`), so the cut points
    are its own to the last bit."""

    def at(rows: Sequence[tuple[float, int, int, Any, Any]], rank: int) -> float:
        for x, below, n, _, _ in rows:
            if below <= rank < below + n:
                return x
        raise AssertionError(f"rank {rank} not fetched")  # the query keeps these rows

    cuts: dict[str, list[float]] = {name: [] for name in near}
    pairs: list[tuple[str, float, float, float]] = []
    for name, rows in near.items():
        if not totals[name]:
            continue
        for q in qs:
            rn = float(totals[name] - 1) * q  # as DuckDB: (double)(n - 1) * q, floor and ceil
            lo, hi = math.floor(rn), math.ceil(rn)
            if lo == hi:
                cuts[name].append(at(rows, lo))
            else:
                pairs.append((name, at(rows, lo), at(rows, hi), rn - lo))
    if pairs:
        exprs = [
            f"list_aggregate([{_double(a)}, {_double(b)}], 'quantile_cont', {_double(d)})"
            for _, a, b, d in pairs
        ]
        ((values,),) = con.execute(f"SELECT [{', '.join(exprs)}]").fetchall()
        for (name, *_), value in zip(pairs, values, strict=True):
            cuts[name].append(float(value))
    return {name: tuple(sorted(set(c))) for name, c in cuts.items()}


def _numeric_counts(
    near: Sequence[tuple[float, int, int, float | None, float | None]],
    total: int,
    edges: Sequence[float],
    missing: int,
) -> tuple[int, ...] | None:
    """Bucket counts from the rows around the cut points (`#(x ≤ e)` is settled by a fetched
    value and its neighbour), or None when some cut point is not settled."""
    at_most = []
    for e in edges:
        got = None
        for x, below, n, prev, nxt in near:
            if x <= e and (nxt is None or e < nxt):
                got = below + n
                break
            if x > e and (prev is None or prev <= e):
                got = below
                break
        if got is None:
            return None
        at_most.append(got)
    bounds = [0, *at_most, total]
    return (*(bounds[i + 1] - bounds[i] for i in range(len(edges) + 1)), missing)


def count_all(
    con: duckdb.DuckDBPyConnection, relation: str, baseline: Mapping[str, Histogram]
) -> dict[str, np.ndarray]:
    """Counts of every baseline feature over `relation` in its histogram's buckets (as each
    `hist.count` gives), in one scan."""
    import numpy as np

    if not baseline:
        return {}
    cols: list[str] = []
    aggs: list[str] = []
    for i, (name, hist) in enumerate(baseline.items()):
        c, bare = f"_f{i}", f"_b{i}"  # `count(bare)`: see _cast
        cols.append(f"{quote_ident(name)} AS {bare}")
        if isinstance(hist, NumericHistogram):
            cols.append(f"{_cast(name, 'DOUBLE', try_=True, guard=False)} AS {c}")
            aggs += [f"count_if({c} <= {_double(e)})" for e in hist.edges]
            aggs += [f"count({c}) - count_if(isnan({c}))", "count(*)", f"count({bare})"]
        else:
            cols.append(f"{_cast(name, 'VARCHAR', guard=False)} AS {c}")
            cats = [quote_literal(v) for v in hist.categories]
            if len(cats) <= _EQUALITY_TESTS:
                aggs += [f"count_if({c} = {v})" for v in cats]
            else:
                index = ", ".join(f"{v}: {j}" for j, v in enumerate(cats))
                aggs.append(f"histogram(MAP {{{index}}}[{c}])")
            aggs += [f"count({bare})", "count(*)"]  # a cast to text is NULL only for NULL
    (row,) = con.execute(
        f"SELECT {', '.join(aggs)} FROM (SELECT {', '.join(cols)} FROM ({relation}))"
    ).fetchall()
    values: list[Any] = [0 if c is None else c for c in row]  # count_if of no rows is NULL
    out: dict[str, np.ndarray] = {}
    pos = 0
    for name, hist in baseline.items():
        if isinstance(hist, NumericHistogram):
            k = len(hist.edges)
            at_most = [int(c) for c in values[pos : pos + k]]
            valid, rows = int(values[pos + k]), int(values[pos + k + 1])
            pos += k + 3
            bounds = [0, *at_most, valid]
            counts = [bounds[i + 1] - bounds[i] for i in range(k + 1)]
            out[name] = np.asarray([*counts, rows - valid], dtype="int64")
        else:
            k = len(hist.categories)
            if k <= _EQUALITY_TESTS:
                known = [int(c) for c in values[pos : pos + k]]
                pos += k
            else:
                found = values[pos] or {}
                known = [int(found.get(j, 0)) for j in range(k)]
                pos += 1
            present, rows = int(values[pos]), int(values[pos + 1])
            pos += 2
            out[name] = np.asarray([*known, present - sum(known), rows - present], dtype="int64")
    return out


def count(
    con: duckdb.DuckDBPyConnection, relation: str, feature: str, hist: Histogram
) -> np.ndarray:
    """Counts of `feature` over `relation` in the buckets of `hist` (as `hist.count` gives)."""
    return count_all(con, relation, {feature: hist})[feature]


def to_dicts(hists: Mapping[str, Histogram]) -> dict[str, Any]:
    """JSON form of a baseline (feature → histogram)."""
    return {name: h.to_dict() for name, h in hists.items()}
