"""The console's endpoints pages over a real server: endpoints with their split, one endpoint's
deployed models with counters and charts, and the split / deploy / undeploy / logging actions."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pandas as pd
import pytest

from pmle.workspace import Workspace

VX = "/v1/projects/p/locations/l/endpoints"
ROW = {"x": 0.3, "n": 4, "c": "red", "b": False}


@pytest.fixture
def url(deployed: Workspace, run_app: Any) -> Any:
    from pmle.server.app import PmleApp

    with run_app(PmleApp(deployed, poll_s=0.1)) as base:
        yield base


def _specs(html: str) -> list[dict[str, Any]]:
    return [
        json.loads(s.replace("<\\/", "</"))
        for s in re.findall(r'<script type="application/json" id="spec-\d+">(.*?)</script>', html)
    ]


def _wait(check: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_endpoints_list_shows_split(deployed: Workspace, url: str) -> None:
    r = httpx.get(f"{url}/endpoints")
    assert r.status_code == 200
    row = r.text[r.text.index('<a href="/endpoints/churn">') :].split("</tr>")[0]
    assert '<a href="/models/churn?version=1">churn@1</a> <span class="badge">100%</span>' in row
    assert '<a href="/endpoints/value">value</a>' in r.text


def test_endpoint_page_shows_deployments_counters_and_charts(
    deployed: Workspace, url: str, table: pd.DataFrame
) -> None:
    for _ in range(5):
        assert httpx.post(f"{url}{VX}/churn:predict", json={"instances": [ROW, ROW]}).is_success
    assert (
        httpx.post(f"{url}{VX}/churn:predict", json={"instances": [{"x": "oops"}]}).status_code
        == 400
    )
    _wait(lambda: deployed.endpoints.get("churn").deployed_models[0].request_count >= 6)
    d = deployed.endpoints.get("churn").deployed_models[0]
    r = httpx.get(f"{url}/endpoints/churn")
    assert r.status_code == 200
    html = r.text
    row = html[html.index(f'<tr data-deployed="{d.id}">') :].split("</tr>")[0]
    assert "churn@1" in row and "100%" in row and "up to 64 rows" in row
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    assert cells[:3] == ["6", "1", "10"]  # requests, errors, rows
    assert cells[3].endswith(" ms") and cells[4].endswith(" ms") and cells[5].endswith(" ms")
    specs = {s["title"]: s for s in _specs(html)}
    counts = specs["Requests and errors per deployed model"]["data"]["values"]
    assert {"deployed model": f"{d.id}: churn@1", "kind": "errors", "count": 1} in counts
    latency = specs["Request latency (all requests so far)"]["data"]["values"]
    assert sum(v["requests"] for v in latency) == 6
    assert "Latency buckets as a table" in html
    # logging is off: no time series, and the page says where it would come from
    assert "request–response log, which is off for churn" in html
    # not signed in: no forms
    assert 'action="/endpoints/churn/split"' not in html and "Sign in with an editor" in html
    assert httpx.get(f"{url}/endpoints/nope").status_code == 404


def test_request_rate_over_time_from_the_request_log(
    deployed: Workspace, url: str, sign_in: Any, csrf_of: Any
) -> None:
    with httpx.Client() as client:
        sign_in(client, url, deployed)
        csrf = csrf_of(client.get(f"{url}/endpoints/churn").text)
        r = client.post(f"{url}/endpoints/churn/logging", data={"csrf": csrf, "log_percent": "100"})
        assert r.status_code == 303 and deployed.endpoints.get("churn").log_sampling == 1.0
        for _ in range(4):
            assert httpx.post(f"{url}{VX}/churn:predict", json={"instances": [ROW]}).is_success
        from datetime import timedelta

        from pmle._util import utcnow
        from pmle.serving.request_log import traffic

        def logged() -> int:
            since = utcnow() - timedelta(hours=1)
            found = traffic(deployed.prediction_log_dir, "churn", since=since)
            return sum(r["requests"] for r in found.rows)

        _wait(lambda: logged() == 4)  # the server writes its log every second
        html = client.get(f"{url}/endpoints/churn?hours=1").text
        specs = {s["title"]: s for s in _specs(html)}
        rate = specs["Logged requests per minute"]["data"]["values"]
        assert sum(v["requests/min"] for v in rate) == 4  # one-minute buckets
        assert specs["Latency of logged requests (ms)"]["data"]["values"]
        assert 'href="?hours=1" aria-current="page"' in html


def test_traffic_split_editor(deployed: Workspace, url: str, sign_in: Any, csrf_of: Any,
                              table: pd.DataFrame, labels: pd.Series,
                              make_classifier: Any) -> None:  # fmt: skip
    v2 = deployed.models.register("churn", make_classifier(table, labels, 5))
    second = deployed.endpoints.deploy("churn", v2.ref, traffic_percent=0)
    first = deployed.endpoints.get("churn").deployed_models[0]
    with httpx.Client() as client:
        sign_in(client, url, deployed)
        page = client.get(f"{url}/endpoints/churn").text
        assert f'name="split_{first.id}"' in page and f'name="split_{second.id}"' in page
        csrf = csrf_of(page)
        here = {"referer": f"{url}/endpoints/churn"}
        r = client.post(
            f"{url}/endpoints/churn/split",
            data={"csrf": csrf, f"split_{first.id}": "70", f"split_{second.id}": "30"},
            headers=here,
        )
        assert r.status_code == 303 and "notice=Traffic+split" in r.headers["location"]
        assert deployed.endpoints.get("churn").traffic_split == {first.id: 70, second.id: 30}
        # a split that does not add up to 100 is refused and said so
        r = client.post(
            f"{url}/endpoints/churn/split",
            data={"csrf": csrf, f"split_{first.id}": "70", f"split_{second.id}": "40"},
            headers=here,
        )
        assert r.status_code == 303 and r.headers["location"].startswith("/endpoints/churn?")
        shown = client.get(f"{url}{r.headers['location']}").text
        assert '<p class="notice bad" role="status">Error: traffic percentages sum to 110' in shown
        r = client.post(
            f"{url}/endpoints/churn/split",
            data={"csrf": csrf, f"split_{first.id}": "seventy", f"split_{second.id}": "30"},
            headers=here,
        )
        assert "must+be+a+whole+number" in r.headers["location"]
        assert deployed.endpoints.get("churn").traffic_split == {first.id: 70, second.id: 30}
        # the page shows the split saved
        page = client.get(f"{url}/endpoints/churn").text
        assert f'name="split_{first.id}" min="0" max="100" step="1" value="70"' in page


def test_deploy_and_undeploy(deployed: Workspace, url: str, sign_in: Any, csrf_of: Any) -> None:
    with httpx.Client() as client:
        sign_in(client, url, deployed)
        csrf = csrf_of(client.get(f"{url}/endpoints/churn").text)
        r = client.post(
            f"{url}/endpoints/churn/deploy",
            data={"csrf": csrf, "model": "value", "version": "default", "traffic": "10",
                  "max_batch_size": "1", "compile": ""},
        )  # fmt: skip
        assert r.status_code == 303
        info = deployed.endpoints.get("churn")
        assert [(d.model, d.traffic_percent) for d in info.deployed_models] == [
            ("churn@1", 90),
            ("value@1", 10),
        ]
        new = info.deployed_models[1]
        assert new.max_batch_size == 1 and not new.batching
        page = client.get(f"{url}{r.headers['location']}").text
        assert f"Deployed value@1 as deployed model {new.id} with 10% of the traffic." in page
        r = client.post(
            f"{url}/endpoints/churn/deploy",
            data={"csrf": csrf, "model": "nope", "version": "1", "traffic": "10"},
            headers={"referer": f"{url}/endpoints/churn"},
        )
        assert "notice=Error" in r.headers["location"]
        r = client.post(
            f"{url}/endpoints/churn/undeploy", data={"csrf": csrf, "deployed_model_id": new.id}
        )
        assert r.status_code == 303
        info = deployed.endpoints.get("churn")
        assert [(d.model, d.traffic_percent) for d in info.deployed_models] == [("churn@1", 100)]
        assert "Undeployed value@1" in client.get(f"{url}{r.headers['location']}").text
        # the endpoint still serves
        assert httpx.post(f"{url}{VX}/churn:predict", json={"instances": [ROW]}).is_success


def test_a_viewer_is_refused(deployed: Workspace, url: str, sign_in: Any, csrf_of: Any) -> None:
    dm = deployed.endpoints.get("churn").deployed_models[0]
    with httpx.Client() as client:
        sign_in(client, url, deployed, role="viewer")
        page = client.get(f"{url}/endpoints/churn").text
        assert "Undeploy" not in page and 'action="/endpoints/churn/split"' not in page
        csrf = csrf_of(page)
        for path, data in (
            ("split", {f"split_{dm.id}": "100"}),
            ("deploy", {"model": "value", "version": "1", "traffic": "10"}),
            ("undeploy", {"deployed_model_id": dm.id}),
            ("logging", {"log_percent": "100"}),
        ):
            r = client.post(f"{url}/endpoints/churn/{path}", data={"csrf": csrf, **data})
            assert r.status_code == 403, path
    info = deployed.endpoints.get("churn")
    assert [d.model for d in info.deployed_models] == ["churn@1"] and info.log_sampling == 0.0
