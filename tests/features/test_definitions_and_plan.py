"""Feature definitions (YAML and Python), plans that show what changes, versioned apply with
lineage, and the errors a plan raises before anything is written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pmle.errors import InvalidInput, NotFound
from pmle.features import Entity, Feature, FeatureView
from pmle.features.definitions import Definitions, load_definitions, parse_ttl
from pmle.workspace import Workspace

YAML = """
entities:
  - name: customer
    join_keys: [customer_id]
    description: a paying customer
feature_views:
  - name: spend
    entities: [customer]
    source: {dataset: transactions}
    timestamp: event_ts
    ttl: 30d
    features:
      - {name: amount, dtype: float64, description: last amount}
      - {name: channel, dtype: string}
    owner: risk
    tags: {domain: payments}
"""


@pytest.fixture
def ws_tx(ws: Workspace) -> Workspace:
    ws.datasets.import_(
        "transactions",
        pd.DataFrame(
            {
                "customer_id": [1, 2, 1],
                "event_ts": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03"]),
                "amount": [1.0, 2.0, 3.0],
                "channel": ["web", "app", "web"],
                "count": [1, 2, 3],
            }
        ),
    )
    return ws


def test_ttl_parsing() -> None:
    assert parse_ttl("30d") == 30 * 86400 and parse_ttl("90m") == 5400 and parse_ttl(60) == 60
    assert parse_ttl(None) is None and parse_ttl("none") is None
    for bad in ("soon", "-1d", 0, True):
        with pytest.raises(InvalidInput, match="ttl"):
            parse_ttl(bad)


def test_yaml_and_python_definitions_are_the_same(tmp_path: Path) -> None:
    path = tmp_path / "features.yaml"
    path.write_text(YAML)
    from_yaml = load_definitions([path])
    by_hand = Definitions(
        (Entity("customer", ("customer_id",), "a paying customer"),),
        (
            FeatureView(
                "spend",
                ("customer",),
                (Feature("amount", "float64", "last amount"), Feature("channel", "string")),
                "event_ts",
                dataset="transactions",
                ttl=30 * 86400,
                owner="risk",
                tags={"domain": "payments"},
            ),
        ),
    )
    assert from_yaml == by_hand
    assert from_yaml.views[0].to_dict()["ttl"] == "30d"


def test_plan_apply_versions_and_lineage(ws_tx: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "features.yaml"
    path.write_text(YAML)
    defs = load_definitions([path])
    plan = ws_tx.features.plan(defs)
    assert [(c.action, c.kind, c.name) for c in plan.changes] == [
        ("create", "entity", "customer"),
        ("create", "feature view", "spend"),
    ]
    with pytest.raises(NotFound):  # a plan writes nothing
        ws_tx.features.view("spend")
    ws_tx.features.apply(defs)
    assert not ws_tx.features.plan(defs).has_changes
    first = ws_tx.features.view("spend")
    assert first.version == 1 and first.view == defs.views[0]
    # a new feature and a new ttl: an update with details, version 2
    path.write_text(
        YAML.replace("ttl: 30d", "ttl: 7d").replace(
            "{name: channel, dtype: string}\n",
            "{name: channel, dtype: string}\n      - {name: count, dtype: int64}\n",
        )
    )
    changed = ws_tx.features.plan(load_definitions([path]))
    (update,) = [c for c in changed.changes if c.action == "update"]
    assert update.name == "spend" and "+ feature count" in update.details
    assert any(d.startswith("~ ttl") for d in update.details)
    ws_tx.features.apply(load_definitions([path]))
    assert ws_tx.features.view("spend").version == 2
    assert ws_tx.features.view("spend@1").view.ttl == 30 * 86400
    assert [v.version for v in ws_tx.features.versions("spend")] == [1, 2]
    # lineage: the view version reads the dataset version
    graph = ws_tx.lineage.upstream(ws_tx.features.view("spend").lineage_artifact_id)
    assert any(a.name == "transactions@1" for a in graph.artifacts.values())
    # prune deletes views no longer declared; entities stay
    empty = Definitions((Entity("customer", ("customer_id",), "a paying customer"),), ())
    pruned = ws_tx.features.plan(empty, prune=True)
    assert ("delete", "spend") in [(c.action, c.name) for c in pruned.changes]
    ws_tx.features.apply(empty, prune=True)
    assert ws_tx.features.views() == [] and ws_tx.features.entity("customer")
    with pytest.raises(NotFound, match="no feature view 'spend'"):
        ws_tx.features.view("spend")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("source: {dataset: transactions}|source: {dataset: nope}", "no dataset named 'nope'"),
        ("timestamp: event_ts|timestamp: ts", "lacks timestamp column 'ts'"),
        ("join_keys: [customer_id]|join_keys: [client_id]", "lacks join key 'client_id'"),
        (
            "{name: channel, dtype: string}|{name: region, dtype: string}",
            "lacks feature column 'region'",
        ),
        ("{name: channel, dtype: string}|{name: channel, dtype: int64}", "declared int64"),
        ("timestamp: event_ts|timestamp: channel", "timestamp column 'channel' is VARCHAR"),
        ("entities: [customer]|entities: [client]", "entity 'client', which is not declared"),
        (
            "source: {dataset: transactions}|source: {sql: 'SELECT * FROM missing'}",
            "source query fails",
        ),
        ("dtype: float64|dtype: decimal", "types: int64"),
    ],
)
def test_plan_errors_name_the_problem(ws_tx: Workspace, change: str, message: str) -> None:
    import yaml

    from pmle.features.definitions import parse_definitions

    old, new = change.split("|")
    assert old in YAML
    with pytest.raises(InvalidInput, match=message):
        ws_tx.features.plan(parse_definitions(yaml.safe_load(YAML.replace(old, new, 1))))


def test_sql_sources(ws_tx: Workspace) -> None:
    defs = {
        "entities": [{"name": "customer", "join_keys": ["customer_id"]}],
        "feature_views": [
            {
                "name": "daily",
                "entities": ["customer"],
                "source": {
                    "sql": "SELECT customer_id, event_ts, amount * 2 AS doubled FROM transactions"
                },
                "timestamp": "event_ts",
                "features": [{"name": "doubled", "dtype": "float64"}],
            }
        ],
    }
    ws_tx.features.apply(defs)
    values = ws_tx.features.feature_values("daily").to_pandas()
    assert values["doubled"].tolist() == [2.0, 4.0, 6.0]
    graph = ws_tx.lineage.upstream(ws_tx.features.view("daily").lineage_artifact_id)
    assert any(a.name == "transactions@1" for a in graph.artifacts.values())
