"""Monitor run reports: a self-contained HTML page and a summary PNG, drawn from histograms
fitted by the real distances module."""

from __future__ import annotations

import base64
import io
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pmle.errors import InvalidInput
from pmle.monitoring.distances import CategoricalHistogram, NumericHistogram
from pmle.monitoring.report import (
    MAX_PLOTTED_FEATURES,
    ReportFiles,
    buckets,
    render_html,
    write_report,
)
from pmle.monitoring.report_plots import render_summary_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATA_PNG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def numeric(name: str, shift: float, threshold: float = 0.1, objective: str = "skew") -> dict:
    rng = np.random.default_rng(len(name))
    base = NumericHistogram.fit(rng.normal(0, 1, 2000))
    current = base.count(np.append(rng.normal(shift, 1, 1900), [np.nan] * 100))
    value = base.distance_from_counts(current)
    return {
        "objective": objective,
        "feature": name,
        "metric": "jensen_shannon_divergence",
        "value": value,
        "threshold": threshold,
        "anomalous": value >= threshold,
        "rows": 2000,
        "baseline": base.to_dict(),
        "current": {"kind": "numeric", "edges": list(base.edges), "counts": current.tolist()},
    }


def categorical(name: str, values: list[str], current: list[str], threshold: float = 0.1) -> dict:
    base = CategoricalHistogram.fit(values)
    counts = base.count(current)
    value = base.distance_from_counts(counts)
    return {
        "objective": "drift",
        "feature": name,
        "metric": "l_infinity",
        "value": value,
        "threshold": threshold,
        "anomalous": value >= threshold,
        "rows": len(current),
        "baseline": base.to_dict(),
        "current": {
            "kind": "categorical",
            "categories": list(base.categories),
            "counts": counts.tolist(),
        },
    }


def make_run(features: list[dict], run_id: int = 3, **extra: Any) -> dict:
    alerts = [
        {
            "monitor": "churn",
            "objective": f["objective"],
            "feature": f["feature"],
            "metric": f["metric"],
            "value": f["value"],
            "threshold": f["threshold"],
            "at": "2026-11-27T14:00:00+00:00",
            "message": f"{f['feature']} crossed",
        }
        for f in features
        if f["anomalous"]
    ]
    return {
        "monitor": "churn",
        "run_id": run_id,
        "model": "churn@2",
        "endpoint": "churn",
        "source": "prediction_log window",
        "started_at": "2026-11-27T14:00:00+00:00",
        "window_start": "2026-11-27T13:00:00+00:00",
        "window_end": "2026-11-27T14:00:00+00:00",
        "rows": 2000,
        "features": features,
        "attributions": [],
        "performance": None,
        "alerts": alerts,
        **extra,
    }


def history_of(run: dict, earlier: int) -> list[dict]:
    runs = [
        {
            "run_id": i,
            "started_at": f"2026-11-2{i}T14:00:00+00:00",
            "features": [
                {
                    "objective": f["objective"],
                    "feature": f["feature"],
                    "value": f["value"] * i / (earlier + 1),
                    "threshold": f["threshold"],
                }
                for f in run["features"]
            ],
            "performance": {"metrics": {"accuracy": 0.8 - 0.01 * i}},
        }
        for i in range(1, earlier + 1)
    ]
    return [*runs, run]


@pytest.fixture
def features() -> list[dict]:
    cities = ["Paris"] * 50 + ["Lyon"] * 30 + ["Nice"] * 20
    return [
        numeric("tenure", 1.5),
        numeric("monthly <charges> & fees", 0.0, threshold=0.5, objective="drift"),
        numeric("price $US", 0.5),
        categorical("city", cities, ["Paris"] * 20 + ["Lyon"] * 70 + ["Brest"] * 10),
    ]


def parse(page: str) -> tuple[list[str], list[str]]:
    """The page's tags, and the values of its src and href attributes."""
    tags: list[str] = []
    urls: list[str] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.append(tag)
            urls.extend(v or "" for k, v in attrs if k in {"src", "href"})

    Parser().feed(page)
    return tags, urls


def images(page: str) -> list[bytes]:
    return [base64.b64decode(b) for b in DATA_PNG.findall(page)]


def test_write_report_html_and_png(tmp_path: Path, features: list[dict]) -> None:
    import matplotlib.image

    run = make_run(features)
    files = write_report(run, [run], tmp_path / "reports")
    assert files == ReportFiles(
        tmp_path / "reports" / "run-3.html", tmp_path / "reports" / "run-3.png"
    )
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["run-3.html", "run-3.png"]
    png = files.png.read_bytes()
    assert png.startswith(PNG_SIGNATURE) and len(png) > 20_000
    pixels = matplotlib.image.imread(files.png)
    assert pixels.shape[0] > 400 and pixels.shape[1] >= 1000
    assert pixels[..., :3].std() > 0.05  # bars and text, not a blank canvas
    page = files.html.read_text("utf-8")
    assert page.startswith("<!doctype html>") and "prefers-color-scheme:dark" in page
    for name in ("tenure", "monthly &lt;charges&gt; &amp; fees", "price $US", "city"):
        assert page.count(name) >= 3  # features table, alerts or caption, image alt
    assert 'id="alerts"' in page and f"Alerts ({len(run['alerts'])})" in page
    assert run["alerts"] and page.count("▲ ALERT") >= 2 * len(run["alerts"])
    # the summary first, then one distribution per feature; the summary is the PNG file's image
    shots = images(page)
    assert len(shots) == 1 + len(features) and shots[0] == png
    assert all(s.startswith(PNG_SIGNATURE) for s in shots)


def test_features_sorted_by_value_anomalous_marked(features: list[dict]) -> None:
    page = render_html(make_run(features))
    table = page[page.index('id="features"') : page.index('id="distributions"')]
    rows = re.findall(r"<tr(?: class=\"(\w*)\")?><td>(\w+)</td><td>([^<]*)</td>", table)
    values = [f["value"] for f in sorted(features, key=lambda f: -f["value"])]
    assert [r[2] for r in rows] == [
        next(f["feature"] for f in features if f["value"] == v)
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("& ", "&amp; ")
        for v in values
    ]
    anomalous = sum(f["anomalous"] for f in features)
    assert [r[0] for r in rows].count("anomalous") == anomalous == table.count("ALERT")


def test_names_are_escaped_and_nothing_is_fetched() -> None:
    hostile = numeric('<script>alert("x")</script>', 1.0)
    hostile["objective"] = "skew<&>"
    run = make_run([hostile], endpoint="<img src=http://evil.example/x.png>")
    run["monitor"] = "m&<b>"
    page = render_html(run)
    assert "<script>" not in page and "<b>" not in page and "evil.example/x.png>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "m&amp;&lt;b&gt;" in page and "skew&lt;&amp;&gt;" in page
    tags, urls = parse(page)
    assert "script" not in tags and "b" not in tags and tags.count("img") == 2
    assert urls and all(u.startswith("data:image/png;base64,") for u in urls)
    assert "@import" not in page and "url(" not in page


def test_history_plot_only_with_two_runs(features: list[dict]) -> None:
    run = make_run(features)
    assert 'id="history"' not in render_html(run, [])
    assert 'id="history"' not in render_html(run, [run])
    with_history = render_html(run, history_of(run, 3))
    assert 'id="history"' in with_history and "last 4 runs" in with_history
    # a history that ends before this run gets it appended
    assert "last 2 runs" in render_html(run, history_of(run, 1)[:-1])
    assert len(images(with_history)) == 1 + len(features) + 1


def test_attributions_and_performance_only_when_present(features: list[dict]) -> None:
    plain = render_html(make_run(features))
    assert 'id="attributions"' not in plain and 'id="performance"' not in plain
    attributions = [
        {
            "objective": "attribution_skew",
            "feature": f,
            "metric": "attribution_share_change",
            "baseline": b,
            "current": c,
            "value": abs(c - b),
            "threshold": 0.1,
            "anomalous": abs(c - b) >= 0.1,
        }
        for f, b, c in [("tenure", 0.22, 0.35), ("city", 0.5, 0.45), ("price $US", 0.28, 0.2)]
    ]
    performance = {
        "rows": 500,
        "metrics": {"accuracy": 0.71, "auc": 0.77, "log_loss": 0.55},
        "training": {"accuracy": 0.79, "auc": 0.82},
        "baseline_model": {"accuracy": 0.73, "auc": 0.5},
        "threshold": 0.05,
        "degraded": ["accuracy"],
    }
    page = render_html(make_run(features, attributions=attributions, performance=performance))
    attr = page[page.index('id="attributions"') : page.index('id="performance"')]
    assert "tenure" in attr and "0.35" in attr and attr.count("ALERT") == 1
    perf = page[page.index('id="performance"') :]
    assert "degraded" in perf and "0.79" in perf and "log_loss" in perf and "500" in perf
    assert len(images(page)) == 1 + len(features) + 2
    only_perf = render_html(make_run(features, performance=performance))
    assert 'id="performance"' in only_perf and 'id="attributions"' not in only_perf


def test_all_missing_and_empty_histograms_render(tmp_path: Path) -> None:
    nothing = NumericHistogram.fit([np.nan] * 10)
    blank = CategoricalHistogram.fit([None] * 10)
    assert nothing.edges == () and blank.categories == ()
    feats = [
        {
            "objective": "drift",
            "feature": "all_missing_num",
            "metric": "jensen_shannon_divergence",
            "value": 0.0,
            "threshold": 0.1,
            "anomalous": False,
            "rows": 10,
            "baseline": nothing.to_dict(),
            "current": nothing.to_dict(),
        },
        {
            "objective": "drift",
            "feature": "all_missing_cat",
            "metric": "l_infinity",
            "value": 1.0,
            "threshold": 0.1,
            "anomalous": True,
            "rows": 10,
            "baseline": blank.to_dict(),
            "current": {"kind": "categorical", "categories": [], "counts": [10, 0]},
        },
        {
            "objective": "skew",
            "feature": "empty_window",
            "metric": "jensen_shannon_divergence",
            "value": None,
            "threshold": 0.1,
            "anomalous": False,
            "rows": 0,
            "baseline": NumericHistogram.fit(range(100)).to_dict(),
            "current": {"kind": "numeric", "edges": [], "counts": []},
        },
    ]
    labels, p, q = buckets(feats[0]["baseline"], feats[0]["current"])
    assert labels == ["any value", "missing"] and p == q == [0.0, 1.0]
    labels, p, q = buckets(feats[1]["baseline"], feats[1]["current"])
    assert labels == ["other", "missing"] and p == [0.0, 1.0] and q == [1.0, 0.0]
    labels, p, q = buckets(feats[2]["baseline"], feats[2]["current"])
    assert len(labels) == 11 and sum(p) == pytest.approx(1.0) and q == [0.0] * 11
    files = write_report(make_run(feats), [], tmp_path)
    page = files.html.read_text("utf-8")
    assert all(f["feature"] in page for f in feats) and len(images(page)) == 4


def test_bucket_labels_from_edges_and_categories() -> None:
    hist = {"kind": "numeric", "edges": [1.0, 2.5, 10.0], "counts": [1, 1, 1, 1, 0]}
    labels, p, q = buckets(hist, {**hist, "counts": [0, 0, 0, 2, 2]})
    assert labels == ["≤ 1", "(1, 2.5]", "(2.5, 10]", "> 10", "missing"]
    assert p == [0.25, 0.25, 0.25, 0.25, 0.0] and q == [0, 0, 0, 0.5, 0.5]
    # close cut points keep enough digits to stay apart
    close = {"kind": "numeric", "edges": [1.0001, 1.0002], "counts": [1, 1, 1, 0]}
    assert buckets(close, close)[0][:2] == ["≤ 1.0001", "(1.0001, 1.0002]"]
    many = [f"c{i}" for i in range(40)]
    cat = {"kind": "categorical", "categories": many, "counts": [*range(40, 0, -1), 5, 3]}
    labels, p, q = buckets(cat, cat)
    assert len(labels) == 15 + 2 and labels[-2:] == ["other (+25)", "missing"]
    assert labels[:3] == ["c0", "c1", "c2"] and sum(p) == pytest.approx(1.0)


def test_distributions_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    from pmle.monitoring import report

    assert MAX_PLOTTED_FEATURES == 30
    monkeypatch.setattr(report, "MAX_PLOTTED_FEATURES", 3)
    many = [numeric(f"f{i:02d}", shift=i / 4) for i in range(8)]
    page = render_html(make_run(many))
    assert len(images(page)) == 1 + 3
    assert "5 more features not shown" in page
    assert all(f["feature"] in page for f in many)  # every one stays in the table
    shown = re.findall(r"<figcaption><strong>(f\d\d)</strong>", page)
    assert shown == ["f07", "f06", "f05"]  # the most alarming


def test_summary_png_without_pyplot(features: list[dict]) -> None:
    import matplotlib.image

    had_pyplot = "matplotlib.pyplot" in sys.modules
    png = render_summary_png(make_run(features))
    assert png.startswith(PNG_SIGNATURE)
    if not had_pyplot:
        assert "matplotlib.pyplot" not in sys.modules
    assert matplotlib.image.imread(io.BytesIO(png), format="png").ndim == 3
    # the anomalous features' distributions sit below the distances; a quiet run has none
    quiet = [{**f, "anomalous": False} for f in features]
    quiet_png = matplotlib.image.imread(io.BytesIO(render_summary_png(make_run(quiet))))
    assert quiet_png.shape[0] < matplotlib.image.imread(io.BytesIO(png)).shape[0] - 100
    empty = render_summary_png(make_run([]))
    assert empty.startswith(PNG_SIGNATURE)
    assert 'id="features"' in render_html(make_run([]))


def test_rejects_a_run_that_is_not_a_mapping() -> None:
    with pytest.raises(InvalidInput):
        render_html([])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        render_summary_png({"features": "tenure"})
