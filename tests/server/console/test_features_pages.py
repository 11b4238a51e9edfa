"""The feature store pages over a real registry and online store: entities, views with their
source, TTL, owner and tags, freshness after materializing; a view's versions and
materializations, and materializing from the page (editors only)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from pmle.workspace import Workspace


def events(n: int, seed: int, start: str = "2026-01-01") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_id": rng.integers(0, 50, n),
            "ts": pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, 5 * 86400, n), "s"),
            "clicks": rng.integers(0, 100, n),
        }
    )


def definitions(ttl: str = "30d", owner: str = "growth") -> dict[str, Any]:
    return {
        "entities": [{"name": "user", "join_keys": ["user_id"], "description": "a customer"}],
        "feature_views": [
            {
                "name": "activity",
                "entities": ["user"],
                "source": {"dataset": "events"},
                "timestamp": "ts",
                "ttl": ttl,
                "features": [{"name": "clicks", "dtype": "int64", "description": "per day"}],
                "owner": owner,
                "tags": {"team": "web"},
            }
        ],
    }


@pytest.fixture
def store(ws: Workspace) -> Workspace:
    """View `activity` (2 versions), materialized once."""
    ws.datasets.import_("events", events(400, 1))
    ws.features.apply(definitions(owner="web"))
    ws.features.apply(definitions())
    ws.features.materialize(end=pd.Timestamp("2026-01-04").timestamp())
    return ws


def test_the_store_lists_entities_views_and_freshness(store: Workspace, console: str) -> None:
    r = httpx.get(f"{console}/features")
    assert r.status_code == 200
    html = r.text
    assert "<td>user</td><td><code>user_id</code></td><td>a customer</td>" in html
    view = re.search(
        r'<tr><td><a href="/features/activity">activity</a></td>(.*?)</tr>', html, re.S
    )
    assert view, html
    row = view.group(1)
    assert '<td class="num">2</td>' in row and 'href="/datasets/events"' in row
    assert "30d" in row and "clicks" in row and "growth" in row and "team=web" in row
    fresh = re.search(r'<a href="/features/activity">activity@2</a></td>(.*?)</tr>', html, re.S)
    assert fresh, html
    cells = fresh.group(1)
    assert "2026-01-04 00:00 UTC" in cells  # online until the run's end
    assert "badge warn" in cells  # newer events are not online yet: a lag
    online = store.features.freshness()[0].online_entities
    assert online > 0 and f'<td class="num">{online}</td>' in cells


def test_a_view_shows_versions_and_materializations(store: Workspace, console: str) -> None:
    r = httpx.get(f"{console}/features/activity")
    assert r.status_code == 200
    html = r.text
    assert "version 2" in html and "current" in html and "activity:clicks" in html
    assert 'user <span class="muted">(user_id)</span>' in html
    assert 'href="/features/activity?version=1"' in html
    rows = re.findall(
        r"<tr><td class=\"num\">(\d+)</td><td class=\"num\">2</td>(.*?)</tr>", html, re.S
    )
    assert len(rows) == 1 and "SUCCEEDED" in rows[0][1]
    old = httpx.get(f"{console}/features/activity?version=1").text
    assert "version 1" in old and "web" in old
    assert httpx.get(f"{console}/features/nope").status_code == 404
    assert httpx.get(f"{console}/features/activity?version=9").status_code == 404


def test_an_empty_store(console: str) -> None:
    html = httpx.get(f"{console}/features").text
    assert "No entities yet" in html and "No feature views yet" in html


def test_materialize_is_for_editors(
    store: Workspace, console: str, sign_in: Any, csrf_of: Any
) -> None:
    page = httpx.get(f"{console}/features/activity").text
    assert 'action="/features/activity/materialize"' not in page
    assert "Sign in with an editor" in page
    with httpx.Client() as viewer:
        sign_in(viewer, console, store, role="viewer")
        csrf = csrf_of(viewer.get(f"{console}/features/activity").text)
        r = viewer.post(f"{console}/features/activity/materialize", data={"csrf": csrf})
        assert r.status_code == 403
    with httpx.Client() as editor:
        sign_in(editor, console, store)
        page = editor.get(f"{console}/features/activity").text
        assert 'action="/features/activity/materialize"' in page
        r = editor.post(
            f"{console}/features/activity/materialize",
            data={"csrf": csrf_of(page), "incremental": "1"},
        )
        assert r.status_code == 303 and r.headers["location"].startswith("/features/activity?")
        assert "Materialized" in editor.get(f"{console}{r.headers['location']}").text
    from pmle.features.materialize import runs as materializations

    runs = materializations(store.features)
    assert len(runs) == 2 and runs[0].state == "SUCCEEDED"
    assert runs[0].start == pd.Timestamp("2026-01-04").timestamp()  # incremental
    assert not [f for f in store.features.freshness() if f.lag_s]  # now up to date
