"""Every console page of a populated workspace, reached by following links from the overview
as a signed-in editor: each answers 200 with HTML, and no link points at a page that is not
there (the areas link to each other: models ↔ datasets ↔ runs ↔ pipelines ↔ monitors)."""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pandas as pd

from pmle.workspace import Workspace

PIPELINE = """
from kfp import dsl


@dsl.component(base_image="python:3.11")
def double(x: int) -> int:
    return x * 2


@dsl.component(base_image="python:3.11")
def show(y: int) -> str:
    return f"y={y}"


@dsl.pipeline(name="links")
def links(x: int = 2) -> str:
    return show(y=double(x=x).output).output
"""

HREF = re.compile(r'href="([^"]+)"')


def populate(ws: Workspace, fresh_rows: Any, tmp_path: Path) -> None:
    """Something in every area: a monitored model with drifted runs, a pipeline run, tracked
    runs, a tuning study, a feature view, an exam attempt."""
    ws.datasets.import_("scored", fresh_rows(300, 1))
    shifted = fresh_rows(300, 2)
    shifted["x"] = shifted["x"] + 3.0
    ws.datasets.import_("scored", shifted)
    ws.monitors.create("batch", model="churn@1", schedule=None)
    ws.monitors.run("batch", data="scored@1")
    ws.monitors.run("batch", data="scored@2")
    src = tmp_path / "links.py"
    src.write_text(PIPELINE)
    assert ws.pipelines.run(f"{src}:links", {"x": 3}).state == "SUCCEEDED"
    for i in range(3):
        with ws.tracking.start_run("exp", f"r{i}", params={"lr": i}) as run:
            run.log_metrics({"loss": 1.0 / (i + 1)}, step=0)
            run.log_metrics({"loss": 0.5 / (i + 1)}, step=1)
    study = ws.tuning.create_study(
        "bowl", {"x": {"type": "double", "min": -2, "max": 2}}, metric="loss", max_trials=3
    )
    study.optimize(lambda t: t.params["x"] ** 2)
    events = pd.DataFrame(
        {
            "customer": ["a", "b", "a"],
            "ts": pd.to_datetime([1_767_225_600, 1_767_225_660, 1_767_225_720], unit="s", utc=True),
            "spend": [1.0, 2.0, 3.0],
        }
    )
    ws.datasets.import_("events", events)
    ws.features.apply(
        {
            "entities": [{"name": "customer", "join_keys": ["customer"]}],
            "feature_views": [
                {
                    "name": "spend",
                    "entities": ["customer"],
                    "source": {"dataset": "events"},
                    "timestamp": "ts",
                    "ttl": "30d",
                    "features": [{"name": "spend", "dtype": "float64"}],
                }
            ],
        }
    )
    ws.features.materialize()
    ws.exam.start_practice(count=3)


def test_every_linked_page_is_there(
    monitored: Workspace, fresh_rows: Any, tmp_path: Path, run_app: Any, sign_in: Any
) -> None:
    from pmle.server.app import PmleApp

    populate(monitored, fresh_rows, tmp_path)
    with run_app(PmleApp(monitored, poll_s=0.1)) as url, httpx.Client() as client:
        sign_in(client, url, monitored)
        seen: dict[str, int] = {}
        broken: list[str] = []
        queue = deque([("/", "(start)")])
        while queue and len(seen) < 400:
            path, parent = queue.popleft()
            if path in seen:
                continue
            r = client.get(url + path)
            seen[path] = r.status_code
            if r.status_code != 200:
                broken.append(f"{path} ({r.status_code}) linked from {parent}")
                continue
            if not r.headers["content-type"].startswith("text/html"):
                continue
            for href in HREF.findall(r.text):
                target = urlsplit(urljoin(path, href.replace("&amp;", "&")))
                if target.netloc or target.scheme in {"mailto", "https", "http"}:
                    continue  # documentation links leave the console
                if target.path.startswith("/static/") or target.path == "/logout":
                    continue
                link = target.path + (f"?{target.query}" if target.query else "")
                if link not in seen:
                    queue.append((link, path))
    assert not broken, "\n".join(broken)
    areas = {p.split("/")[1].split("?")[0] for p in seen}
    assert {"datasets", "models", "endpoints", "pipelines", "experiments", "jobs"} <= areas
    assert {"monitors", "features", "exam"} <= areas
    assert len(seen) >= 40, sorted(seen)
