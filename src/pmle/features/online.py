"""Online stores: the latest feature values per entity, read by key with low latency.

An online store keeps, per feature view, one record per entity key: the event time of the
values and the values themselves (a JSON object). Writes are *newer wins*: a record older than
the one stored is ignored, so a backfill never overwrites fresher values. Two stores share the
interface and the tests: SQLite inside the workspace (the default) and Redis
(`[features] online_store = "redis://host:port/db"`, `pip install 'pmle[redis]'`).

Entity keys are the join key values as text, joined with U+001F, so `42` from a JSON request
and `42` from a table are the same key.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from pmle.errors import InvalidInput, StoreUnavailable

__all__ = ["OnlineStore", "SqliteOnlineStore", "entity_key", "open_online_store"]

SEPARATOR = "\x1f"

#: (entity key, event time in epoch seconds, values as JSON bytes)
Record = tuple[str, float, bytes]


def _key_part(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def entity_key(values: Sequence[Any]) -> str:
    """The online key of an entity from its join key values, in the view's key order."""
    return SEPARATOR.join(_key_part(v) for v in values)


class OnlineStore(Protocol):
    """What the feature store needs from an online store."""

    url: str

    def write(self, view: str, records: Sequence[Record]) -> int:
        """Store records, newer wins; returns how many were written."""
        ...

    def read(self, view: str, keys: Sequence[str]) -> list[tuple[float, bytes] | None]:
        """The record of each key (None where there is none), in the order asked."""
        ...

    def count(self, view: str) -> int:
        """How many entities a view holds."""
        ...

    def drop(self, view: str) -> None:
        """Forget a view's records."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def _table(view: str) -> str:
    return '"fv_' + view.replace('"', '""') + '"'


class SqliteOnlineStore:
    """Online features in a SQLite file (WAL mode; one connection per thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self._local = threading.local()
        self._known: set[str] = set()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: large writes stay in memory
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"cannot open the online store {self.path}: {exc}") from None
            self._local.conn = conn
        return conn

    def _exists(self, conn: sqlite3.Connection, view: str) -> bool:
        if view in self._known:
            return True
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (f"fv_{view}",)
        ).fetchone()
        if found:
            self._known.add(view)
        return bool(found)

    def write(self, view: str, records: Sequence[Record]) -> int:
        """Store records, newer wins (in one transaction)."""
        conn = self._conn()
        table = _table(view)
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table} "
            "(key TEXT PRIMARY KEY, ts REAL NOT NULL, data BLOB NOT NULL) WITHOUT ROWID"
        )
        self._known.add(view)
        conn.execute("BEGIN IMMEDIATE")
        try:
            before = conn.total_changes
            conn.executemany(
                f"INSERT INTO {table} (key, ts, data) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET ts = excluded.ts, data = excluded.data "
                f"WHERE excluded.ts >= {table}.ts",
                records,
            )
            written = conn.total_changes - before
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return written

    def read(self, view: str, keys: Sequence[str]) -> list[tuple[float, bytes] | None]:
        """The record of each key, in the order asked."""
        conn = self._conn()
        if not keys or not self._exists(conn, view):
            return [None] * len(keys)
        if len(keys) == 1:
            row = conn.execute(
                f"SELECT ts, data FROM {_table(view)} WHERE key = ?", (keys[0],)
            ).fetchone()
            return [row]
        found: dict[str, tuple[float, bytes]] = {}
        for start in range(0, len(keys), 500):  # SQLite's bound-variable limit
            part = keys[start : start + 500]
            marks = ",".join("?" * len(part))
            for key, ts, data in conn.execute(
                f"SELECT key, ts, data FROM {_table(view)} WHERE key IN ({marks})", part
            ):
                found[key] = (ts, data)
        return [found.get(k) for k in keys]

    def count(self, view: str) -> int:
        """How many entities a view holds."""
        conn = self._conn()
        if not self._exists(conn, view):
            return 0
        return int(conn.execute(f"SELECT count(*) FROM {_table(view)}").fetchone()[0])

    def drop(self, view: str) -> None:
        """Forget a view's records."""
        self._conn().execute(f"DROP TABLE IF EXISTS {_table(view)}")
        self._known.discard(view)

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def open_online_store(url: str, default_dir: Path) -> OnlineStore:
    """The online store for a settings URL: empty or `sqlite:///path` → SQLite,
    `redis://…` → Redis."""
    if not url:
        return SqliteOnlineStore(default_dir / "online.sqlite")
    if url.startswith("sqlite:///"):
        return SqliteOnlineStore(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("redis://", "rediss://", "unix://")):
        from pmle.features.online_redis import RedisOnlineStore

        return RedisOnlineStore(url)
    raise InvalidInput(
        f"unknown online store {url!r}", hint="use sqlite:///path or redis://host:port/db"
    )
