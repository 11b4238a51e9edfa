"""The datasets pages over a real workspace and server: the paginated list, a version's
schema, stored statistics drawn as charts, its versions and its lineage graph."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pandas as pd

from pmle.workspace import Workspace


def test_the_list_shows_each_dataset_and_pages_by_fifty(ws: Workspace, console: str) -> None:
    for i in range(52):
        ws.datasets.import_(f"d{i:02d}", pd.DataFrame({"a": [i, i + 1, i + 2]}))
    ws.datasets.import_("d00", pd.DataFrame({"a": [1, 2, 3, 4]}), description="second")
    r = httpx.get(f"{console}/datasets")
    assert r.status_code == 200
    assert r.text.count('href="/datasets/d') == 50
    row = re.search(r'<tr><td><a href="/datasets/d00">d00</a></td>(.*?)</tr>', r.text, re.S)
    assert row and [m for m in re.findall(r'class="num">([^<]*)<', row.group(1))] == [
        "2",
        "2",
        "4",
        "1",
    ]  # latest version, versions, rows, columns
    assert "page 1 of 2" in r.text and 'href="/datasets?page=2"' in r.text
    second = httpx.get(f"{console}/datasets?page=2").text
    assert 'href="/datasets/d50"' in second and 'href="/datasets/d51"' in second
    assert 'href="/datasets/d00"' not in second
    assert httpx.get(f"{console}/datasets?page=99").status_code == 200  # clamped


def test_empty_workspace(console: str) -> None:
    r = httpx.get(f"{console}/datasets")
    assert r.status_code == 200 and "No datasets yet" in r.text


def test_a_version_shows_schema_statistics_versions_and_lineage(
    ws: Workspace, console: str, table: pd.DataFrame, labels: pd.Series, make_classifier: Any
) -> None:
    first = ws.datasets.import_("train", table.assign(churn=labels))
    second = ws.datasets.import_("train", table.head(300).assign(churn=labels.head(300)))
    ws.models.register(
        "churn",
        make_classifier(table, labels),
        input_example=table.head(),
        inputs=[first.lineage_artifact_id],
    )
    ws.datasets.split("train@1", prefix="tr")
    r = httpx.get(f"{console}/datasets/train")
    assert r.status_code == 200
    html = r.text
    assert "version 2" in html and "latest" in html and f"{second.num_rows}" in html
    # schema: one row per column with its type, kind and null counts from the stored stats
    for col in ("x", "n", "c", "b", "churn"):
        assert '<a href="#col-' in html and f">{col}</a></td>" in html
    x_nulls = second.stats["columns"]["x"]["nulls"]
    assert re.search(
        rf">x</a></td><td><code>double</code></td><td>numeric</td>\s*"
        rf'<td class="num">{x_nulls}</td>',
        html,
    )
    # statistics: a histogram for numbers, most frequent values for the others
    specs = re.findall(r'<script type="application/json" id="spec-\d+">(.*?)</script>', html)
    assert len(specs) == 5
    assert any('"bin":{"binned":true}' in s and '"title":"x"' in s for s in specs)
    assert any('"title":"c: most frequent values"' in s and '"red"' in s for s in specs)
    # versions table links to the older version; lineage is for the version shown
    assert 'href="/datasets/train?version=1"' in html
    assert '<svg class="dag"' in html and "Import" in html
    old = httpx.get(f"{console}/datasets/train?version=1").text
    assert "version 1" in old and 'aria-label="Lineage of train@1"' in old
    # what used version 1: the model and the split's datasets, linked to their pages
    assert 'href="/models/churn?version=1"' in old
    assert 'href="/datasets/tr_train?version=1"' in old and ">Split<" in old


def test_missing_datasets_and_versions_are_404(ws: Workspace, console: str) -> None:
    ws.datasets.import_("one", pd.DataFrame({"a": [1.0, 2.0]}))
    r = httpx.get(f"{console}/datasets/nope")
    assert r.status_code == 404 and "no dataset named" in r.text
    assert httpx.get(f"{console}/datasets/one?version=7").status_code == 404
    assert httpx.get(f"{console}/datasets/one?version=x").status_code == 400


def test_many_columns_page_the_schema_and_charts(ws: Workspace, console: str) -> None:
    wide = pd.DataFrame({f"c{i:03d}": [float(i), float(i + 1), None] for i in range(60)})
    ws.datasets.import_("wide", wide)
    html = httpx.get(f"{console}/datasets/wide").text
    assert ">c049</a>" in html and ">c050</a>" not in html
    assert 'href="/datasets/wide?version=1&amp;page=2"' in html
    page2 = httpx.get(f"{console}/datasets/wide?version=1&page=2").text
    assert ">c050</a>" in page2 and ">c059</a>" in page2 and ">c000</a>" not in page2
    assert page2.count('<figure class="chart"') == 10
