"""Column statistics of a table, computed by DuckDB in a few passes and stored as JSON.

They are kept with each dataset version because monitoring compares serving data against them:
numeric columns get quantiles and an equal-width histogram, every column gets counts, nulls,
distinct values and its most frequent values.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import TYPE_CHECKING, Any

from pmle.storage.warehouse import quote_ident

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
HISTOGRAM_BINS = 20
TOP_VALUES = 20
CATEGORY_HISTOGRAM = 50


def type_family(arrow_type: pa.DataType) -> str:
    """Coarse family of an Arrow type: integer, float, boolean, string, datetime, date, other."""
    import pyarrow.types as pt

    if pt.is_boolean(arrow_type):
        return "boolean"
    if pt.is_integer(arrow_type):
        return "integer"
    if pt.is_floating(arrow_type) or pt.is_decimal(arrow_type):
        return "float"
    if pt.is_string(arrow_type) or pt.is_large_string(arrow_type) or pt.is_string_view(arrow_type):
        return "string"
    if pt.is_timestamp(arrow_type):
        return "datetime"
    if pt.is_date(arrow_type):
        return "date"
    if pt.is_dictionary(arrow_type):
        return type_family(arrow_type.value_type)
    return "other"


def jsonable(value: Any) -> Any:
    """A value as JSON can hold it (NaN / inf become None, dates ISO strings)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "item"):  # numpy scalar
        return jsonable(value.item())
    return str(value)


def compute_stats(table: pa.Table) -> dict[str, Any]:
    """Statistics for every column of `table`: `{"num_rows": n, "columns": {name: {...}}}`."""
    import duckdb

    con = duckdb.connect()
    try:
        con.register("t", table)
        n = table.num_rows
        columns: dict[str, Any] = {}
        families = {f.name: type_family(f.type) for f in table.schema}
        base = _base_stats(con, families)
        for name, family in families.items():
            col = base[name]
            col["family"] = family
            col["count"] = n - col["nulls"]
            col["null_fraction"] = (col["nulls"] / n) if n else 0.0
            if family in {"integer", "float"} and col["count"]:
                col["histogram"] = _histogram(con, name, col["min"], col["max"])
            if family in {"string", "boolean", "integer"} or (
                family == "float" and col["distinct"] <= TOP_VALUES
            ):
                col["top_values"] = _top_values(con, name, TOP_VALUES)
            if family in {"string", "boolean"}:
                col["categories"] = _category_histogram(con, name, col["count"])
            columns[name] = col
        return {"num_rows": n, "columns": columns}
    finally:
        con.close()


def _base_stats(con: duckdb.DuckDBPyConnection, families: dict[str, str]) -> dict[str, Any]:
    """One aggregate query over all columns: counts, nulls, distinct, moments, quantiles."""
    exprs: list[str] = []
    keys: list[tuple[str, str]] = []

    def add(name: str, key: str, expr: str) -> None:
        exprs.append(f"{expr} AS c{len(exprs)}")
        keys.append((name, key))

    for name, family in families.items():
        q = quote_ident(name)
        add(name, "nulls", f"count(*) - count({q})")
        if family == "other":
            add(name, "distinct", f"count(DISTINCT {q}::VARCHAR)")
            continue
        add(name, "distinct", f"count(DISTINCT {q})")
        if family in {"integer", "float"}:
            x = f"{q}::DOUBLE"
            finite = f"CASE WHEN isfinite({x}) THEN {x} END"
            add(name, "min", f"min({finite})")
            add(name, "max", f"max({finite})")
            add(name, "mean", f"avg({finite})")
            add(name, "std", f"stddev_samp({finite})")
            add(name, "zeros", f"count(*) FILTER (WHERE {x} = 0)")
            add(name, "quantiles", f"quantile_cont({finite}, {list(QUANTILES)})")
        elif family in {"datetime", "date"}:
            add(name, "min", f"min({q})")
            add(name, "max", f"max({q})")
        elif family == "string":
            add(name, "min_length", f"min(length({q}))")
            add(name, "max_length", f"max(length({q}))")
            add(name, "mean_length", f"avg(length({q}))")
            add(name, "mean_words", f"avg(len(string_split(trim({q}), ' ')))")
        elif family == "boolean":
            add(name, "true_fraction", f"avg({q}::INTEGER)")
    row = con.execute(f"SELECT {', '.join(exprs)} FROM t").fetchone() or ()
    out: dict[str, dict[str, Any]] = {name: {} for name in families}
    for (name, key), value in zip(keys, row, strict=True):
        if key == "quantiles":
            qs = value or []
            out[name]["quantiles"] = {
                str(q): jsonable(v) for q, v in zip(QUANTILES, qs, strict=False)
            }
        else:
            out[name][key] = jsonable(value)
    return out


def _histogram(con: duckdb.DuckDBPyConnection, name: str, lo: Any, hi: Any) -> dict[str, Any]:
    """Equal-width histogram over [min, max] (a single bin when the column is constant)."""
    if lo is None or hi is None:
        return {"edges": [], "counts": []}
    q = quote_ident(name)
    if hi <= lo:
        count = con.execute(f"SELECT count({q}) FROM t WHERE isfinite({q}::DOUBLE)").fetchone()
        return {"edges": [lo, hi], "counts": [int(count[0]) if count else 0]}
    bins = HISTOGRAM_BINS
    width = (hi - lo) / bins
    rows = con.execute(
        f"SELECT least(floor(({q}::DOUBLE - ?) / ?), ?)::INTEGER AS bucket, count(*) FROM t "
        f"WHERE isfinite({q}::DOUBLE) GROUP BY 1 ORDER BY 1",
        [lo, width, bins - 1],
    ).fetchall()
    counts = [0] * bins
    for b, c in rows:
        counts[int(b)] = int(c)
    edges = [lo + i * width for i in range(bins)] + [hi]
    return {"edges": edges, "counts": counts}


def _top_values(con: duckdb.DuckDBPyConnection, name: str, limit: int) -> list[dict[str, Any]]:
    q = quote_ident(name)
    rows = con.execute(
        f"SELECT {q} AS v, count(*) AS n FROM t WHERE {q} IS NOT NULL "
        f"GROUP BY v ORDER BY n DESC, v LIMIT {int(limit)}"
    ).fetchall()
    return [{"value": jsonable(v), "count": int(c)} for v, c in rows]


def _category_histogram(con: duckdb.DuckDBPyConnection, name: str, count: int) -> dict[str, Any]:
    """Counts of the most frequent categories and of all the others together."""
    top = _top_values(con, name, CATEGORY_HISTOGRAM)
    shown = sum(t["count"] for t in top)
    return {
        "values": [t["value"] for t in top],
        "counts": [t["count"] for t in top],
        "other": count - shown,
    }
