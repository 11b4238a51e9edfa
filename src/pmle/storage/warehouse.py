"""The DuckDB warehouse: user tables plus every dataset version exposed as a view.

DuckDB lets one process at a time open a database file for writing. pmle therefore holds the
file only for the length of one piece of work and retries while another process holds it.
Dataset versions are Parquet files in the artifact store; each connection sees them as
temporary views (`churn` for the newest version, `"churn@2"` for a given one), so the views
follow the workspace if it moves and never need a write.

Read-only work over dataset versions alone (point-in-time joins, materialization) can use
`Warehouse.memory` instead: a connection to one in-memory DuckDB database per process, which
takes no file lock (writers in other processes are never kept waiting) and keeps its memory
warm from one call to the next (a new database re-faults every page of a large join).
"""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput, StoreUnavailable

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

#: Provides `(view name, parquet path)` pairs for the dataset views of a connection.
ViewSource = Callable[[], list[tuple[str, str]]]


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """Quote a string literal for DuckDB."""
    return "'" + text.replace("'", "''") + "'"


_memory_lock = threading.Lock()
_memory_db: tuple[int, duckdb.DuckDBPyConnection] | None = None


def _memory_cursor() -> duckdb.DuckDBPyConnection:
    """A new connection to this process's in-memory database (a forked child makes its own
    database: DuckDB's threads do not survive a fork)."""
    global _memory_db
    import duckdb

    with _memory_lock:
        if _memory_db is None or _memory_db[0] != os.getpid():
            spill = Path(tempfile.gettempdir()) / f"pmle-duckdb-{os.getpid()}"
            _memory_db = (
                os.getpid(),
                duckdb.connect(":memory:", config={"temp_directory": str(spill)}),
            )
        return _memory_db[1].cursor()


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


class Warehouse:
    """A DuckDB database file shared by the processes of a workspace."""

    def __init__(
        self,
        path: str | Path,
        views: ViewSource | None = None,
        busy_timeout_s: float = 60.0,
        threads: int = 0,
    ) -> None:
        self.path = Path(path)
        self._views = views
        self._busy_timeout_s = busy_timeout_s
        self._threads = threads

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the warehouse (waiting while another process holds it), with dataset views."""
        import duckdb

        if read_only and not self.path.exists():
            read_only = False  # the file is created on first use
        deadline = time.monotonic() + self._busy_timeout_s
        delay = 0.01
        config: dict[str, Any] = {}
        if self._threads:
            config["threads"] = self._threads
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only, config=config)
                break
            except duckdb.IOException as exc:
                if not _is_lock_error(exc) or time.monotonic() > deadline:
                    if _is_lock_error(exc):
                        raise StoreUnavailable(
                            f"the warehouse {self.path} stayed locked by another process",
                            hint="wait for the other pmle command to finish, or raise "
                            "PMLE_BUSY_TIMEOUT_S",
                        )
                    raise StoreUnavailable(f"cannot open the warehouse: {exc}")
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.5)
        try:
            self._attach_views(con)
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def memory(self, views: Iterable[str] = ()) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to this process's in-memory database with the dataset views named
        (and no warehouse table): no file lock, and memory kept warm across calls. Temporary
        views and registered tables stay private to the connection."""
        con = _memory_cursor()
        try:
            if self._threads:
                con.execute(f"SET threads = {int(self._threads)}")
            self._attach_views(con, set(views))
            yield con
        finally:
            con.close()

    def _attach_views(self, con: duckdb.DuckDBPyConnection, only: set[str] | None = None) -> None:
        if self._views is None or only == set():
            return
        for view, parquet in self._views():
            if only is not None and view not in only:
                continue
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {quote_ident(view)} AS "
                f"SELECT * FROM read_parquet({quote_literal(parquet)})"
            )

    def query_arrow(self, sql: str, read_only: bool = True) -> pa.Table:
        """Run one SQL statement and return its result as an Arrow table."""
        import duckdb

        with self.connect(read_only=read_only) as con:
            try:
                rel = con.sql(sql)
            except duckdb.Error as exc:
                raise InvalidInput(f"SQL error: {_first_line(exc)}")
            if rel is None:  # a statement without a result (CREATE, INSERT ...)
                import pyarrow as pa

                return pa.table({})
            try:
                return rel.to_arrow_table()
            except duckdb.Error as exc:
                raise InvalidInput(f"SQL error: {_first_line(exc)}")

    def tables(self) -> list[str]:
        """Names of the user tables and views stored in the warehouse file."""
        if not self.path.exists():
            return []
        with self.connect(read_only=True) as con:
            rows = con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_catalog = current_database() AND table_schema = 'main' "
                "ORDER BY table_name"
            ).fetchall()
        return [r[0] for r in rows]


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
