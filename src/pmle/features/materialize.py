"""Materialization: the latest feature values per entity copied from a view's source into the
online store — everything up to now (full), or only events since the last run (incremental) —
and online reads with the view's time to live applied.

A run reads its time window once: DuckDB picks each entity's newest row in it (`arg_max`),
renders its values as JSON and stages them in a temporary table. The entities are then written
in chunks by a hash of their key, so each entity is written once, and each finished chunk is
recorded (`feature_materializations`): a killed run stages its window again and writes only the
chunks still missing. The online store keeps the newest record per entity, so chunks and re-runs
can never move a value back in time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.features.online import entity_key
from pmle.storage.warehouse import quote_ident

if TYPE_CHECKING:
    import duckdb
    from sqlalchemy import Connection

    from pmle.features.store import FeatureStore, ViewVersion

__all__ = [
    "Freshness",
    "MaterializationRun",
    "OnlineReader",
    "freshness",
    "materialize",
    "online_features",
]

#: (view, chunks done, chunks in the run)
ProgressFn = Callable[[str, int, int], None]
ENTITIES_PER_CHUNK = 50_000
MAX_CHUNKS = 64
STAGED = "__pmle_latest"
WRITE_BATCH = 20_000


@dataclass(frozen=True)
class MaterializationRun:
    """One materialization of one view version into one online store."""

    id: int
    view: str
    version: int
    store: str
    start: float
    end: float
    chunks: int
    done: int
    rows: int
    state: str
    started_at: datetime
    ended_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "view": self.view,
            "version": self.version,
            "store": self.store,
            "start": self.start,
            "end": self.end,
            "chunks": self.chunks,
            "done": self.done,
            "rows": self.rows,
            "state": self.state,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }


@dataclass(frozen=True)
class Freshness:
    """How current a view's online values are."""

    view: str
    version: int
    latest_event: float | None  # the newest event time in the source
    materialized_until: float | None  # the end of the last successful run
    online_entities: int
    lag_s: float | None  # event time in the source not yet online

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "view": self.view,
            "version": self.version,
            "latest_event": self.latest_event,
            "materialized_until": self.materialized_until,
            "online_entities": self.online_entities,
            "lag_s": self.lag_s,
        }


def _epoch(value: datetime | float | str | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(
            f"bad time {value!r}", hint="use ISO 8601, e.g. 2026-11-01T00:00"
        ) from None
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _row(row: Any) -> MaterializationRun:
    from pmle._util import as_utc

    return MaterializationRun(
        row.id,
        row.view,
        row.version,
        row.store,
        row.start,
        row.end,
        len(row.chunks),
        len(row.done),
        row.rows,
        row.state,
        as_utc(row.started_at),
        as_utc(row.ended_at),
    )


def runs(store: FeatureStore, view: str | None = None) -> list[MaterializationRun]:
    """Materialization runs, newest first."""
    import sqlalchemy as sa

    from pmle.storage import schema as t

    m = t.feature_materializations
    query = sa.select(m).order_by(m.c.id.desc())
    if view is not None:
        query = query.where(m.c.view == view)
    with store.workspace.engine.begin() as conn:
        return [_row(r) for r in conn.execute(query)]


def _last(conn: Connection, view: str, version: int, url: str) -> Any:
    import sqlalchemy as sa

    from pmle.storage import schema as t

    m = t.feature_materializations
    return conn.execute(
        sa.select(m)
        .where(m.c.view == view, m.c.version == version, m.c.store == url)
        .order_by(m.c.id.desc())
        .limit(1)
    ).first()


def _last_success_end(conn: Connection, view: str, version: int, url: str) -> float | None:
    import sqlalchemy as sa

    from pmle.storage import schema as t

    m = t.feature_materializations
    return conn.execute(
        sa.select(sa.func.max(m.c.end)).where(
            m.c.view == view, m.c.version == version, m.c.store == url, m.c.state == "SUCCEEDED"
        )
    ).scalar()


def materialize(
    store: FeatureStore,
    views: Iterable[str] | None = None,
    *,
    start: datetime | float | str | None = None,
    end: datetime | float | str | None = None,
    incremental: bool = False,
    chunks: int | None = None,
    progress: ProgressFn | None = None,
    clock: Callable[[], float] = time.time,
) -> list[MaterializationRun]:
    """Materialize `views` (default: all) into the online store.

    Full (default): every event before `end` (default now), or from `start` when given.
    `incremental`: from the end of the view's last successful run. A run of the same view
    left unfinished by a crash is resumed first, without redoing its finished chunks."""
    names = list(views) if views is not None else [v.name for v in store.views()]
    if not names:
        raise InvalidInput("no feature views to materialize", hint="pmle features apply first")
    out = []
    for name in names:
        version = store.view(name)
        out.append(
            _materialize_view(store, version, start, end, incremental, chunks, progress, clock)
        )
    return out


def _materialize_view(
    store: FeatureStore,
    vv: ViewVersion,
    start: datetime | float | str | None,
    end: datetime | float | str | None,
    incremental: bool,
    chunk_count: int | None,
    progress: ProgressFn | None,
    clock: Callable[[], float],
) -> MaterializationRun:
    import sqlalchemy as sa

    from pmle._util import utcnow
    from pmle.storage import schema as t

    online = store.online
    view = vv.view
    m = t.feature_materializations
    engine = store.workspace.engine
    with engine.begin() as conn:
        last = _last(conn, view.name, vv.version, online.url)
        since = _last_success_end(conn, view.name, vv.version, online.url)
    resume = last is not None and last.state != "SUCCEEDED" and start is None and end is None
    with store.connect_sources([view]) as con:
        con.execute("SET TimeZone = 'UTC'")
        if resume:
            run_id, lo, hi = last.id, last.start, last.end
            old = list(last.chunks)
            if old and not isinstance(old[0], dict):  # an older run, cut by time: redo it by key
                old = []
            entities, first = _stage(con, store, vv, lo, hi)
            chunks = old or _buckets(entities, chunk_count)
            done = set(last.done) if old else set()
            with engine.begin() as conn:
                conn.execute(
                    m.update()
                    .where(m.c.id == run_id)
                    .values(
                        state="RUNNING",
                        chunks=chunks,
                        done=sorted(done),
                        rows=m.c.rows if old else 0,
                    )
                )
        else:
            lo = _epoch(start)
            if incremental and lo is None:
                lo = since
            given_end = _epoch(end)
            hi = given_end if given_end is not None else clock()
            entities, first = _stage(con, store, vv, lo, hi)  # reads the source: no transaction
            chunks = _buckets(entities, chunk_count)
            done = set()
            with engine.begin() as conn:
                run_id = conn.execute(
                    m.insert().values(
                        view=view.name,
                        version=vv.version,
                        store=online.url,
                        start=lo if lo is not None else (first if first is not None else hi),
                        end=hi,
                        chunks=chunks,
                        done=[],
                        rows=0,
                        state="RUNNING",
                        started_at=utcnow(),
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
        try:
            for index, chunk in enumerate(chunks):
                if index in done:
                    continue
                written = _write_chunk(con, store, vv, chunk["bucket"], chunk["of"])
                done.add(index)
                with engine.begin() as conn:
                    conn.execute(
                        m.update()
                        .where(m.c.id == run_id)
                        .values(done=sorted(done), rows=m.c.rows + written)
                    )
                if progress is not None:
                    progress(view.name, len(done), len(chunks))
        except BaseException:
            with engine.begin() as conn:
                conn.execute(m.update().where(m.c.id == run_id).values(state="FAILED"))
            raise
    with engine.begin() as conn:
        conn.execute(
            m.update().where(m.c.id == run_id).values(state="SUCCEEDED", ended_at=utcnow())
        )
        row = conn.execute(sa.select(m).where(m.c.id == run_id)).one()
    if progress is not None and not chunks:
        progress(view.name, 0, 0)
    return _row(row)


def _ts(view_ts: str) -> str:
    return f"{quote_ident(view_ts)}::TIMESTAMPTZ"


def _stage(
    con: duckdb.DuckDBPyConnection,
    store: FeatureStore,
    vv: ViewVersion,
    lo: float | None,
    hi: float,
) -> tuple[int, float | None]:
    """Each entity's newest values in [lo, hi) into the connection's temporary table `STAGED`,
    with a hash of its key that picks its chunk; returns (entities, the first event time)."""
    view = vv.view
    keys = store.join_keys(view)
    ts = _ts(view.timestamp)
    key_cols = ", ".join(quote_ident(k) for k in keys)
    packed = ", ".join(f"{quote_ident(f)} := {quote_ident(f)}" for f in view.feature_names)
    # 20 bits of the md5 of the key's text: the same bucket for an entity in every DuckDB
    # version, which a resumed run relies on (DuckDB's own hash() may change between releases)
    text = ", ".join(f"coalesce({quote_ident(k)}::VARCHAR, '')" for k in keys)
    where = [f"{ts} < to_timestamp({hi!r})"]
    if lo is not None:
        where.append(f"{ts} >= to_timestamp({lo!r})")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {STAGED} AS SELECT {key_cols}, "
        f"epoch(max({ts})) AS __pmle_t, "
        f"to_json(arg_max(struct_pack({packed}), {ts}))::VARCHAR AS __pmle_v, "
        f"epoch(min({ts})) AS __pmle_first, "
        f"('0x' || left(md5(concat_ws(chr(31), {text})), 5))::INTEGER AS __pmle_b "
        f"FROM ({store.source_sql(view)}) WHERE {' AND '.join(where)} GROUP BY {key_cols}"
    )
    entities, first = con.execute(
        f"SELECT count(*), min(__pmle_first) FROM {STAGED}"
    ).fetchone() or (0, None)
    return int(entities), (float(first) if first is not None else None)


def _buckets(entities: int, count: int | None) -> list[dict[str, int]]:
    """The run's chunks: entities split by key hash (none when there is nothing to write)."""
    if not entities:
        return []
    n = count or max(1, min(MAX_CHUNKS, entities // ENTITIES_PER_CHUNK))
    return [{"bucket": i, "of": n} for i in range(n)]


def _write_chunk(
    con: duckdb.DuckDBPyConnection, store: FeatureStore, vv: ViewVersion, bucket: int, of: int
) -> int:
    view = vv.view
    keys = store.join_keys(view)
    key_cols = ", ".join(quote_ident(k) for k in keys)
    online = store.online
    written = 0
    n_keys = len(keys)
    cursor = con.execute(
        f"SELECT {key_cols}, __pmle_t, __pmle_v FROM {STAGED} WHERE __pmle_b % {of} = {bucket}"
    )
    while True:
        batch = cursor.fetchmany(WRITE_BATCH)
        if not batch:
            break
        records = [
            (entity_key(row[:n_keys]), float(row[n_keys]), row[n_keys + 1].encode())
            for row in batch
        ]
        records.sort()  # in key order: the store's index pages are visited in turn
        online.write(view.name, records)
        written += len(records)
    return written


class OnlineReader:
    """Reads given features from the online store; the views, their join keys and TTLs are
    resolved once (a server keeps one per deployment, so a request costs no registry read)."""

    def __init__(
        self, store: FeatureStore, features: Sequence[str], *, full_names: bool = False
    ) -> None:
        from pmle.features.retrieval import parse_features

        self.store = store
        self.refs = parse_features(store, features)
        self.keys = {ref.view.name: store.join_keys(ref.view) for ref in self.refs}
        self.full_names = full_names

    def read(
        self, entity_rows: Sequence[dict[str, Any]], now: float | None = None
    ) -> list[dict[str, Any]]:
        """Each entity row with the features; None where the entity has no record or the
        record is older than the view's TTL."""
        import orjson

        current = time.time() if now is None else now
        out = [dict(row) for row in entity_rows]
        online = self.store.online
        for ref in self.refs:
            keys = self.keys[ref.view.name]
            wanted = []
            for n, row in enumerate(entity_rows):
                try:
                    wanted.append(entity_key([row[k] for k in keys]))
                except KeyError:
                    missing = next(k for k in keys if k not in row)
                    raise InvalidInput(
                        f"entity row {n} lacks join key {missing!r} of feature view "
                        f"{ref.view.name!r}"
                    ) from None
            records = online.read(ref.view.name, wanted)
            ttl = ref.view.ttl
            for row, record in zip(out, records, strict=True):
                values: dict[str, Any] = {}
                if record is not None and (ttl is None or current - record[0] <= ttl):
                    values = _decode(record[1], orjson)
                for feature in ref.features:
                    name = f"{ref.view.name}__{feature}" if self.full_names else feature
                    row[name] = values.get(feature)
        return out


def online_features(
    store: FeatureStore,
    features: Sequence[str],
    entity_rows: Sequence[dict[str, Any]],
    *,
    full_names: bool = False,
    now: float | None = None,
) -> list[dict[str, Any]]:
    """Each entity row with the features named (`view:feature`) from the online store; a
    feature is None when its entity has no record or the record is older than the TTL."""
    return OnlineReader(store, features, full_names=full_names).read(entity_rows, now)


def _decode(blob: bytes, orjson: Any) -> dict[str, Any]:
    """A record's values: JSON, with the NaN / Infinity DuckDB writes for such floats."""
    try:
        return dict(orjson.loads(blob))
    except orjson.JSONDecodeError:
        import json

        return dict(json.loads(blob))


def freshness(store: FeatureStore, views: Iterable[str] | None = None) -> list[Freshness]:
    """Per view (every one, or those named): the newest event in its source, how far it is
    materialized, and the lag."""
    out = []
    online = store.online
    wanted = None if views is None else set(views)
    for vv in store.views():
        if wanted is not None and vv.name not in wanted:
            continue
        view = vv.view
        with store.connect_sources([view]) as con:
            con.execute("SET TimeZone = 'UTC'")
            latest = con.execute(
                f"SELECT epoch(max({_ts(view.timestamp)})) FROM ({store.source_sql(view)})"
            ).fetchone()
        latest_event = float(latest[0]) if latest and latest[0] is not None else None
        with store.workspace.engine.begin() as conn:
            until = _last_success_end(conn, view.name, vv.version, online.url)
        lag = None
        if latest_event is not None:
            lag = max(0.0, latest_event - until) if until is not None else None
        out.append(
            Freshness(view.name, vv.version, latest_event, until, online.count(view.name), lag)
        )
    return out
