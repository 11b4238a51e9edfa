"""The monitors pages over real monitor runs: a batch monitor whose second run drifted (skew
and drift alerts on `x` and `c`), its distances over time, distributions, alerts, reports;
running a monitor from the page (editors only), and the API additions the pages use."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from pmle.workspace import Workspace


def shifted(frame: pd.DataFrame) -> pd.DataFrame:
    """`x` moved by 3 standard deviations and `c` mostly "blue"."""
    out = frame.copy()
    out["x"] = out["x"] + 3.0
    out["c"] = np.where(np.arange(len(out)) % 10 < 8, "blue", out["c"])
    return out


def drifted(ws: Workspace, fresh_rows: Any) -> Workspace:
    """Monitor `batch` on churn@1: run 1 over like-training rows, run 2 over shifted rows."""
    ws.datasets.import_("scored", fresh_rows(600, 1))
    ws.datasets.import_("scored", shifted(fresh_rows(600, 2)))
    ws.monitors.create("batch", model="churn@1", schedule=None, description="nightly scores")
    assert not ws.monitors.run("batch", data="scored@1").alerts
    run = ws.monitors.run("batch", data="scored@2")
    assert {a["feature"] for a in run.alerts} == {"x", "c"} and run.report
    return ws


@pytest.fixture
def with_drift(monitored: Workspace, fresh_rows: Any) -> Workspace:
    return drifted(monitored, fresh_rows)


def specs(html: str) -> list[dict[str, Any]]:
    return [
        json.loads(s)
        for s in re.findall(r'<script type="application/json" id="spec-\d+">(.*?)</script>', html)
    ]


def test_the_list_shows_runs_and_alert_counts(with_drift: Workspace, console: str) -> None:
    with_drift.monitors.create("quiet", endpoint="churn")
    r = httpx.get(f"{console}/monitors")
    assert r.status_code == 200
    batch = re.search(r'<tr><td><a href="/monitors/batch">batch</a>(.*?)</tr>', r.text, re.S)
    assert batch, r.text
    row = batch.group(1)
    assert "churn@1" in row and "data given to each run" in row and "skew, drift" in row
    assert 'href="/monitors/batch?run=2"' in row and "COMPLETE" in row and "600 rows" in row
    alerts = len(with_drift.monitors.alerts("batch", limit=None))
    assert alerts == 4 and f'<span class="badge bad">{alerts}</span>' in row  # skew, drift: x, c
    quiet = re.search(r'href="/monitors/quiet">quiet</a>(.*?)</tr>', r.text, re.S)
    assert quiet and "never run" in quiet.group(1) and "every 24h" in quiet.group(1)
    assert 'href="/endpoints/churn"' in quiet.group(1)


def test_a_monitor_page_draws_distances_distributions_and_alerts(
    with_drift: Workspace, console: str
) -> None:
    r = httpx.get(f"{console}/monitors/batch")
    assert r.status_code == 200
    html = r.text
    assert "nightly scores" in html and "train@1" in html
    drift, skew, bars = specs(html)
    # per objective, one line per feature over the runs, with the threshold rule
    assert skew["title"].startswith("skew:") and drift["title"].startswith("drift:")
    assert {row["feature"] for row in skew["data"]["values"]} == {"x", "n", "c", "b"}
    assert {row["run"] for row in skew["data"]["values"]} == {1, 2}
    assert {row["run"] for row in drift["data"]["values"]} == {2}  # from the second run on
    x2 = [r for r in skew["data"]["values"] if r["feature"] == "x" and r["run"] == 2]
    assert x2[0]["distance"] >= 0.3 and skew["layer"][1]["data"]["values"] == [{"t": 0.3}]
    # baseline vs current of the newest run's largest distance, grouped bars
    assert bars["encoding"]["xOffset"] == {"field": "side"}
    assert {row["side"] for row in bars["data"]["values"]} == {"baseline", "current"}
    # the alerts, newest first, each linking to its run's distribution
    rows = re.findall(r'<tr class="alert-row">(.*?)</tr>', html, re.S)
    assert len(rows) == len(with_drift.monitors.alerts("batch"))
    assert all(">2</a>" in row for row in rows)
    assert any(">x</a>" in row and "jensen_shannon_divergence" in row for row in rows)
    assert any(">c</a>" in row and "l_infinity" in row for row in rows)
    # runs with their reports
    assert 'href="/monitors/batch/runs/2/report"' in html
    assert 'href="/monitors/batch/runs/1.json"' in html


def test_choosing_a_run_and_a_feature(with_drift: Workspace, console: str) -> None:
    r = httpx.get(f"{console}/monitors/batch?run=1&feature=n&objective=skew")
    assert r.status_code == 200
    bars = specs(r.text)[-1]
    assert bars["title"] == "n: training baseline vs current (skew)"
    assert 'aria-current="page">n <span class="muted">skew</span>' in r.text
    r = httpx.get(f"{console}/monitors/batch?run=2&feature=c&objective=drift")
    assert specs(r.text)[-1]["title"] == "c: previous window vs current (drift)"
    assert "anomalous" in r.text
    assert httpx.get(f"{console}/monitors/batch?run=9").status_code == 404
    assert httpx.get(f"{console}/monitors/batch?run=2&feature=zz").status_code == 404
    assert httpx.get(f"{console}/monitors/nope").status_code == 404


def test_reports_are_served_from_the_report_folder_only(
    with_drift: Workspace, console: str
) -> None:
    r = httpx.get(f"{console}/monitors/batch/runs/2/report")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Monitor batch · run 2" in r.text and "data:image/png;base64," in r.text
    assert "sandbox" in r.headers.get_list("content-security-policy")[0]
    png = httpx.get(f"{console}/monitors/batch/runs/2/report.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    data = httpx.get(f"{console}/monitors/batch/runs/2.json").json()
    assert data["run_id"] == 2 and {a["feature"] for a in data["alerts"]} == {"x", "c"}
    # a run whose recorded report points outside the folder is not served
    from pmle.storage import schema as t

    with with_drift.engine.begin() as conn:
        conn.execute(
            t.monitor_runs.update()
            .where(t.monitor_runs.c.id == 1)
            .values(report=str(with_drift.root / "metadata.db"))
        )
    assert httpx.get(f"{console}/monitors/batch/runs/1/report").status_code == 404
    assert httpx.get(f"{console}/monitors/batch/runs/7/report").status_code == 404


def test_run_now_is_for_editors(
    with_drift: Workspace, console: str, sign_in: Any, csrf_of: Any
) -> None:
    page = httpx.get(f"{console}/monitors/batch").text
    assert 'action="/monitors/batch/run"' not in page and "Sign in with an editor" in page
    with httpx.Client() as viewer:
        sign_in(viewer, console, with_drift, role="viewer")
        page = viewer.get(f"{console}/monitors/batch").text
        assert 'action="/monitors/batch/run"' not in page
        r = viewer.post(
            f"{console}/monitors/batch/run", data={"csrf": csrf_of(page), "dataset": "scored@2"}
        )
        assert r.status_code == 403
    with httpx.Client() as editor:
        sign_in(editor, console, with_drift)
        page = editor.get(f"{console}/monitors/batch").text
        assert 'action="/monitors/batch/run"' in page
        csrf = csrf_of(page)
        referer = {"referer": f"{console}/monitors/batch"}
        r = editor.post(
            f"{console}/monitors/batch/run",
            data={"csrf": csrf, "dataset": "scored@2"},
            headers=referer,
        )
        assert r.status_code == 303 and r.headers["location"].startswith("/monitors/batch?run=3")
        assert "alerts" in editor.get(f"{console}{r.headers['location']}").text
        assert with_drift.monitors.runs("batch", limit=1)[0].id == 3
        # a batch monitor needs a dataset; a path on the server is never read
        for given in ("", "/etc/passwd", "../metadata.db"):
            r = editor.post(
                f"{console}/monitors/batch/run",
                data={"csrf": csrf, "dataset": given},
                headers=referer,
            )
            assert r.status_code == 303 and "notice=Error" in r.headers["location"], given
        assert with_drift.monitors.runs("batch", limit=1)[0].id == 3


def test_run_now_on_an_endpoint_monitor_reads_its_log(
    monitored: Workspace, console: str, sign_in: Any, csrf_of: Any
) -> None:
    monitored.monitors.create("live", endpoint="churn")
    with httpx.Client() as editor:
        sign_in(editor, console, monitored)
        csrf = csrf_of(editor.get(f"{console}/monitors/live").text)
        r = editor.post(f"{console}/monitors/live/run", data={"csrf": csrf})
        assert r.status_code == 303
        assert "Run+1%3A+0+rows%2C+no+alerts." in r.headers["location"]
        page = editor.get(f"{console}{r.headers['location']}").text
        assert "Run 1: 0 rows, no alerts." in page and "measured no feature distances" in page


def test_runs_and_alerts_page_with_an_offset(with_drift: Workspace) -> None:
    newest = with_drift.monitors.runs("batch")
    assert [r.id for r in with_drift.monitors.runs("batch", limit=1, offset=1)] == [newest[1].id]
    alerts = with_drift.monitors.alerts("batch", limit=None)
    assert with_drift.monitors.alerts("batch", limit=2, offset=2) == alerts[2:4]
    (summary,) = with_drift.monitors.summaries()
    assert summary["name"] == "batch" and summary["alerts"] == len(alerts)
    assert summary["last_run"]["id"] == newest[0].id and summary["last_run"]["rows"] == 600
