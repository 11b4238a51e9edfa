"""A monitor on a real server: requests over HTTP are logged by the server, the monitor finds
the shifted features in its window and delivers the alert to a real webhook on loopback."""

from __future__ import annotations

import time
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

import pmle
from pmle.server.app import PmleApp
from pmle.workspace import Workspace


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return list(frame.astype(object).where(frame.notna(), None).to_dict(orient="records"))


def test_server_logs_feed_the_monitor_and_the_webhook_gets_the_alert(
    monitored: Workspace, table: pd.DataFrame, run_app: Any, webhook: tuple[str, list[Any]]
) -> None:
    url_hook, received = webhook
    monitored.monitors.create(
        "live",
        endpoint="churn",
        schedule=None,
        id_field="row",
        sinks=[{"type": "webhook", "url": url_hook}],
    )
    rng = np.random.default_rng(5)
    frame = table.sample(400, replace=True, random_state=5).reset_index(drop=True)
    frame["n"] = rng.integers(7, 10, size=len(frame))  # n shifted to its top values
    frame["row"] = [f"r{i}" for i in range(len(frame))]
    with run_app(PmleApp(monitored, poll_s=0.1)) as url:
        endpoint = pmle.Endpoint("churn", url)
        for i in range(0, len(frame), 50):
            endpoint.predict(_rows(frame.iloc[i : i + 50]))
        # A client's own request id (X-Request-ID) is what the log records.
        one = {"instances": _rows(table.head(1))}
        answer = httpx.post(
            f"{url}/v1/projects/p/locations/l/endpoints/churn:predict",
            json=one,
            headers={"X-Request-ID": "order-42"},
        )
        assert answer.status_code == 200
        deadline = time.monotonic() + 30
        while True:
            n = monitored.warehouse.query_arrow("SELECT count(*) AS n FROM prediction_log")
            if n.column("n")[0].as_py() > len(frame) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    run = monitored.monitors.run("live", report=False)
    assert run.rows == len(frame) + 1
    assert {a["feature"] for a in run.alerts} == {"n"}
    assert len(received) == 1
    sent = received[0][1]["alerts"]
    assert [(a["monitor"], a["feature"], a["objective"]) for a in sent] == [("live", "n", "skew")]
    assert sent[0]["value"] >= sent[0]["threshold"] == 0.3
    # Labels refer to the instances' own ids (the `row` field the clients sent).
    truth = pd.DataFrame({"id": frame["row"], "label": ["yes"] * len(frame)})
    assert monitored.monitors.add_labels("live", truth) == len(frame)
    monitored.monitors.create("by-request", endpoint="churn", schedule=None)
    by_request = pd.DataFrame({"id": ["order-42"], "label": ["no"]})
    assert monitored.monitors.add_labels("by-request", by_request) == 1


def test_a_server_with_monitors_runs_them_when_due(
    monitored: Workspace, table: pd.DataFrame, run_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pmle.monitoring import run_monitor
    from pmle.server import state

    monkeypatch.setattr(state, "MONITOR_CHECK_S", 0.2)
    monkeypatch.setattr(run_monitor, "LOG_SETTLE_S", 1.0)  # the server flushes every 0.1 s
    monitored.monitors.create("scheduled", endpoint="churn", schedule="every 1s")
    with run_app(PmleApp(monitored, poll_s=0.1, run_monitors=True)) as url:
        pmle.Endpoint("churn", url).predict(_rows(table.head(20)))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            runs = monitored.monitors.runs("scheduled")
            if any(r.rows for r in runs):
                break
            time.sleep(0.2)
    assert any(r.state == "COMPLETE" and r.rows == 20 for r in runs)
