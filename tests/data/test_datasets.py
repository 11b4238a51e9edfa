from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from pmle.data.datasets import content_hash
from pmle.errors import InvalidInput, NotFound
from pmle.workspace import Workspace


def test_same_content_same_version_changed_content_new_version(
    ws: Workspace, churn_csv: Path, tmp_path: Path
) -> None:
    v1 = ws.datasets.import_("churn", churn_csv)
    assert (v1.version, v1.new, v1.num_rows) == (1, True, 7043)
    again = ws.datasets.import_("churn", churn_csv)
    assert (again.version, again.new) == (1, False)
    # the same rows from another source and format are the same content
    df = ws.datasets.to_pandas("churn")
    assert ws.datasets.import_("churn", df).version == 1
    plain = tmp_path / "churn.csv"
    with gzip.open(churn_csv, "rb") as src, plain.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    assert ws.datasets.import_("churn", plain).version == 1
    # one changed cell makes a new version
    df.loc[0, "tenure"] = 99
    v2 = ws.datasets.import_("churn", df)
    assert (v2.version, v2.new) == (2, True)
    assert v2.content_hash != v1.content_hash
    assert [v.version for v in ws.datasets.versions("churn")] == [1, 2]
    assert ws.datasets.get("churn").version == 2
    assert ws.datasets.get("churn@latest").version == 2
    assert ws.datasets.get("churn@1").content_hash == v1.content_hash


def test_every_source_kind(ws: Workspace, tmp_path: Path) -> None:
    import polars as pl

    df = pd.DataFrame(
        {"id": range(60), "x": [i * 0.5 for i in range(60)], "c": ["a", "b", "c"] * 20}
    )
    df.to_parquet(tmp_path / "d.parquet")
    df.to_json(tmp_path / "d.jsonl", orient="records", lines=True)
    df.to_csv(tmp_path / "d.csv", index=False)
    versions = {
        ws.datasets.import_("d", src).version
        for src in (
            df,
            pl.from_pandas(df),
            pa.Table.from_pandas(df, preserve_index=False),
            tmp_path / "d.parquet",
            tmp_path / "d.jsonl",
            tmp_path / "d.csv",
        )
    }
    assert versions == {1}
    assert ws.datasets.to_pandas("d").equals(df)


def test_sql_query_over_the_warehouse(ws: Workspace, churn_csv: Path) -> None:
    ws.datasets.import_("churn", churn_csv)
    dv = ws.datasets.import_sql(
        "by_contract",
        "SELECT contract, count(*) AS n, avg((churn = 'Yes')::INT) AS rate "
        "FROM churn GROUP BY 1 ORDER BY 1",
    )
    rows = ws.datasets.to_arrow(dv).to_pylist()
    assert [r["contract"] for r in rows] == ["Month-to-month", "One year", "Two year"]
    assert sum(r["n"] for r in rows) == 7043
    assert dv.source.startswith("sql: SELECT")
    with pytest.raises(InvalidInput, match="SQL error"):
        ws.datasets.import_sql("bad", "SELECT * FROM no_such_table")


def test_import_records_lineage(ws: Workspace, churn_csv: Path) -> None:
    dv = ws.datasets.import_("churn", churn_csv)
    assert dv.lineage_artifact_id is not None
    producers = ws.lineage.producers(dv.lineage_artifact_id)
    assert [p.type for p in producers] == ["Import"]
    graph = ws.lineage.upstream(dv.lineage_artifact_id)
    files = [a for a in graph.artifacts.values() if a.type == "File"]
    assert files and files[0].uri == f"file://{churn_csv.resolve()}"


def test_interrupted_import_registers_nothing(
    ws: Workspace, churn_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    real = pq.write_table

    def crash_midway(table: pa.Table, where: object, **kw: object) -> None:
        real(table.slice(0, 10), where, **kw)  # part of the file is written ...
        raise KeyboardInterrupt  # ... then the process is interrupted

    monkeypatch.setattr(pq, "write_table", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        ws.datasets.import_("churn", churn_csv)
    assert ws.datasets.list() == []
    assert ws.artifacts.keys() == []
    assert ws.artifacts.leftover_temp_files() == []
    assert ws.lineage.find_artifacts() == []
    monkeypatch.undo()
    assert ws.datasets.import_("churn", churn_csv).version == 1


def test_bad_inputs(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no such file"):
        ws.datasets.import_("x", tmp_path / "missing.csv")
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(InvalidInput, match="malformed CSV"):
        ws.datasets.import_("x", tmp_path / "ragged.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InvalidInput, match="empty"):
        ws.datasets.import_("x", tmp_path / "empty.csv")
    (tmp_path / "x.xlsx").write_text("nope")
    with pytest.raises(InvalidInput, match="format"):
        ws.datasets.import_("x", tmp_path / "x.xlsx")
    with pytest.raises(InvalidInput, match="dataset name"):
        ws.datasets.import_("1bad", pd.DataFrame({"a": [1]}))
    with pytest.raises(InvalidInput, match="cannot import"):
        ws.datasets.import_("x", [1, 2, 3])
    with pytest.raises(NotFound, match="no dataset named"):
        ws.datasets.get("nope")
    ws.datasets.import_("x", pd.DataFrame({"a": [1]}))
    with pytest.raises(NotFound, match="no version 5"):
        ws.datasets.get("x@5")
    with pytest.raises(InvalidInput, match="not aliases"):
        ws.datasets.get("x@champion")


def test_content_hash_ignores_chunking() -> None:
    t = pa.table({"a": [1, None, 3, 4], "s": ["x", None, "zz", ""]})
    rechunked = pa.concat_tables([t.slice(0, 1), t.slice(1, 3)])
    assert content_hash(t) == content_hash(rechunked)
    assert content_hash(t) != content_hash(t.slice(0, 3))
    swapped = pa.table({"a": [1, None, 3, 4], "s": ["x", "", "zz", None]})
    assert content_hash(t) != content_hash(swapped)  # a null is not an empty string


def test_views_in_the_warehouse(ws: Workspace) -> None:
    ws.datasets.import_("d", pd.DataFrame({"a": [1, 2]}))
    ws.datasets.import_("d", pd.DataFrame({"a": [1, 2, 3]}))
    q = ws.warehouse.query_arrow
    assert q("SELECT count(*) AS n FROM d").to_pylist() == [{"n": 3}]
    assert q('SELECT count(*) AS n FROM "d@1"').to_pylist() == [{"n": 2}]
