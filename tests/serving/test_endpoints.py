"""Endpoints: create, deploy by version or alias, traffic split rules, undeploy, counters."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from pmle.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from pmle.workspace import Workspace


@pytest.fixture
def two_versions(
    ws: Workspace, table: pd.DataFrame, labels: pd.Series, make_classifier: Any
) -> Workspace:
    ws.models.register("churn", make_classifier(table, labels, 0), input_example=table.head())
    ws.models.register(
        "churn",
        make_classifier(table, labels, 1),
        input_example=table.head(),
        aliases=["challenger"],
    )
    ws.endpoints.create("web", description="front door")
    return ws


def test_create_get_list_delete(ws: Workspace) -> None:
    info = ws.endpoints.create("web", log_sampling=0.25)
    assert info.name == "web" and info.log_sampling == 0.25 and info.deployed_models == ()
    with pytest.raises(AlreadyExists):
        ws.endpoints.create("web")
    assert [e.name for e in ws.endpoints.list()] == ["web"]
    ws.endpoints.delete("web")
    with pytest.raises(NotFound, match="no endpoint named 'web'"):
        ws.endpoints.get("web")


def test_bad_names_and_rates(ws: Workspace) -> None:
    with pytest.raises(InvalidInput):
        ws.endpoints.create("1bad")
    with pytest.raises(InvalidInput, match="sampling"):
        ws.endpoints.create("web", log_sampling=1.5)


def test_deploy_resolves_alias_now_and_pins_it(two_versions: Workspace) -> None:
    ws = two_versions
    d = ws.endpoints.deploy("web", "churn@challenger")
    assert d.model == "churn@2" and d.traffic_percent == 100
    ws.models.set_alias("churn@1", "challenger")  # moving the alias later changes nothing
    assert ws.endpoints.get("web").deployed(d.id).model == "churn@2"


def test_new_model_with_a_share_rescales_the_others(two_versions: Workspace) -> None:
    ws = two_versions
    first = ws.endpoints.deploy("web", "churn@1")
    second = ws.endpoints.deploy("web", "churn@2", traffic_percent=10)
    assert ws.endpoints.get("web").traffic_split == {first.id: 90, second.id: 10}
    third = ws.endpoints.deploy(
        "web", "churn@1", traffic_split={first.id: 50, second.id: 25, "0": 25}
    )
    assert ws.endpoints.get("web").traffic_split == {first.id: 50, second.id: 25, third.id: 25}
    ws.endpoints.undeploy("web", first.id)
    assert ws.endpoints.get("web").traffic_split == {second.id: 50, third.id: 50}


def test_split_must_sum_to_100_and_name_deployed_models(two_versions: Workspace) -> None:
    ws = two_versions
    a = ws.endpoints.deploy("web", "churn@1")
    b = ws.endpoints.deploy("web", "churn@2", traffic_percent=0)
    with pytest.raises(InvalidInput, match="sum to 110"):
        ws.endpoints.set_traffic_split("web", {a.id: 100, b.id: 10})
    with pytest.raises(NotFound, match="no deployed model '99'"):
        ws.endpoints.set_traffic_split("web", {"99": 100})
    with pytest.raises(InvalidInput, match="integer"):
        ws.endpoints.set_traffic_split("web", {a.id: 50.5, b.id: 49.5})  # type: ignore[dict-item]
    before = ws.endpoints.get("web")
    info = ws.endpoints.set_traffic_split("web", {b.id: 100})  # left out → 0
    assert info.traffic_split == {a.id: 0, b.id: 100}
    assert info.revision > before.revision


def test_failed_deploy_changes_nothing(two_versions: Workspace) -> None:
    ws = two_versions
    ws.endpoints.deploy("web", "churn@1")
    with pytest.raises(InvalidInput):
        ws.endpoints.deploy("web", "churn@2", traffic_percent=150)
    with pytest.raises(NotFound):
        ws.endpoints.deploy("web", "nosuch@1")
    with pytest.raises(InvalidInput, match="max batch size"):
        ws.endpoints.deploy("web", "churn@2", max_batch_size=0)
    assert len(ws.endpoints.get("web").deployed_models) == 1


def test_delete_with_deployments_needs_force(two_versions: Workspace) -> None:
    ws = two_versions
    ws.endpoints.deploy("web", "churn")
    with pytest.raises(Conflict, match="deployed model"):
        ws.endpoints.delete("web")
    ws.endpoints.delete("web", force=True)
    assert ws.endpoints.list() == []


def test_counters_add_up_from_several_servers(two_versions: Workspace) -> None:
    ws = two_versions
    d = ws.endpoints.deploy("web", "churn")
    delta = {"requests": 3, "errors": 1, "rows": 30, "latency_ms_sum": 6.0}
    ws.endpoints.add_stats({d.id: {**delta, "latency_buckets": [0, 2, 1]}})
    ws.endpoints.add_stats({d.id: {**delta, "latency_buckets": [1, 0, 0, 1]}, "999": delta})
    got = ws.endpoints.get("web").deployed(d.id)
    assert (got.request_count, got.error_count, got.row_count) == (6, 2, 60)
    assert got.latency_buckets == (1, 2, 1, 1)
    assert got.to_dict()["stats"]["latencyMsMean"] == 2.0
    assert got.latency_quantile(0.5) == 2.0
