"""The console's models pages over a real server: the registry's models, a model's versions,
card and lineage, and the alias and deploy actions (editors only, with the CSRF token)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pandas as pd
import pytest

from pmle.workspace import Workspace


@pytest.fixture
def console_deployed(deployed: Workspace, run_app: Any) -> Any:
    from pmle.server.app import PmleApp

    with run_app(PmleApp(deployed, poll_s=0.1)) as url:
        yield url


def test_models_list_shows_latest_version_aliases_and_task(
    deployed: Workspace, console_deployed: str, table: pd.DataFrame, labels: pd.Series,
    make_classifier: Any,
) -> None:  # fmt: skip
    deployed.models.register("churn", make_classifier(table, labels, 1), aliases=["champion"])
    r = httpx.get(f"{console_deployed}/models")
    assert r.status_code == 200
    html = r.text
    assert (
        '<a href="/models/churn">churn</a>' in html and '<a href="/models/value">value</a>' in html
    )
    row = html[html.index('href="/models/churn"') :].split("</tr>")[0]
    assert 'href="/models/churn?version=2">@2</a>' in row
    assert "default → 1" in row and "champion → 2" in row
    assert "binary" in row or "classification" in row
    value_row = html[html.index('href="/models/value"') :].split("</tr>")[0]
    assert "regression" in value_row and "ensemble" in value_row


def test_models_list_is_paginated(ws: Workspace, console: str, table: pd.DataFrame) -> None:
    import tempfile
    from pathlib import Path

    import numpy as np
    from sklearn.linear_model import LinearRegression

    from pmle.models import save_model

    x = table[["x", "n"]].fillna(0.0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_model(LinearRegression().fit(x, np.arange(len(x))), Path(tmp) / "m",
                            input_example=x.head())  # fmt: skip
        for i in range(53):
            ws.models.register(f"m{i:03d}", folder)
    first = httpx.get(f"{console}/models").text
    assert len(re.findall(r'<a href="/models/m\d+">', first)) == 50 and "Page 1 of 2" in first
    assert 'href="/models?page=2" rel="next"' in first
    second = httpx.get(f"{console}/models?page=2").text
    assert len(re.findall(r'<a href="/models/m\d+">', second)) == 3 and "m052" in second
    assert 'href="/models?page=1" rel="prev"' in second


def test_model_page_shows_versions_card_and_lineage(monitored: Workspace, console: str) -> None:
    r = httpx.get(f"{console}/models/churn")
    assert r.status_code == 200
    html = r.text
    assert "Model card: churn@1" in html
    assert "test_accuracy" in html and "0.95" in html and "0.97" in html  # metrics
    assert "<td>x</td>" in html and "<td>c</td>" in html and "green" in html  # signature
    assert "train@1" in html  # training data
    # the lineage graph: dataset → register → model → endpoint, with links
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert 'aria-label="Lineage of churn@1"' in svg
    assert "train@1" in svg and 'href="/datasets/train?version=1"' in svg
    assert "endpoint churn" in svg and 'href="/endpoints/churn"' in svg
    assert 'class="node current"' in svg
    # where it is served
    assert re.search(r'<a href="/endpoints/churn">churn</a></td><td>\d+</td>', html)
    # not signed in: no forms, a hint
    assert 'name="csrf"' not in html.split("<main", 1)[1]
    assert "Sign in with an editor's token</a> to set aliases" in html


def test_model_page_version_selection_and_unknown(deployed: Workspace, console_deployed: str,
                                                  table: pd.DataFrame, labels: pd.Series,
                                                  make_classifier: Any) -> None:  # fmt: skip
    deployed.models.register("churn", make_classifier(table, labels, 2), metrics={"auc": 0.5})
    html = httpx.get(f"{console_deployed}/models/churn?version=2").text
    assert "Model card: churn@2" in html and 'aria-current="page">@2</a>' in html
    assert "Model card: churn@1" in httpx.get(f"{console_deployed}/models/churn").text
    assert httpx.get(f"{console_deployed}/models/nope").status_code == 404
    assert httpx.get(f"{console_deployed}/models/churn?version=9").status_code == 404
    assert httpx.get(f"{console_deployed}/models/churn/versions/1/card").status_code == 404


def test_set_and_delete_an_alias(
    deployed: Workspace, console_deployed: str, sign_in: Any, csrf_of: Any
) -> None:
    url = console_deployed
    with httpx.Client() as client:
        sign_in(client, url, deployed)
        page = client.get(f"{url}/models/churn")
        csrf = csrf_of(page.text)
        assert 'action="/models/churn/alias"' in page.text
        r = client.post(
            f"{url}/models/churn/alias", data={"csrf": csrf, "version": "1", "alias": "champion"}
        )
        assert r.status_code == 303
        assert deployed.models.get("churn@champion").version == 1
        after = client.get(f"{url}{r.headers['location']}")
        assert "Alias champion now points at churn@1." in after.text
        assert "Delete alias champion" in after.text
        r = client.post(
            f"{url}/models/churn/alias/delete",
            data={"csrf": csrf, "version": "1", "alias": "champion"},
        )
        assert r.status_code == 303 and "champion" not in deployed.models.get("churn@1").aliases
        # errors come back as a notice on the page the form was on
        r = client.post(
            f"{url}/models/churn/alias/delete",
            data={"csrf": csrf, "alias": "default"},
            headers={"referer": f"{url}/models/churn"},
        )
        assert r.status_code == 303 and r.headers["location"].startswith("/models/churn?notice=")
        shown = client.get(f"{url}{r.headers['location']}").text
        assert "Error: the alias &#39;default&#39; cannot be deleted" in shown
        r = client.post(
            f"{url}/models/churn/alias",
            data={"csrf": csrf, "version": "1", "alias": "latest"},
            headers={"referer": f"{url}/models/churn"},
        )
        assert "notice=Error" in r.headers["location"]


def test_deploy_a_version_to_an_existing_and_a_new_endpoint(
    deployed: Workspace, console_deployed: str, sign_in: Any, csrf_of: Any,
    table: pd.DataFrame, labels: pd.Series, make_classifier: Any,
) -> None:  # fmt: skip
    url = console_deployed
    deployed.models.register("churn", make_classifier(table, labels, 3))
    with httpx.Client() as client:
        sign_in(client, url, deployed)
        csrf = csrf_of(client.get(f"{url}/models/churn?version=2").text)
        r = client.post(
            f"{url}/models/churn/deploy",
            data={"csrf": csrf, "version": "2", "endpoint": "churn", "traffic": "25"},
        )
        assert r.status_code == 303 and r.headers["location"].startswith("/endpoints/churn?")
        split = {
            d.model: d.traffic_percent for d in deployed.endpoints.get("churn").deployed_models
        }
        assert split == {"churn@1": 75, "churn@2": 25}
        r = client.post(
            f"{url}/models/churn/deploy",
            data={"csrf": csrf, "version": "2", "endpoint": "", "new_endpoint": "canary",
                  "traffic": "10"},
        )  # fmt: skip
        assert r.status_code == 303 and r.headers["location"].startswith("/endpoints/canary?")
        info = deployed.endpoints.get("canary")
        assert [(d.model, d.traffic_percent) for d in info.deployed_models] == [("churn@2", 100)]
        # the new endpoint serves at once
        p = httpx.post(
            f"{url}/v1/projects/p/locations/l/endpoints/canary:predict",
            json={"instances": [{"x": 0.1, "n": 3, "c": "red", "b": True}]},
        )
        assert p.status_code == 200 and "predictions" in p.json()
        # a bad percent is refused with a notice
        r = client.post(
            f"{url}/models/churn/deploy",
            data={"csrf": csrf, "version": "2", "endpoint": "churn", "traffic": "150"},
            headers={"referer": f"{url}/models/churn"},
        )
        assert "notice=Error" in r.headers["location"]
        assert len(deployed.endpoints.get("churn").deployed_models) == 2


def test_a_viewer_cannot_act(
    deployed: Workspace, console_deployed: str, sign_in: Any, csrf_of: Any
) -> None:
    url = console_deployed
    with httpx.Client() as client:
        sign_in(client, url, deployed, role="viewer")
        page = client.get(f"{url}/models/churn")
        assert 'action="/models/churn/alias"' not in page.text
        csrf = csrf_of(page.text)  # the sign-out form's
        r = client.post(
            f"{url}/models/churn/alias", data={"csrf": csrf, "version": "1", "alias": "x"}
        )
        assert r.status_code == 403
        r = client.post(
            f"{url}/models/churn/deploy",
            data={"csrf": csrf, "version": "1", "endpoint": "", "new_endpoint": "x"},
        )
        assert r.status_code == 403
    assert "x" not in deployed.models.get("churn@1").aliases
    assert [e.name for e in deployed.endpoints.list()] == ["churn", "value"]


def test_fairness_on_the_card_and_the_full_card_page(
    deployed: Workspace, console_deployed: str, table: pd.DataFrame, labels: pd.Series
) -> None:
    deployed.fairness.evaluate(
        "churn@1", table.assign(churn=labels), "c", label="churn", positive="yes"
    )
    html = httpx.get(f"{console_deployed}/models/churn").text
    assert "<h3>Fairness</h3>" in html and "<td>c</td>" in html
    assert 'href="/models/churn/versions/1/card"' in html
    card = httpx.get(f"{console_deployed}/models/churn/versions/1/card")
    assert card.status_code == 200 and "<h2>Fairness</h2>" in card.text
    assert "Demographic parity difference" in card.text
    assert "default-src 'self'" in card.headers["content-security-policy"]
