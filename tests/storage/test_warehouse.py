from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from pmle.errors import InvalidInput, StoreUnavailable
from pmle.storage.warehouse import Warehouse

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS t AS SELECT 1 AS x")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def _hold_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_waits_for_another_process_then_proceeds(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    holder = _hold_lock(path, 1.0)
    try:
        start = time.monotonic()
        table = Warehouse(path, busy_timeout_s=30).query_arrow("SELECT count(*) AS n FROM t")
        waited = time.monotonic() - start
    finally:
        holder.wait()
    assert table.to_pylist() == [{"n": 1}]
    assert waited > 0.2  # it really had to wait for the other process


def test_gives_up_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    holder = _hold_lock(path, 3.0)
    try:
        with pytest.raises(StoreUnavailable, match="locked by another process"):
            Warehouse(path, busy_timeout_s=0.3).query_arrow("SELECT 1")
    finally:
        holder.wait()


def test_views_and_sql_errors(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1, 2, 3]}), tmp_path / "d.parquet")
    wh = Warehouse(tmp_path / "w.duckdb", views=lambda: [("d@1", str(tmp_path / "d.parquet"))])
    assert wh.query_arrow('SELECT sum(a) AS s FROM "d@1"').to_pylist() == [{"s": 6}]
    wh.query_arrow("CREATE TABLE kept AS SELECT 42 AS answer", read_only=False)
    assert wh.tables() == ["kept"]  # the dataset views are temporary, not stored
    with pytest.raises(InvalidInput, match="SQL error"):
        wh.query_arrow("SELEC 1")


def test_memory_connections_take_no_lock_and_keep_their_views_private(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1, 2, 3]}), tmp_path / "d.parquet")
    pq.write_table(pa.table({"b": [4]}), tmp_path / "e.parquet")
    path = tmp_path / "w.duckdb"
    wh = Warehouse(
        path,
        views=lambda: [("d", str(tmp_path / "d.parquet")), ("e", str(tmp_path / "e.parquet"))],
        busy_timeout_s=0.3,
    )
    holder = _hold_lock(path, 3.0)  # another process writes the warehouse meanwhile
    try:
        with wh.memory(["d"]) as one, wh.memory() as two:
            assert one.execute("SELECT sum(a) FROM d").fetchall() == [(6,)]
            one.register("mine", pa.table({"x": [1]}))
            for name in ("d", "e", "mine"):  # only the views asked for, each its own
                with pytest.raises(Exception, match="does not exist"):
                    two.execute(f"SELECT * FROM {name}")
            with pytest.raises(Exception, match="does not exist"):
                one.execute("SELECT * FROM e")
    finally:
        holder.wait()
