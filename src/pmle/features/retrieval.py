"""Point-in-time retrieval: for each row of an entity table (join keys and a timestamp), the
latest feature values at or before that timestamp and within the view's time to live — never
a value from the future — with DuckDB's ASOF JOIN, one per feature view.

`feature_values` reads a view without an entity table: every feature row in a time range, or
the latest row per entity as of a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput, NotFound
from pmle.storage.warehouse import quote_ident, quote_literal

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from pmle.features.definitions import FeatureView
    from pmle.features.store import FeatureStore

__all__ = ["FeatureRef", "feature_values", "parse_features", "training_set"]

ROW = "__pmle_row"
TS = "__pmle_ts"


@dataclass(frozen=True)
class FeatureRef:
    """Features wanted from one view."""

    view: FeatureView
    features: tuple[str, ...]


def parse_features(store: FeatureStore, wanted: Sequence[str]) -> list[FeatureRef]:
    """`view:feature` / `view` (all its features) / `view:*` → the views and their features,
    in the order asked, every name checked."""
    if not wanted:
        raise InvalidInput("name at least one feature (view:feature, or view for all)")
    order: list[str] = []
    chosen: dict[str, list[str]] = {}
    views: dict[str, FeatureView] = {}
    for text in wanted:
        name, _, feature = str(text).partition(":")
        if name not in views:
            try:
                views[name] = store.view(name).view
            except NotFound as exc:
                raise InvalidInput(
                    f"unknown feature view {name!r} in {text!r}", hint=exc.hint
                ) from None
            order.append(name)
            chosen[name] = []
        view = views[name]
        if feature in ("", "*"):
            names = view.feature_names
        elif feature in view.feature_names:
            names = [feature]
        else:
            raise InvalidInput(
                f"feature view {name!r} has no feature {feature!r}",
                hint=f"its features: {', '.join(view.feature_names)}",
            )
        chosen[name] += [n for n in names if n not in chosen[name]]
    return [FeatureRef(views[n], tuple(chosen[n])) for n in order]


def _entity_table(entities: Any) -> pa.Table | None:
    """The entity rows as an Arrow table with their positions in column `ROW`; None for a
    table name or SQL, which the warehouse holds."""
    import numpy as np
    import pyarrow as pa

    if isinstance(entities, str):
        if not entities.strip():
            raise InvalidInput("empty entity table")
        return None
    if isinstance(entities, pa.Table):
        table = entities
    else:
        try:
            table = pa.Table.from_pandas(entities, preserve_index=False)
        except (TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(
                f"the entity rows must be a DataFrame, an Arrow table, a table name or SQL ({exc})"
            ) from None
    if ROW in table.column_names:
        raise InvalidInput(f"the entity rows have a column named {ROW!r}, which pmle reserves")
    return table.append_column(ROW, pa.array(np.arange(table.num_rows, dtype=np.int64)))


def _entity_relation(con: duckdb.DuckDBPyConnection, entities: Any, table: pa.Table | None) -> str:
    """Register the entity rows on the connection; returns a relation to select from."""
    if table is not None:
        con.register("__pmle_entities", table)
        return "__pmle_entities"
    text = str(entities).strip()
    if text.split(None, 1)[0].upper() in {"SELECT", "WITH", "FROM"}:
        return f"({text})"
    return quote_ident(text)


def _describe(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    import duckdb

    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {relation} LIMIT 0").fetchall()
    except duckdb.Error as exc:
        raise InvalidInput(f"cannot read the entity rows: {str(exc).splitlines()[0]}") from None
    return {str(r[0]): str(r[1]).upper() for r in rows}


def training_set(
    store: FeatureStore,
    entities: Any,
    features: Sequence[str],
    *,
    timestamp: str = "event_timestamp",
    full_names: bool = False,
    register: str | None = None,
) -> pa.Table:
    """For each entity row, the features named (`view:feature`) as they were at the row's
    `timestamp`: the latest value at or before it, null when none or older than the view's
    time to live. Rows keep their order and columns; features follow (`view__feature` with
    `full_names`). `register` stores the result as a dataset version with lineage."""
    import duckdb

    refs = parse_features(store, features)
    table = _entity_table(entities)
    with store.connect_sources((ref.view for ref in refs), warehouse=table is None) as con:
        con.execute("SET TimeZone = 'UTC'")
        relation = _entity_relation(con, entities, table)
        columns = _describe(con, relation)
        columns.pop(ROW, None)
        if timestamp not in columns:
            raise InvalidInput(
                f"the entity rows lack the timestamp column {timestamp!r}",
                hint=f"they have: {', '.join(columns)}; pass timestamp= to name another",
            )
        names = _output_names(refs, columns, full_names)
        entity_ts = quote_ident(timestamp)
        casts: dict[str, str] = {}  # view timestamp type → the entity column cast to it
        joins = []
        values = []
        for n, ref in enumerate(refs):
            alias = f"__v{n}"
            keys = store.join_keys(ref.view)
            for key in keys:
                if key not in columns:
                    raise InvalidInput(
                        f"the entity rows lack join key {key!r} of feature view {ref.view.name!r}",
                        hint=f"they have: {', '.join(columns)}",
                    )
            source = store.source_sql(ref.view)
            view_ts = _describe(con, f"({source})").get(ref.view.timestamp, "")
            # Compare in the feature side's type, converting the (smaller) entity side, floored
            # so that it can never reach a later feature row; rare coarse feature types are
            # converted on the feature side instead.
            feature_ts = quote_ident(ref.view.timestamp)
            entity_type = columns[timestamp]
            if view_ts == entity_type or not view_ts:
                at = f"__e.{entity_ts}"
            elif (converted := _floored(entity_ts, entity_type, view_ts)) is not None:
                casts.setdefault(converted, f"{TS}_{len(casts)}")
                at = f"__e.{casts[converted]}"
            else:
                feature_ts = f"CAST({feature_ts} AS TIMESTAMP)"
                converted = _floored(entity_ts, entity_type, "TIMESTAMP") or entity_ts
                casts.setdefault(converted, f"{TS}_{len(casts)}")
                at = f"__e.{casts[converted]}"
            inner = ", ".join(
                [*(quote_ident(k) for k in keys), f"{feature_ts} AS {TS}"]
                + [quote_ident(f) for f in ref.features]
            )
            on = " AND ".join(
                [f"__e.{quote_ident(k)} = {alias}.{quote_ident(k)}" for k in keys]
                + [f"{at} >= {alias}.{TS}"]
            )
            joins.append(f"ASOF LEFT JOIN (SELECT {inner} FROM ({source})) {alias} ON {on}")
            ttl = ref.view.ttl
            fresh = f"{alias}.{TS} >= {at} - to_seconds({ttl!r})" if ttl is not None else None
            for feature in ref.features:
                value = f"{alias}.{quote_ident(feature)}"
                if fresh is not None:
                    value = f"CASE WHEN {fresh} THEN {value} END"
                values.append(f"{value} AS {quote_ident(names[(ref.view.name, feature)])}")
        extra = "".join(f", {expr} AS {c}" for expr, c in casts.items())
        hidden = ", ".join([ROW, *casts.values()])
        if table is None:  # rows from the warehouse: number them as they come
            extra = f", row_number() OVER () AS {ROW}{extra}"
        sql = (
            f"WITH __e AS (SELECT *{extra} FROM {relation}) "
            f"SELECT __e.* EXCLUDE ({hidden}), {', '.join(values)} "
            f"FROM __e {' '.join(joins)} ORDER BY __e.{ROW}"
        )
        try:
            table = con.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise InvalidInput(f"point-in-time join failed: {str(exc).splitlines()[0]}") from None
    if register is not None:
        _register(store, register, table, refs, features)
    return table


def _floored(column: str, have: str, want: str) -> str | None:
    """`column` (of DuckDB type `have`) as type `want`, never later than it was (None when
    only the feature side can be converted exactly)."""
    if have == "TIMESTAMP_NS":  # a plain cast would round to the microsecond
        ns = f"epoch_ns({column})"
        micros = f"make_timestamp(({ns} - ((({ns} % 1000) + 1000) % 1000)) // 1000)"
    else:  # DATE, TIMESTAMP_S / _MS, TIMESTAMP, TIMESTAMPTZ (UTC session): exact
        micros = f"CAST({column} AS TIMESTAMP)"
    if want == "TIMESTAMP":
        return micros
    if want == "TIMESTAMP WITH TIME ZONE":
        return f"CAST({micros} AS TIMESTAMPTZ)"
    if want == "TIMESTAMP_NS" and have != "TIMESTAMP_NS":
        return f"CAST({column} AS TIMESTAMP_NS)"  # finer: exact
    return None


def _output_names(
    refs: Sequence[FeatureRef], columns: dict[str, str], full_names: bool
) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    taken = set(columns)
    for ref in refs:
        for feature in ref.features:
            name = f"{ref.view.name}__{feature}" if full_names else feature
            if name in taken:
                raise InvalidInput(
                    f"feature {feature!r} of {ref.view.name!r} clashes with a column of the "
                    "same name",
                    hint="pass full_names=True (--full-names) to name features view__feature",
                )
            taken.add(name)
            out[(ref.view.name, feature)] = name
    return out


def _register(
    store: FeatureStore,
    name: str,
    table: pa.Table,
    refs: Sequence[FeatureRef],
    asked: Sequence[str],
) -> None:
    inputs = []
    for ref in refs:
        version = store.view(ref.view.name)
        if version.lineage_artifact_id:
            inputs.append((version.lineage_artifact_id, "feature_view"))
    store.workspace.datasets.import_derived(
        name,
        table,
        source=f"training set: {', '.join(asked)}",
        inputs=inputs,
        execution=("PointInTimeJoin", {"features": list(asked)}),
    )


def _epoch_literal(value: datetime | float | str) -> str:
    if isinstance(value, datetime):
        return f"to_timestamp({value.timestamp()!r})"
    if isinstance(value, int | float):
        return f"to_timestamp({float(value)!r})"
    return f"{quote_literal(str(value))}::TIMESTAMPTZ"


def feature_values(
    store: FeatureStore,
    view_name: str,
    *,
    start: datetime | float | str | None = None,
    end: datetime | float | str | None = None,
    latest: bool = False,
) -> pa.Table:
    """A view's rows (join keys, timestamp, features) with `start` ≤ time < `end`; with
    `latest`, only the newest row per entity at or before `end` (and within the TTL)."""
    import duckdb

    view = store.view(view_name).view
    keys = store.join_keys(view)
    ts = quote_ident(view.timestamp)
    cols = ", ".join([*(quote_ident(k) for k in keys), ts, *map(quote_ident, view.feature_names)])
    where = []
    if start is not None:
        where.append(f"{ts}::TIMESTAMPTZ >= {_epoch_literal(start)}")
    if end is not None:
        where.append(f"{ts}::TIMESTAMPTZ < {_epoch_literal(end)}")
    if latest and view.ttl is not None:
        until = _epoch_literal(end) if end is not None else "now()"
        where.append(f"{ts}::TIMESTAMPTZ >= {until} - to_seconds({view.ttl!r})")
    sql = f"SELECT {cols} FROM ({store.source_sql(view)})"
    if where:
        sql += " WHERE " + " AND ".join(where)
    if latest:
        sql += f" QUALIFY row_number() OVER (PARTITION BY {', '.join(map(quote_ident, keys))} "
        sql += f"ORDER BY {ts} DESC) = 1"
    sql += f" ORDER BY {ts}, {', '.join(map(quote_ident, keys))}"
    with store.connect_sources([view]) as con:
        con.execute("SET TimeZone = 'UTC'")
        try:
            return con.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise InvalidInput(f"cannot read {view.name}: {str(exc).splitlines()[0]}") from None
