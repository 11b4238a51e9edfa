"""Schema inference: each column's storage type and what kind of feature it is.

The *kind* (numeric, categorical, boolean, datetime, text, identifier) is what later steps act
on: AutoML drops identifiers and featurises text, monitoring picks Jensen-Shannon divergence for
numeric columns and L-infinity distance for categorical ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pmle.data.stats import type_family

if TYPE_CHECKING:
    import pyarrow as pa

KINDS = ("numeric", "categorical", "boolean", "datetime", "text", "identifier")

# A string column with more distinct values than this is not treated as categorical ...
MAX_CATEGORIES = 1000
# ... nor is one whose values are mostly distinct and several words long (free text).
TEXT_MIN_WORDS = 3.0


@dataclass(frozen=True)
class Column:
    """One column of a dataset's schema."""

    name: str
    type: str  # the Arrow type, e.g. "int64", "string", "timestamp[us]"
    family: str  # integer | float | boolean | string | datetime | date | other
    kind: str  # one of KINDS
    nullable: bool
    note: str = ""  # why the kind was chosen, when it is not obvious

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def infer_kind(family: str, stats: dict[str, Any], num_rows: int) -> tuple[str, str]:
    """The kind of a column from its type family and statistics, with a note explaining it."""
    distinct = int(stats.get("distinct") or 0)
    count = int(stats.get("count") or 0)
    all_unique = count > 0 and distinct == count == num_rows and num_rows >= 50
    if family == "boolean":
        return "boolean", ""
    if family in {"datetime", "date"}:
        return "datetime", ""
    if family == "integer":
        lo, hi = stats.get("min"), stats.get("max")
        if distinct <= 2 and lo is not None and lo >= 0 and hi is not None and hi <= 1:
            return "boolean", "integer 0/1 flag"
        if all_unique:
            return "identifier", "every value is distinct"
        return "numeric", ""
    if family == "float":
        return "numeric", ""
    if family == "string":
        words = float(stats.get("mean_words") or 0.0)
        if distinct > 0.5 * max(count, 1) and words >= TEXT_MIN_WORDS:
            return "text", f"{words:.1f} words per value on average"
        if all_unique:
            return "identifier", "every value is distinct"
        if distinct > MAX_CATEGORIES:
            if words >= 2.0:
                return "text", f"{distinct} distinct values, {words:.1f} words each"
            return "categorical", f"high cardinality: {distinct} distinct values"
        return "categorical", ""
    return "categorical", f"stored as {family}"


def infer_schema(table: pa.Table, stats: dict[str, Any]) -> list[Column]:
    """The schema of `table` given its statistics (see :func:`pmle.data.stats.compute_stats`)."""
    out = []
    n = table.num_rows
    for field in table.schema:
        col_stats = stats["columns"][field.name]
        family = type_family(field.type)
        kind, note = infer_kind(family, col_stats, n)
        if col_stats.get("distinct", 0) <= 1 and n > 1:
            note = (note + "; " if note else "") + "constant"
        out.append(
            Column(
                name=field.name,
                type=str(field.type),
                family=family,
                kind=kind,
                nullable=bool(col_stats.get("nulls", 0)),
                note=note,
            )
        )
    return out
