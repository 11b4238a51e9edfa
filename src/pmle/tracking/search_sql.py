"""Run searches as SQL: the clauses and orderings of :mod:`pmle.tracking.search` turned into
one SELECT of run ids (each metric, parameter or tag named joins its table once)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pmle._util import as_utc
from pmle.errors import InvalidInput
from pmle.storage import schema as t
from pmle.tracking.search import Clause, Order

__all__ = ["search_query"]


def search_query(
    experiments: Sequence[str] | None,
    clauses: list[Clause],
    orders: list[Order],
    max_results: int | None,
    parent_id: int | None = None,
) -> Any:
    """SELECT the ids of the runs matching, in order (missing values of an ordering last,
    then newest first)."""
    import sqlalchemy as sa

    r, e = t.tracking_runs, t.experiments
    source: Any = r.join(e, r.c.experiment_id == e.c.id)
    conditions: list[Any] = []
    if experiments is not None:
        conditions.append(e.c.name.in_(list(experiments)))
    if parent_id is not None:
        conditions.append(r.c.parent_id == parent_id)
    for i, clause in enumerate(clauses):
        source, condition = _apply(source, r, clause, f"f{i}")
        conditions.append(condition)
    order_columns: list[Any] = []
    for i, order in enumerate(orders):
        source, column = _order_column(source, r, order, f"o{i}")
        order_columns.append(column.is_(None))  # missing values last
        order_columns.append(column.desc() if order.descending else column.asc())
    order_columns += [r.c.started_at.desc(), r.c.id.desc()]
    query = sa.select(r.c.id).select_from(source).where(*conditions).order_by(*order_columns)
    return query if max_results is None else query.limit(max_results)


def _attribute_value(column: str, value: Any) -> Any:
    if column in {"started_at", "ended_at"}:
        values = value if isinstance(value, tuple) else (value,)
        parsed = []
        for v in values:
            try:
                parsed.append(as_utc(datetime.fromisoformat(str(v))))
            except ValueError:
                raise InvalidInput(
                    f"{column} compares with ISO times, got {v!r}", hint="e.g. '2026-11-27T12:00'"
                ) from None
        return tuple(parsed) if isinstance(value, tuple) else parsed[0]
    return value


def _compare(column: Any, op: str, value: Any) -> Any:
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "LIKE":
        return column.like(value)
    if op == "ILIKE":
        return column.ilike(value)
    if op == "IN":
        return column.in_(list(value))
    return column.not_in(list(value))  # NOT IN


def _numeric(value: Any) -> bool:
    values = value if isinstance(value, tuple) else (value,)
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _keyed(kind: str) -> Any:
    return {"metric": t.run_latest_metrics, "param": t.run_params, "tag": t.run_tags}[kind]


def _apply(source: Any, r: Any, clause: Clause, label: str) -> tuple[Any, Any]:
    import sqlalchemy as sa

    if clause.kind == "attribute":
        column = r.c[clause.key]
        return source, _compare(column, clause.op, _attribute_value(clause.key, clause.value))
    table = _keyed(clause.kind).alias(label)
    source = source.join(table, sa.and_(table.c.run_id == r.c.id, table.c.key == clause.key))
    column = table.c.value
    value = clause.value
    if clause.kind != "metric":
        if _numeric(value) and clause.op not in {"LIKE", "ILIKE"}:
            column = sa.cast(column, sa.Float)
        elif isinstance(value, tuple):
            value = tuple(str(v) for v in value)
        else:
            value = str(value)
    return source, _compare(column, clause.op, value)


def _order_column(source: Any, r: Any, order: Order, label: str) -> tuple[Any, Any]:
    import sqlalchemy as sa

    if order.kind == "attribute":
        return source, r.c[order.key]
    table = _keyed(order.kind).alias(label)
    source = source.outerjoin(table, sa.and_(table.c.run_id == r.c.id, table.c.key == order.key))
    return source, table.c.value
