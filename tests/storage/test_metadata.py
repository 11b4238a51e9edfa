from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

import pmle
from pmle.errors import StoreUnavailable
from pmle.storage import metadata
from pmle.workspace import open_workspace


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_fresh_database_is_migrated_to_head(tmp_path: Path) -> None:
    engine = metadata.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    metadata.ensure_schema(engine)
    with engine.connect() as conn:
        assert metadata.current_revision(conn) == metadata.HEAD_REVISION
    assert {
        "artifacts",
        "executions",
        "events",
        "contexts",
        "datasets",
        "models",
        "model_versions",
        "model_aliases",
    } <= _tables(engine)


def test_existing_database_is_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    # A workspace made by an older pmle: metadata at migration 0001, with a dataset in it.
    ws = pmle.init(tmp_path / "old")
    ws.close()
    db = ws.state_dir / "metadata.db"
    db.unlink()
    engine = metadata.create_engine(f"sqlite:///{db}")
    metadata.upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO datasets (name, description, created_at) "
                "VALUES ('legacy', 'from 0001', '2025-01-01 00:00:00')"
            )
        )
    assert "models" not in _tables(engine)
    engine.dispose()

    reopened = open_workspace(tmp_path / "old")
    assert reopened.info()["schema_revision"] == metadata.HEAD_REVISION
    with reopened.engine.connect() as conn:
        names = conn.execute(sa.text("SELECT name, description FROM datasets")).all()
    assert names == [("legacy", "from 0001")]
    assert "models" in _tables(reopened.engine)


def test_database_newer_than_pmle_is_refused(tmp_path: Path) -> None:
    engine = metadata.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    metadata.ensure_schema(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreUnavailable, match="newer"):
        metadata.ensure_schema(engine)


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    engine = metadata.create_engine(f"sqlite:///{tmp_path / 'm.db'}", busy_timeout_s=12)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 12000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    engine = metadata.create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'm.db'}")
    with pytest.raises(StoreUnavailable, match="metadata database"):
        metadata.ensure_schema(engine)
