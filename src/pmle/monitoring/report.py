"""A monitor run as a report: one self-contained HTML page and one summary PNG.

The page holds the run's facts, its alerts, every feature's distance beside its threshold,
baseline-vs-current distributions (anomalous features first), the distances across earlier
runs, attributions and model performance when the run has them. Its plots are PNGs drawn by
`report_plots` and embedded as data URIs: the page opens offline, from a file or an e-mail.

This module shapes a run's data (shared with `report_plots`) and renders the HTML. It imports
`report_plots` inside the functions that draw, since `report_plots` imports this module.
"""

from __future__ import annotations

import base64
import html
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pmle._util import atomic_write
from pmle.errors import InvalidInput

#: Features whose distributions a report plots (anomalous first); the rest are counted.
MAX_PLOTTED_FEATURES = 30
#: Categories a distribution plot shows (the most frequent); the others join "other".
MAX_PLOTTED_CATEGORIES = 15

_BASELINE, _CURRENT = "#4c78a8", "#f58518"


@dataclass(frozen=True)
class ReportFiles:
    """Where a run's report was written."""

    html: Path
    png: Path


def write_report(
    run: Mapping[str, Any], history: Sequence[Mapping[str, Any]], directory: str | Path
) -> ReportFiles:
    """Write `run-{run_id}.html` and `run-{run_id}.png` into `directory` (each atomically).

    `history` lists earlier runs, oldest first, ending with this one (appended if missing)."""
    from pmle.monitoring.report_plots import render_summary_png

    summary = render_summary_png(run)
    page = render_html(run, history, summary_png=summary)
    stem = "run-" + re.sub(r"[^A-Za-z0-9_.-]", "_", str(run.get("run_id")))
    files = ReportFiles(Path(directory) / f"{stem}.html", Path(directory) / f"{stem}.png")
    with atomic_write(files.png) as f:
        f.write(summary)
    with atomic_write(files.html) as f:
        f.write(page.encode("utf-8"))
    return files


# --- data ---------------------------------------------------------------------------------------


def _check(run: Any) -> None:
    if not isinstance(run, Mapping) or not isinstance(run.get("features", []), list):
        raise InvalidInput("a monitor run must be a mapping with a 'features' list")


def _number(v: Any, otherwise: float = math.nan) -> float:
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else otherwise


def _value(entry: Mapping[str, Any]) -> float:
    return _number(entry.get("value"), -math.inf)


def _by_value(entries: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(entries, key=lambda e: -_value(e))


def _alarming_first(entries: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(entries, key=lambda e: (not e.get("anomalous"), -_value(e)))


def _label(entry: Mapping[str, Any], with_objective: bool) -> str:
    name = str(entry.get("feature"))
    return f"{name} ({entry.get('objective')})" if with_objective else name


def _objectives(entries: Sequence[Mapping[str, Any]]) -> int:
    return len({e.get("objective") for e in entries})


def _g(x: float) -> str:
    return f"{x:.4g}"


def buckets(
    baseline: Mapping[str, Any] | None, current: Mapping[str, Any] | None
) -> tuple[list[str], list[float], list[float]]:
    """Bucket labels and the baseline's and current window's frequencies (each sums to 1,
    or to 0 when a side holds no rows), in the baseline's buckets; a categorical histogram
    keeps its most frequent categories and folds the others into "other"."""
    hist = baseline or current or {}
    if hist.get("kind") == "categorical":
        labels = [*map(str, hist.get("categories", [])), "other", "missing"]
    else:
        edges = _edge_texts(hist.get("edges", []))
        inner = [f"({a}, {b}]" for a, b in itertools.pairwise(edges)]
        labels = [f"≤ {edges[0]}", *inner, f"> {edges[-1]}"] if edges else ["any value"]
        labels.append("missing")

    def freq(h: Mapping[str, Any] | None) -> list[float]:
        counts = [float(c) for c in (h or {}).get("counts", [])][: len(labels)]
        counts += [0.0] * (len(labels) - len(counts))
        total = sum(counts)
        return [c / total if total > 0 else 0.0 for c in counts]

    p, q = freq(baseline), freq(current)
    extra = len(labels) - 2 - MAX_PLOTTED_CATEGORIES
    if hist.get("kind") == "categorical" and extra > 0:
        ranked = sorted(range(len(labels) - 2), key=lambda i: -max(p[i], q[i]))
        keep = sorted(ranked[:MAX_PLOTTED_CATEGORIES])
        folded = set(ranked[MAX_PLOTTED_CATEGORIES:]) | {len(labels) - 2}
        labels = [*(labels[i] for i in keep), f"other (+{extra})", "missing"]
        p = [*(p[i] for i in keep), sum(p[i] for i in folded), p[-1]]
        q = [*(q[i] for i in keep), sum(q[i] for i in folded), q[-1]]
    return labels, p, q


def _edge_texts(edges: Sequence[Any]) -> list[str]:
    """Cut points in the fewest significant digits (3 or more) that keep them apart."""
    values = [float(e) for e in edges]
    for digits in range(3, 10):
        texts = [f"{v:.{digits}g}" for v in values]
        if len(set(texts)) == len(set(values)):
            break
    return texts if values else []


def _with_current(run: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> list[Any]:
    runs = list(history)
    if not runs or runs[-1].get("run_id") != run.get("run_id"):
        runs.append(run)
    return runs


# --- HTML ---------------------------------------------------------------------------------------

_CSS = """
:root{--bg:#fff;--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--card:#f6f8fa;--alert:#cf222e;
--ok:#1a7f37;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;
--line:#30363d;--card:#161b22;--alert:#ff7b72;--ok:#3fb950}}
body{margin:0;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 12px}h2{font-size:17px;margin:28px 0 10px;
border-bottom:1px solid var(--line);padding-bottom:4px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
dt{color:var(--muted)}dd{margin:0}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{color:var(--muted);font-weight:600}td.num,th.num{text-align:right}
tr.anomalous td{background:color-mix(in srgb,var(--alert) 10%,transparent)}
.alert{color:var(--alert);font-weight:700}.ok{color:var(--ok)}.muted{color:var(--muted)}
img{max-width:100%;height:auto;background:#fff;border-radius:6px;border:1px solid var(--line)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:14px}
figure{margin:0;padding:8px;background:var(--card);border:1px solid var(--line);border-radius:8px}
figcaption{margin-bottom:6px;overflow-wrap:anywhere}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 10px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _when(value: Any) -> str:
    """An ISO time to the second, as people read it."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(value)).isoformat(sep=" ", timespec="seconds")
    except ValueError:
        return _fmt(value)


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return _g(value) if math.isfinite(value) else str(value)
    return str(value)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _table(headers: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    """`rows` are (css class, already-escaped cells); headers starting with '#' are numbers."""
    head = "".join(
        f'<th class="num">{_e(h[1:])}</th>' if h.startswith("#") else f"<th>{_e(h)}</th>"
        for h in headers
    )
    body = "".join(
        (f'<tr class="{cls}">' if cls else "<tr>")
        + "".join(
            f'<td class="num">{c}</td>' if h.startswith("#") else f"<td>{c}</td>"
            for h, c in zip(headers, cells, strict=True)
        )
        + "</tr>"
        for cls, cells in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _status(anomalous: Any) -> str:
    return '<span class="alert">▲ ALERT</span>' if anomalous else '<span class="ok">✓</span>'


def render_html(
    run: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]] = (),
    summary_png: bytes | None = None,
) -> str:
    """The run's report as one HTML page with its plots embedded (no network needed)."""
    from pmle.monitoring.report_plots import history_png, render_summary_png

    _check(run)
    feats = list(run.get("features", []))
    alerts = list(run.get("alerts") or [])
    window = (run.get("window_start"), run.get("window_end"))
    title = f"Monitor {run.get('monitor')} · run {run.get('run_id')}"
    facts = [
        ("model", run.get("model")),
        ("endpoint", run.get("endpoint")),
        ("source", run.get("source")),
        ("started", _when(run.get("started_at"))),
        ("window", " → ".join(_when(w) for w in window) if any(window) else None),
        ("rows", run.get("rows")),
        ("features", len(feats)),
        ("alerts", len(alerts)),
    ]
    out = [
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="color-scheme" content="light dark"><title>{_e(title)}</title>'
        f"<style>{_CSS}</style></head><body><main>",
        f'<header><h1>{_e(title)}</h1><dl class="facts">',
        *(f"<dt>{_e(k)}</dt><dd>{_e(_fmt(v))}</dd>" for k, v in facts),
        "</dl></header>",
        f'<section id="overview">{_img(summary_png or render_summary_png(run), "summary")}'
        "</section>",
        f'<section id="alerts"><h2>Alerts ({len(alerts)})</h2>',
    ]
    if alerts:
        rows = [
            (
                "anomalous",
                [
                    _e(_when(a.get("at"))),
                    *(_e(_fmt(a.get(k))) for k in ("objective", "feature", "metric", "value")),
                    _e(_fmt(a.get("threshold"))),
                ],
            )
            for a in alerts
        ]
        out.append(_table(["at", "objective", "feature", "metric", "#value", "#threshold"], rows))
    else:
        out.append('<p class="ok">No alerts: every distance is within its threshold.</p>')
    out.append('</section><section id="features"><h2>Features</h2>')
    rows = [
        (
            "anomalous" if e.get("anomalous") else "",
            [
                _e(e.get("objective")),
                _e(e.get("feature")),
                _e(e.get("metric")),
                _e(_fmt(e.get("value"))),
                _e(_fmt(e.get("threshold"))),
                _e(_fmt(e.get("rows"))),
                _status(e.get("anomalous")),
            ],
        )
        for e in _by_value(feats)
    ]
    headers = ["objective", "feature", "metric", "#value", "#threshold", "#rows", "status"]
    out.append(_table(headers, rows) if rows else '<p class="muted">No features monitored.</p>')
    out.append("</section>")
    out.append(_distributions_section(feats))
    runs = _with_current(run, history)
    if len(runs) >= 2:
        out.append(
            '<section id="history"><h2>Metric over time</h2><p class="muted">'
            f"Distance per feature across the last {len(runs)} runs; dashed lines are "
            "thresholds.</p>" + _img(history_png(run, history), "metric over time") + "</section>"
        )
    if run.get("attributions"):
        out.append(_attributions_section(run["attributions"]))
    if run.get("performance"):
        out.append(_performance_section(run["performance"]))
    out.append("</main></body></html>\n")
    return "".join(out)


def _distributions_section(feats: Sequence[Mapping[str, Any]]) -> str:
    from pmle.monitoring.report_plots import distribution_png

    plotted = [e for e in _alarming_first(feats) if e.get("baseline") or e.get("current")]
    shown = plotted[:MAX_PLOTTED_FEATURES]
    both = _objectives(shown) > 1
    legend = (
        f'<span class="swatch" style="background:{_BASELINE}"></span>baseline'
        f'<span class="swatch" style="background:{_CURRENT}"></span>current'
    )
    out = [
        f'<section id="distributions"><h2>Distributions</h2><p class="muted">Share of rows '
        f'per bucket, anomalous features first. {legend}</p><div class="grid">'
    ]
    for e in shown:
        cap = (
            f"<strong>{_e(_label(e, both))}</strong> {_e(e.get('metric'))} "
            f"{_e(_fmt(e.get('value')))} (threshold {_e(_fmt(e.get('threshold')))}) "
            f"{_status(e.get('anomalous'))}"
        )
        alt = f"{_label(e, both)}: baseline and current distributions"
        out.append(
            f"<figure><figcaption>{cap}</figcaption>{_img(distribution_png(e), alt)}</figure>"
        )
    out.append("</div>")
    if len(plotted) > len(shown):
        out.append(
            f'<p class="muted">{len(plotted) - len(shown)} more features not shown '
            f"(the {MAX_PLOTTED_FEATURES} most alarming are).</p>"
        )
    return "".join(out) + "</section>"


def _attributions_section(attributions: Sequence[Mapping[str, Any]]) -> str:
    from pmle.monitoring.report_plots import attributions_png

    rows = [
        (
            "anomalous" if a.get("anomalous") else "",
            [
                _e(a.get("objective")),
                _e(a.get("feature")),
                _e(_fmt(a.get("baseline"))),
                _e(_fmt(a.get("current"))),
                _e(_fmt(a.get("value"))),
                _e(_fmt(a.get("threshold"))),
                _status(a.get("anomalous")),
            ],
        )
        for a in _by_value(attributions)
    ]
    headers = ["objective", "feature", "#baseline", "#current", "#change", "#threshold", "status"]
    return (
        '<section id="attributions"><h2>Feature attributions</h2><p class="muted">Each '
        "feature's share of the model's attributions, baseline beside current.</p>"
        + _img(attributions_png(attributions), "attributions")
        + _table(headers, rows)
        + "</section>"
    )


def _performance_section(performance: Mapping[str, Any]) -> str:
    from pmle.monitoring.report_plots import performance_png

    metrics = performance.get("metrics") or {}
    training = performance.get("training") or {}
    simple = performance.get("baseline_model") or {}
    degraded = set(performance.get("degraded") or [])
    rows = [
        (
            "anomalous" if m in degraded else "",
            [
                _e(m),
                _e(_fmt(v)),
                _e(_fmt(training.get(m))),
                _e(_fmt(simple.get(m))),
                '<span class="alert">▲ degraded</span>' if m in degraded else _status(False),
            ],
        )
        for m, v in metrics.items()
    ]
    return (
        '<section id="performance"><h2>Performance</h2><p class="muted">'
        f"{_e(_fmt(performance.get('rows')))} labelled rows; degradation threshold "
        f"{_e(_fmt(performance.get('threshold')))}.</p>"
        + _img(performance_png(performance), "performance")
        + _table(["metric", "#this window", "#training", "#baseline model", "status"], rows)
        + "</section>"
    )
