"""The metadata database: engine set-up, automatic migrations, and write transactions.

SQLite (the default) runs in WAL mode with a busy timeout, and every transaction starts with
`BEGIN IMMEDIATE`: a writer takes the write lock up front and waits for it, instead of failing
with "database is locked" when a read transaction later tries to upgrade. Any other SQLAlchemy
URL (PostgreSQL for a team) works unchanged.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import StoreUnavailable

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

#: The newest migration; opening a workspace upgrades any older database to it.
HEAD_REVISION = "0013"
_MIGRATIONS = Path(__file__).with_name("migrations")


def create_engine(url: str, busy_timeout_s: float = 60.0) -> Engine:
    """An engine for the metadata URL, with SQLite tuned for several processes at once."""
    import sqlalchemy as sa
    from sqlalchemy import event
    from sqlalchemy.pool import QueuePool

    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True, future=True)

    engine = sa.create_engine(
        url,
        # Connections are kept for reuse: opening one and its PRAGMAs cost ≈ 1 ms, and when
        # the last connection to a WAL database closes SQLite checkpoints and deletes the log
        # (≈ 20 ms of syncs) — with a fresh connection per transaction that was every write.
        # The overflow is unbounded so many threads never wait for one. pmle starts processes
        # with spawn or exec; a child forked by user code drops the pool (see below).
        poolclass=QueuePool,
        pool_size=4,
        max_overflow=-1,
        connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
    )
    busy_ms = int(busy_timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    # a child forked by user code (multiprocessing's default on Linux) must not share the
    # parent's pooled connections: it starts with an empty pool
    import os
    import weakref

    ref = weakref.ref(engine)

    def _after_fork() -> None:
        alive = ref()
        if alive is not None:
            alive.dispose(close=False)

    os.register_at_fork(after_in_child=_after_fork)
    return engine


def current_revision(conn: Connection) -> str | None:
    """The migration the database is at, or None for an empty database."""
    import sqlalchemy as sa

    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _alembic_config(conn: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def upgrade(engine: Engine, revision: str = "head", lock_path: Path | None = None) -> None:
    """Bring the schema to `revision`; safe when several processes open a workspace at once."""
    from alembic import command

    with _migration_lock(lock_path), engine.begin() as conn:
        if revision == "head" and current_revision(conn) == HEAD_REVISION:
            return
        command.upgrade(_alembic_config(conn), revision)


def ensure_schema(engine: Engine, lock_path: Path | None = None) -> None:
    """Upgrade to head only when needed; the common case costs one small query."""
    try:
        with engine.connect() as conn:
            rev = current_revision(conn)
            conn.rollback()
    except Exception as exc:  # translated: the URL is the user's input
        raise StoreUnavailable(
            f"cannot open the metadata database: {exc.__class__.__name__}: {exc}",
            hint="check the metadata URL (PMLE_METADATA_URL or config.toml)",
        )
    if rev == HEAD_REVISION:
        return
    if rev is not None and rev > HEAD_REVISION:
        raise StoreUnavailable(
            f"the metadata database is at migration {rev}, newer than this pmle ({HEAD_REVISION})",
            hint="upgrade pmle to open this workspace",
        )
    upgrade(engine, "head", lock_path)


@contextlib.contextmanager
def _migration_lock(lock_path: Path | None, timeout_s: float = 120.0) -> Iterator[None]:
    """An exclusive file lock, so only one process migrates a SQLite workspace at a time."""
    if lock_path is None:
        yield
        return
    import fcntl

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreUnavailable("timed out waiting for another process to migrate")
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock
