"""A monitor whose run drifted, in a real browser: the drift alert rows, the distance chart
and the distributions drawn by the shipped Vega bundles, choosing a feature, running the
monitor from the page."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pmle.workspace import Workspace


def drifted(ws: Workspace, fresh_rows: Any) -> None:
    """Monitor `batch` on churn@1: run 1 over like-training rows, run 2 over rows with `x`
    moved by 3 standard deviations and `c` mostly "blue" (as test_monitors_pages)."""
    shifted = fresh_rows(600, 2)
    shifted["x"] = shifted["x"] + 3.0
    shifted["c"] = np.where(np.arange(len(shifted)) % 10 < 8, "blue", shifted["c"])
    ws.datasets.import_("scored", fresh_rows(600, 1))
    ws.datasets.import_("scored", pd.DataFrame(shifted))
    ws.monitors.create("batch", model="churn@1", schedule=None)
    ws.monitors.run("batch", data="scored@1")
    assert len(ws.monitors.run("batch", data="scored@2").alerts) == 4  # skew and drift


def test_a_drifted_monitor_in_the_browser(
    monitored: Workspace, fresh_rows: Any, console: str, page: Any, browser_sign_in: Any
) -> None:
    drifted(monitored, fresh_rows)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{console}/monitors")
    page.click("text=batch")
    assert page.url == f"{console}/monitors/batch"
    rows = page.locator("tr.alert-row")
    assert rows.count() == 4
    drift_x = rows.filter(has_text="drift").filter(has_text="jensen_shannon_divergence")
    assert drift_x.count() == 1 and "x" in drift_x.inner_text()
    page.wait_for_selector("figure.chart[data-rendered] svg")
    page.wait_for_function(
        "document.querySelectorAll('figure.chart[data-rendered]').length === 3"
    )  # skew and drift distances, one distribution
    assert page.locator("figure.chart").first.locator("svg path").count() >= 1
    # the alert's feature link shows that feature's distributions for that run
    drift_x.locator("a", has_text="x").click()
    page.wait_for_selector("figure.chart[data-rendered]")
    assert page.locator('.tabs a[aria-current="page"]').inner_text().startswith("x")
    assert "previous window vs current" in page.locator("figure.chart").last.inner_html()
    # an editor runs it again over the drifted dataset from the page
    browser_sign_in(page, console, monitored)
    page.goto(f"{console}/monitors/batch")
    page.fill("#dataset", "scored@2")
    page.click("button:has-text('Run now')")
    page.wait_for_selector("text=Run 3: 600 rows, 2 alerts.")
    assert page.locator("tr.alert-row").count() == 6
    assert all(u.startswith(console) for u in requests), "the console fetched from elsewhere"
