"""The console's experiments pages over real tracked runs: experiments; an experiment's runs
table (params and latest metrics as columns, sorted, filtered, a page at a time, in a bounded
number of queries); runs side by side with their curves; one run's params,
curves, tags, notes, artifacts, nested runs and lineage. Also `Tracking.runs_page`."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pmle.errors import InvalidInput, NotFound
from pmle.workspace import Workspace


def _main(html: str) -> str:
    return html.split('<main id="main"', 1)[1]


def _specs(html: str) -> list[dict[str, Any]]:
    """The Vega-Lite specs the page embeds."""
    found = re.findall(r'<script type="application/json" id="spec-\d+">(.*?)</script>', html)
    return [json.loads(s.replace("<\\/", "</")) for s in found]


#: runs of the big experiment (the page's queries do not grow with it: a page is loaded in
#: one batch, whatever the total)
N_BIG = 240


def _three(ws: Workspace) -> list[int]:
    ids = []
    for i, (lr, model) in enumerate(((0.1, "lgbm"), (0.3, "lgbm"), (0.2, "xgb"))):
        with ws.tracking.start_run("churn", f"r{i}", params={"lr": lr, "model": model}) as run:
            for step in range(3):
                run.log_metrics({"loss": 1.0 / (step + 1 + i)}, step=step)
            run.log_metric("auc", 0.7 + i / 10)
            ids.append(run.id)
    return ids


def test_runs_page_finds_all_and_loads_one_page(ws: Workspace) -> None:
    ids = _three(ws)
    total, page = ws.tracking.runs_page("churn", order_by="metrics.auc DESC", limit=2)
    assert total == 3 and [r.id for r in page] == [ids[2], ids[1]]
    assert page[0].params == {"lr": "0.2", "model": "xgb"} and page[0].metrics[
        "auc"
    ] == pytest.approx(0.9)
    total, page = ws.tracking.runs_page("churn", order_by="metrics.auc DESC", offset=2, limit=2)
    assert total == 3 and [r.id for r in page] == [ids[0]]
    total, page = ws.tracking.runs_page("churn", filter="params.model = 'lgbm'")
    assert total == 2 and {r.id for r in page} == set(ids[:2])
    with pytest.raises(InvalidInput):
        ws.tracking.runs_page("churn", limit=0)
    with pytest.raises(NotFound):
        ws.tracking.runs_page("nope")


def test_experiments_and_the_runs_table(ws: Workspace, console: str) -> None:
    ids = _three(ws)
    html = httpx.get(f"{console}/experiments").text
    assert 'href="/experiments/churn"' in html and '<td class="num">3</td>' in html
    html = _main(httpx.get(f"{console}/experiments/churn").text)
    for column in ("lr", "model", "auc", "loss"):
        assert f">{column}</a></th>" in html
    assert html.count('type="checkbox" name="runs"') == 3
    assert f'href="/experiments/runs/{ids[0]}"' in html and "<td>xgb</td>" in html
    # sorted by a metric, both ways: the header links say how
    best = _main(httpx.get(f"{console}/experiments/churn?sort=metrics.auc&order=desc").text)
    assert re.findall(r'href="/experiments/runs/(\d+)">r', best) == [str(i) for i in ids[::-1]]
    assert 'aria-sort="descending"' in best and "sort=metrics.auc&amp;order=asc" in best
    worst = _main(httpx.get(f"{console}/experiments/churn?sort=metrics.auc&order=asc").text)
    assert re.findall(r'href="/experiments/runs/(\d+)">r', worst) == [str(i) for i in ids]
    by_param = _main(httpx.get(f"{console}/experiments/churn?sort=params.lr&order=asc").text)
    assert re.findall(r'href="/experiments/runs/(\d+)">r', by_param) == [
        str(ids[0]),
        str(ids[2]),
        str(ids[1]),
    ]
    # filtered with the search syntax; a bad filter is said on the page
    some = _main(
        httpx.get(f"{console}/experiments/churn", params={"filter": "metrics.auc > 0.75"}).text
    )
    assert re.findall(r'href="/experiments/runs/(\d+)">r', some) == [str(ids[2]), str(ids[1])]
    bad = httpx.get(f"{console}/experiments/churn", params={"filter": "nonsense = 1"})
    assert bad.status_code == 200 and "Error: unknown run attribute" in bad.text
    assert httpx.get(f"{console}/experiments/churn?sort=bogus").status_code == 200
    assert httpx.get(f"{console}/experiments/nope").status_code == 404


def test_a_big_experiment_pages_in_a_bounded_number_of_queries(ws: Workspace, console: str) -> None:
    from sqlalchemy import event

    tracking = ws.tracking
    for i in range(N_BIG):
        run = tracking.start_run("big", f"r{i:04d}", params={"i": i, "even": i % 2 == 0})
        run.log_metrics({"score": i / N_BIG, "loss": 1 - i / N_BIG})
        run.end()
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "api_tokens" not in statement and not statement.startswith(("BEGIN", "COMMIT")):
            statements.append(statement)  # the server's token polls aside

    event.listen(ws.engine, "before_cursor_execute", count)
    try:
        began = time.monotonic()
        r = httpx.get(f"{console}/experiments/big?sort=metrics.score&order=desc&page=2")
        took = time.monotonic() - began
    finally:
        event.remove(ws.engine, "before_cursor_execute", count)
    assert r.status_code == 200
    html = _main(r.text)
    names = re.findall(r'href="/experiments/runs/\d+">(r\d+)</a>', html)
    top = N_BIG - 1 - 50
    assert names == [f"r{i:04d}" for i in range(top, top - 50, -1)]  # the second 50 by score
    assert f"{N_BIG} runs" in html and "page 2" in html
    assert len(statements) < 15, statements  # not one query per run
    assert took < 5.0


def test_compare_runs_side_by_side(ws: Workspace, console: str) -> None:
    ids = _three(ws)
    r = httpx.get(f"{console}/experiments/churn/compare?runs={ids[0]},{ids[2]}")
    assert r.status_code == 200
    html = _main(r.text)
    assert "2 runs side by side" in html
    assert "params.model" in html and "differs" in html and "<td>xgb</td>" in html
    specs = _specs(html)
    loss = next(s for s in specs if s["title"] == "loss")
    assert {row["run"] for row in loss["data"]["values"]} == {"r0", "r2"}
    assert len(loss["data"]["values"]) == 6  # two curves of three steps
    latest = next(s for s in specs if s["title"] == "latest values")
    assert {(v["metric"], v["run"]) for v in latest["data"]["values"]} == {
        ("auc", "r0"),
        ("auc", "r2"),
    }
    # the runs table's check boxes send the ids one by one
    again = httpx.get(f"{console}/experiments/churn/compare?runs={ids[0]}&runs={ids[1]}")
    assert again.status_code == 200 and ">r1</a></th>" in again.text
    assert httpx.get(f"{console}/experiments/churn/compare").status_code == 400
    assert httpx.get(f"{console}/experiments/churn/compare?runs=x").status_code == 400
    many = ",".join(str(i) for i in range(1, 13))
    assert httpx.get(f"{console}/experiments/churn/compare?runs={many}").status_code == 400


def test_a_run_page(ws: Workspace, console: str, tmp_path: Path) -> None:
    csv = tmp_path / "tiny.csv"
    csv.write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    ws.datasets.import_("tiny", csv)
    with ws.tracking.start_run("churn", "parent", params={"lr": 0.1}, tags={"team": "<b>"}) as run:
        run.note("tried <em>smaller</em> leaves")
        for step in range(4):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metric("auc", 0.9)
        run.log_text("hello", "report.txt")
        run.log_dataset("tiny")
        with run.child("fold-1") as child:
            child.log_metric("auc", 0.8)
    r = httpx.get(f"{console}/experiments/runs/{run.id}")
    assert r.status_code == 200
    html = _main(r.text)
    assert "<td>lr</td><td>0.1</td>" in html and "<td>team</td><td>&lt;b&gt;</td>" in html
    assert "tried &lt;em&gt;smaller&lt;/em&gt; leaves" in html
    assert "report.txt" in html and '<td class="num">5 B</td>' in html
    assert [s["title"] for s in _specs(html)] == ["loss"]  # auc has one point: no curve
    assert f'href="/experiments/runs/{child.id}">fold-1</a>' in html
    assert '<svg class="dag"' in html and "tiny" in html  # what it read
    child_page = httpx.get(f"{console}/experiments/runs/{child.id}").text
    assert f'href="/experiments/runs/{run.id}"' in child_page
    assert httpx.get(f"{console}/experiments/runs/99999").status_code == 404
