"""The models and endpoints pages in a real browser: register a second version, deploy it from
its page as a 10 % canary (90 old / 10 new), see the split on the endpoint page and in the
workspace, try a split that does not add up, and predict through the same server."""

from __future__ import annotations

from typing import Any

import httpx
import pandas as pd
import pytest

from pmle.workspace import Workspace

ROW = {"x": 0.3, "n": 4, "c": "red", "b": False}


@pytest.fixture
def url(deployed: Workspace, run_app: Any) -> Any:
    from pmle.server.app import PmleApp

    with run_app(PmleApp(deployed, poll_s=0.1)) as base:
        yield base


def test_canary_deploy_from_the_console(
    deployed: Workspace, url: str, page: Any, browser_sign_in: Any,
    table: pd.DataFrame, labels: pd.Series, make_classifier: Any, tmp_path: Any,
) -> None:  # fmt: skip
    pg = page
    requests: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    for _ in range(3):  # some traffic for the charts
        httpx.post(f"{url}/v1/projects/p/locations/l/endpoints/churn:predict",
                   json={"instances": [ROW]})  # fmt: skip
    v2 = deployed.models.register("churn", make_classifier(table, labels, 7), metrics={"auc": 0.9})
    browser_sign_in(pg, url, deployed)

    # the models list links to the model; the newest version is there
    pg.goto(f"{url}/models")
    pg.get_by_role("link", name="@2").click()
    pg.wait_for_selector("h2:has-text('Model card: churn@2')")
    assert pg.locator("svg.dag").count() == 1

    # deploy churn@2 to the endpoint churn with 10 % of the traffic
    pg.select_option("#endpoint", "churn")
    pg.fill("#traffic", "10")
    pg.get_by_role("button", name="Deploy").click()
    pg.wait_for_selector("text=Deployed churn@2 on endpoint churn")
    assert pg.url.startswith(f"{url}/endpoints/churn")

    info = deployed.endpoints.get("churn")
    assert {d.model: d.traffic_percent for d in info.deployed_models} == {
        "churn@1": 90,
        "churn@2": 10,
    }
    new = info.deployed_models[1]
    assert new.model == v2.ref
    traffic = pg.locator("tbody tr[data-deployed] td.traffic").all_inner_texts()
    assert traffic == ["90%", "10%"]

    # the split editor refuses shares that do not add up, and says so
    pg.fill(f"#split_{new.id}", "20")
    pg.get_by_role("button", name="Save the split").click()
    pg.wait_for_selector(".notice.bad:has-text('sum to 110, not 100')")
    assert deployed.endpoints.get("churn").traffic_split[new.id] == 10

    # the charts render from the shipped Vega files, and nothing came from elsewhere
    pg.wait_for_selector("figure.chart[data-rendered] svg")
    assert all(u.startswith(url) for u in requests), "the console fetched from elsewhere"
    pg.screenshot(path=str(tmp_path / "endpoint.png"), full_page=True)

    # predictions still work through the same server, from both deployed models
    seen: set[str] = set()
    for _ in range(60):
        r = httpx.post(
            f"{url}/v1/projects/p/locations/l/endpoints/churn:predict", json={"instances": [ROW]}
        )
        assert r.status_code == 200 and len(r.json()["predictions"]) == 1
        seen.add(r.json()["deployedModelId"])
    assert seen <= {info.deployed_models[0].id, new.id} and info.deployed_models[0].id in seen
