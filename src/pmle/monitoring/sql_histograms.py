"""The histograms of `distances`, computed by DuckDB over any relation — a dataset view, the
`prediction_log`, Parquet files — so memory stays bounded whatever the row count.

Each feature is one aggregate query over its column: quantiles (`quantile_cont`, the same
linear interpolation as numpy's default) to fit numeric buckets, then a CASE over the cut points
to count them; `GROUP BY` for categories. DuckDB scans one column per query, on all threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.monitoring.distances import (
    MAX_CATEGORIES,
    NUMERIC_BUCKETS,
    CategoricalHistogram,
    NumericHistogram,
)
from pmle.storage.warehouse import quote_ident

if TYPE_CHECKING:
    import duckdb
    import numpy as np

Histogram = NumericHistogram | CategoricalHistogram
KINDS = ("numeric", "categorical")


def _number(column: str) -> str:
    return f"TRY_CAST({quote_ident(column)} AS DOUBLE)"


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
    out: dict[str, Histogram] = {}
    qs = [i / buckets for i in range(1, buckets)]
    for name, kind in features.items():
        if kind == "numeric":
            x = _number(name)
            row = con.execute(
                f"SELECT quantile_cont({x}, {qs}) FROM ({relation}) "
                f"WHERE {x} IS NOT NULL AND NOT isnan({x})"
            ).fetchone()
            cuts = sorted({float(v) for v in (row[0] if row and row[0] else [])})
            hist = NumericHistogram(tuple(cuts), ())
            out[name] = NumericHistogram(
                hist.edges, tuple(int(c) for c in count(con, relation, name, hist))
            )
        else:
            col = quote_ident(name)
            rows = con.execute(
                f"SELECT CAST({col} AS VARCHAR) AS v, count(*) AS n FROM ({relation}) "
                f"WHERE {col} IS NOT NULL GROUP BY 1 ORDER BY n DESC, v LIMIT {int(max_categories)}"
            ).fetchall()
            hist_c = CategoricalHistogram(tuple(str(v) for v, _ in rows), ())
            out[name] = CategoricalHistogram(
                hist_c.categories, tuple(int(c) for c in count(con, relation, name, hist_c))
            )
    return out


def count(
    con: duckdb.DuckDBPyConnection, relation: str, feature: str, hist: Histogram
) -> np.ndarray:
    """Counts of `feature` over `relation` in the buckets of `hist` (as `hist.count` gives)."""
    import numpy as np

    if isinstance(hist, NumericHistogram):
        x = _number(feature)
        whens = " ".join(f"WHEN {x} <= {e!r} THEN {i}" for i, e in enumerate(hist.edges))
        missing = len(hist.edges) + 1
        bucket = (
            f"CASE WHEN {x} IS NULL OR isnan({x}) THEN {missing} {whens} ELSE {len(hist.edges)} END"
        )
        size = len(hist.edges) + 2
    else:
        col = quote_ident(feature)
        cats = ", ".join("'" + c.replace("'", "''") + "'" for c in hist.categories)
        position = f"list_position([{cats}]::VARCHAR[], CAST({col} AS VARCHAR))" if cats else "NULL"
        other = len(hist.categories)
        bucket = (
            f"CASE WHEN {col} IS NULL THEN {other + 1} ELSE coalesce({position} - 1, {other}) END"
        )
        size = other + 2
    rows = con.execute(f"SELECT {bucket} AS b, count(*) FROM ({relation}) GROUP BY 1").fetchall()
    out = np.zeros(size, dtype="int64")
    for b, n in rows:
        out[int(b)] = int(n)
    return out


def to_dicts(hists: Mapping[str, Histogram]) -> dict[str, Any]:
    """JSON form of a baseline (feature → histogram)."""
    return {name: h.to_dict() for name, h in hists.items()}
