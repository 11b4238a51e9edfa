from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from pmle.data.schema import infer_schema
from pmle.data.stats import compute_stats
from pmle.workspace import Workspace


def test_schema_and_stats_of_the_churn_table(ws: Workspace, churn_csv: Path) -> None:
    dv = ws.datasets.import_("churn", churn_csv)
    kinds = {c.name: c.kind for c in dv.columns}
    assert kinds["contract"] == "categorical"
    assert kinds["monthly_charges"] == "numeric"
    assert kinds["tenure"] == "numeric"
    assert kinds["senior_citizen"] == "boolean"  # an integer 0/1 flag
    assert dv.column("total_charges").nullable and not dv.column("tenure").nullable

    df = pd.read_csv(churn_csv)
    cols = dv.stats["columns"]
    tc = cols["total_charges"]
    assert tc["nulls"] == int(df["total_charges"].isna().sum()) == 11
    assert tc["count"] == 7043 - 11
    assert tc["mean"] == pytest.approx(df["total_charges"].mean())
    assert tc["std"] == pytest.approx(df["total_charges"].std())
    assert tc["min"] == df["total_charges"].min() and tc["max"] == df["total_charges"].max()
    assert tc["quantiles"]["0.5"] == pytest.approx(df["total_charges"].median())
    assert sum(tc["histogram"]["counts"]) == tc["count"]
    assert len(tc["histogram"]["edges"]) == len(tc["histogram"]["counts"]) + 1

    contract = cols["contract"]
    assert contract["distinct"] == 3
    expected = df["contract"].value_counts()
    assert {t["value"]: t["count"] for t in contract["top_values"]} == expected.to_dict()
    assert contract["categories"]["other"] == 0
    # the stats are stored: a fresh read from the metadata database returns them
    assert ws.datasets.get("churn@1").stats == dv.stats


def test_kinds_for_ids_text_datetimes_and_constants() -> None:
    n = 200
    table = pa.table(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "row": list(range(n)),
            "review": [f"the product number {i} was fine but slow to arrive" for i in range(n)],
            "when": pd.date_range("2024-01-01", periods=n, freq="h"),
            "flag": [True, False] * (n // 2),
            "const": [7] * n,
            "price": [float(i % 17) for i in range(n)],
        }
    )
    stats = compute_stats(table)
    schema = {c.name: c for c in infer_schema(table, stats)}
    assert schema["customer_id"].kind == "identifier"
    assert schema["row"].kind == "identifier"
    assert schema["review"].kind == "text"
    assert schema["when"].kind == "datetime"
    assert schema["flag"].kind == "boolean"
    assert "constant" in schema["const"].note
    assert schema["price"].kind == "numeric"
    assert stats["columns"]["when"]["min"].startswith("2024-01-01")


def test_stats_on_empty_and_all_null_columns() -> None:
    table = pa.table(
        {"x": pa.array([None, None], pa.float64()), "s": pa.array([None, None], pa.string())}
    )
    stats = compute_stats(table)
    assert stats["columns"]["x"]["nulls"] == 2
    assert stats["columns"]["x"]["mean"] is None
    empty = compute_stats(table.slice(0, 0))
    assert empty["num_rows"] == 0
