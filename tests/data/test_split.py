from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from pmle.data.split import assign
from pmle.errors import InvalidInput
from pmle.workspace import Workspace


def _table(n: int = 1000) -> pa.Table:
    return pa.table(
        {
            "customer": [f"c{i % 137}" for i in range(n)],
            "t": list(range(n))[::-1],
            "fold": (["TRAIN"] * 7 + ["VALIDATE"] * 2 + ["TEST"]) * (n // 10),
        }
    )


def test_random_split_is_exact_and_deterministic() -> None:
    t = _table()
    a = assign(t, "random", (0.8, 0.1, 0.1), seed=1)
    assert np.bincount(a).tolist() == [800, 100, 100]
    assert np.array_equal(a, assign(t, "random", (0.8, 0.1, 0.1), seed=1))
    assert not np.array_equal(a, assign(t, "random", (0.8, 0.1, 0.1), seed=2))
    two_way = assign(t, "random", (0.7, 0.3), seed=1)
    assert np.bincount(two_way, minlength=3).tolist() == [700, 300, 0]


def test_group_split_keeps_groups_together_regardless_of_order() -> None:
    t = _table()
    labels = assign(t, "group", seed=3, column="customer")
    by_group: dict[str, set[int]] = {}
    for cust, lab in zip(t.column("customer").to_pylist(), labels, strict=True):
        by_group.setdefault(cust, set()).add(int(lab))
    assert all(len(s) == 1 for s in by_group.values())
    reversed_t = t.take(pa.array(range(t.num_rows - 1, -1, -1)))
    rev = assign(reversed_t, "group", seed=3, column="customer")
    assert np.array_equal(labels, rev[::-1])
    assert 0.6 < float(np.mean(labels == 0)) < 0.95


def test_predefined_and_time_splits() -> None:
    t = _table()
    pre = assign(t, "predefined", column="fold")
    assert np.bincount(pre).tolist() == [700, 200, 100]
    tm = assign(t, "time", (0.8, 0.1, 0.1), column="t")
    times = np.array(t.column("t").to_pylist())
    assert (
        times[tm == 0].max() < times[tm == 1].min() <= times[tm == 1].max() < times[tm == 2].min()
    )


def test_bad_split_requests() -> None:
    t = _table()
    with pytest.raises(InvalidInput, match="fractions"):
        assign(t, "random", (0.5, 0.6))
    with pytest.raises(InvalidInput, match="unknown split method"):
        assign(t, "stratified")
    with pytest.raises(InvalidInput, match="needs a column"):
        assign(t, "group")
    with pytest.raises(InvalidInput, match="no column"):
        assign(t, "time", column="nope")
    with pytest.raises(InvalidInput, match="not a split"):
        assign(pa.table({"f": ["train", "holdout"]}), "predefined", column="f")
    with pytest.raises(InvalidInput, match="missing values"):
        assign(pa.table({"g": ["a", None]}), "group", column="g")


def test_dataset_split_is_versioned_and_reproducible(ws: Workspace, churn_csv: Path) -> None:
    dv = ws.datasets.import_("churn", churn_csv)
    parts = ws.datasets.split("churn", seed=7)
    assert {k: v.num_rows for k, v in parts.items()} == {
        "train": 5634,
        "validation": 704,
        "test": 705,
    }
    assert {v.name for v in parts.values()} == {"churn_train", "churn_validation", "churn_test"}
    again = ws.datasets.split("churn", seed=7)
    assert {k: (v.ref, v.new) for k, v in again.items()} == {
        k: (v.ref, False) for k, v in parts.items()
    }
    other = ws.datasets.split("churn", seed=8)
    assert other["train"].version == 2  # a different split is a new version
    # lineage: each split was derived from the parent by one Split execution
    assert dv.lineage_artifact_id is not None
    down = ws.lineage.downstream(dv.lineage_artifact_id, max_depth=1)
    names = {a.name for a in down.artifacts.values()}
    assert {"churn_train@1", "churn_validation@1", "churn_test@1", "churn_train@2"} <= names
    assert {x.type for x in down.executions.values()} == {"Split"}
    rows = sum(v.num_rows for v in parts.values())
    assert rows == dv.num_rows
