"""Point-in-time training sets on a hand-built case with known answers: never a value from the
future, TTL expiry, several views and multi-part keys, row order kept, registering the result
as a dataset with lineage, and the errors for bad entity rows or unknown features."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from pmle.errors import InvalidInput
from pmle.workspace import Workspace

T = pd.Timestamp


@pytest.fixture
def store(ws: Workspace) -> Workspace:
    """Two views: `balance` per account (TTL 2 days) and `merchant_risk` per (merchant,
    country) without expiry."""
    ws.datasets.import_(
        "balances",
        pd.DataFrame(
            {
                "account": ["a", "a", "a", "b"],
                "at": [T("2026-03-01 00:00"), T("2026-03-03 00:00"), T("2026-03-05 12:00"),
                       T("2026-03-02 00:00")],
                "balance": [100.0, 80.0, 50.0, 10.0],
            }
        ),
    )  # fmt: skip
    ws.datasets.import_(
        "risk",
        pd.DataFrame(
            {
                "merchant": ["m1", "m1", "m2"],
                "country": ["FR", "DE", "FR"],
                "at": [T("2026-03-01"), T("2026-03-04"), T("2026-03-02")],
                "risk": [0.1, 0.9, 0.5],
            }
        ),
    )
    ws.features.apply(
        {
            "entities": [
                {"name": "account", "join_keys": ["account"]},
                {"name": "merchant", "join_keys": ["merchant", "country"]},
            ],
            "feature_views": [
                {
                    "name": "balance",
                    "entities": ["account"],
                    "source": {"dataset": "balances"},
                    "timestamp": "at",
                    "ttl": "2d",
                    "features": [{"name": "balance", "dtype": "float64"}],
                },
                {
                    "name": "merchant_risk",
                    "entities": ["merchant"],
                    "source": {"dataset": "risk"},
                    "timestamp": "at",
                    "features": [{"name": "risk", "dtype": "float64"}],
                },
            ],
        }
    )
    return ws


ROWS = pd.DataFrame(
    {
        "account": ["a", "a", "a", "a", "b", "c", "a"],
        "merchant": ["m1", "m1", "m1", "m2", "m1", "m1", "m1"],
        "country": ["FR", "FR", "DE", "FR", "FR", "FR", "DE"],
        "event_timestamp": [
            T("2026-02-28"),  # before any value
            T("2026-03-03 00:00"),  # exactly at a value's time: that value
            T("2026-03-03 23:59"),  # the 03-03 value, not 03-05 (future)
            T("2026-03-05 11:59"),  # 03-03 value is 2d 11:59 old: expired
            T("2026-03-04"),  # 2 days exactly: still valid (TTL bound included)
            T("2026-03-10"),  # unknown account
            T("2026-03-06"),  # 03-05 12:00 value; risk m1/DE from 03-04
        ],
        "label": [0, 1, 0, 1, 0, 1, 1],
    }
)


def test_point_in_time_values_are_exactly_the_known_answers(store: Workspace) -> None:
    out = store.features.training_set(ROWS, ["balance", "merchant_risk:risk"]).to_pandas()
    assert out.columns.tolist() == [*ROWS.columns, "balance", "risk"]
    assert out["label"].tolist() == ROWS["label"].tolist()  # order kept
    expected_balance = [None, 80.0, 80.0, None, 10.0, None, 50.0]
    got = [None if pd.isna(v) else v for v in out["balance"]]
    assert got == expected_balance
    expected_risk = [None, 0.1, None, 0.5, 0.1, 0.1, 0.9]
    assert [None if pd.isna(v) else v for v in out["risk"]] == expected_risk


def test_no_value_from_the_future_on_random_data(store: Workspace) -> None:
    """Brute force against a pure-pandas reference on random rows."""
    import numpy as np

    rng = np.random.default_rng(3)
    feats = pd.DataFrame(
        {
            "account": rng.choice(["x", "y", "z"], 400),
            "at": T("2026-01-01") + pd.to_timedelta(rng.integers(0, 60 * 24 * 30, 400), "m"),
            "balance": rng.normal(size=400),
        }
    )
    store.datasets.import_("balances", feats)
    rows = pd.DataFrame(
        {
            "account": rng.choice(["x", "y", "z", "w"], 300),
            "event_timestamp": T("2026-01-01")
            + pd.to_timedelta(rng.integers(0, 60 * 24 * 32, 300), "m"),
        }
    )
    out = store.features.training_set(rows, ["balance:balance"]).to_pandas()
    for row, got in zip(rows.itertuples(), out["balance"], strict=True):
        past = feats[(feats["account"] == row.account) & (feats["at"] <= row.event_timestamp)]
        past = past[past["at"] >= row.event_timestamp - pd.Timedelta(days=2)]
        want = past.sort_values("at")["balance"].iloc[-1] if len(past) else None
        if want is None:
            assert pd.isna(got)
        else:
            assert got == pytest.approx(want)


def test_inputs_as_arrow_sql_or_table_and_registering(store: Workspace) -> None:
    arrow = pa.Table.from_pandas(ROWS, preserve_index=False)
    from_arrow = store.features.training_set(arrow, ["balance"])
    store.datasets.import_("rows", ROWS)
    from_name = store.features.training_set("rows", ["balance"])
    from_sql = store.features.training_set("SELECT * FROM rows", ["balance"])
    assert from_arrow.column("balance").to_pylist() == from_name.column("balance").to_pylist()
    assert from_sql.column("balance").to_pylist() == from_arrow.column("balance").to_pylist()
    named = store.features.training_set(
        ROWS, ["balance", "merchant_risk"], full_names=True, register="train"
    )
    assert {"balance__balance", "merchant_risk__risk"} <= set(named.column_names)
    version = store.datasets.get("train")
    assert version.num_rows == len(ROWS)
    graph = store.lineage.upstream(version.lineage_artifact_id)
    names = {a.name for a in graph.artifacts.values()}
    assert {"balance@1", "merchant_risk@1", "balances@1", "risk@1"} <= names


def test_bad_entity_rows_and_features(store: Workspace) -> None:
    with pytest.raises(InvalidInput, match="lack the timestamp column 'event_timestamp'"):
        store.features.training_set(ROWS.drop(columns="event_timestamp"), ["balance"])
    with pytest.raises(InvalidInput, match="lack join key 'country'"):
        store.features.training_set(ROWS.drop(columns="country"), ["merchant_risk"])
    with pytest.raises(InvalidInput, match="unknown feature view 'nope'"):
        store.features.training_set(ROWS, ["nope:x"])
    with pytest.raises(InvalidInput, match="has no feature 'x'"):
        store.features.training_set(ROWS, ["balance:x"])
    with pytest.raises(InvalidInput, match="clashes"):
        store.features.training_set(ROWS.rename(columns={"label": "risk"}), ["merchant_risk"])
    with pytest.raises(InvalidInput, match="name at least one feature"):
        store.features.training_set(ROWS, [])
    with pytest.raises(InvalidInput, match="'__pmle_row', which pmle reserves"):
        store.features.training_set(ROWS.assign(__pmle_row=1), ["balance"])


HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_dataset_views_are_read_while_another_process_writes_the_warehouse(
    store: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Views over datasets never open the warehouse file, so a long write elsewhere (a SQL
    model training, say) does not hold up a training set."""
    import subprocess
    import sys

    import pmle

    monkeypatch.setenv("PMLE_BUSY_TIMEOUT_S", "0.2")  # waiting for the lock would fail
    store = pmle.open_workspace(store.root)
    expected = store.features.training_set(ROWS, ["balance", "merchant_risk"])
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(store.warehouse.path), "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        got = store.features.training_set(ROWS, ["balance", "merchant_risk"])
        values = store.features.feature_values("balance")
    finally:
        holder.kill()
        holder.wait()
    assert got.equals(expected)
    assert values.num_rows > 0


def test_feature_values_by_time_range(store: Workspace) -> None:
    rows = store.features.feature_values("balance", start="2026-03-02", end="2026-03-05")
    assert rows.column("balance").to_pylist() == [10.0, 80.0]
    latest = store.features.feature_values("balance", end="2026-03-04", latest=True)
    assert sorted(latest.column("balance").to_pylist()) == [10.0, 80.0]
    expired = store.features.feature_values("balance", end="2026-03-07", latest=True)
    assert expired.column("balance").to_pylist() == [50.0]  # b's value is older than 2 days


def test_timestamps_of_other_types_give_the_same_answers(store: Workspace) -> None:
    """Entity timestamps in UTC (TIMESTAMPTZ), in nanoseconds, or as dates are compared in
    the feature side's type: the answers do not change."""
    naive = store.features.training_set(ROWS, ["balance", "merchant_risk"]).to_pandas()
    aware = ROWS.assign(event_timestamp=ROWS["event_timestamp"].dt.tz_localize("UTC"))
    got = store.features.training_set(aware, ["balance", "merchant_risk"]).to_pandas()
    for column in ("balance", "risk"):
        assert got[column].isna().tolist() == naive[column].isna().tolist()
        assert got[column].dropna().tolist() == naive[column].dropna().tolist()
    nanos = pa.table(
        {
            "account": ["a", "a"],
            "event_timestamp": pa.array(
                [
                    pd.Timestamp("2026-03-03").value,
                    pd.Timestamp("2026-03-02 23:59:59.999999999").value,
                ],
                pa.timestamp("ns"),
            ),
        }
    )
    # the second row is a nanosecond before the 03-03 value: it must not see it
    assert store.features.training_set(nanos, ["balance"]).column("balance").to_pylist() == [
        80.0,
        100.0,
    ]
    dates = pa.table(
        {"account": ["a", "b"], "event_timestamp": pa.array([20515, 20514], pa.date32())}
    )  # 2026-03-03 and 2026-03-02, as midnights
    assert store.features.training_set(dates, ["balance"]).column("balance").to_pylist() == [
        80.0,
        10.0,
    ]
