"""Terminal rendering of a monitor run: the features table, performance, alerts, report paths."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from pmle.cli._monitor_render import performance_table, print_run, run_table


def make_run(**extra: Any) -> dict[str, Any]:
    features = [
        {
            "objective": "skew",
            "feature": "tenure",
            "metric": "jensen_shannon_divergence",
            "value": 0.41,
            "threshold": 0.3,
            "anomalous": True,
            "rows": 1234,
        },
        {
            "objective": "skew",
            "feature": "contract",
            "metric": "l_infinity",
            "value": 0.05,
            "threshold": 0.3,
            "anomalous": False,
            "rows": 1234,
        },
        {
            "objective": "drift",
            "feature": "odd[bold]name",
            "metric": "l_infinity",
            "value": 0.2,
            "threshold": 0.3,
            "anomalous": False,
            "rows": 1234,
        },
    ]
    return {
        "monitor": "churn",
        "run_id": 3,
        "model": "churn@2",
        "endpoint": None,
        "source": "table churn_live",
        "started_at": "2026-11-27T14:00:00+00:00",
        "window_start": None,
        "window_end": None,
        "rows": 1234,
        "features": features,
        "attributions": [
            {
                "objective": "attribution_skew",
                "feature": "tenure",
                "metric": "attribution_share_change",
                "baseline": 0.22,
                "current": 0.65,
                "value": 0.43,
                "threshold": 0.3,
                "anomalous": True,
            },
        ],
        "performance": None,
        "alerts": [
            {
                "monitor": "churn",
                "objective": "skew",
                "feature": "tenure",
                "metric": "jensen_shannon_divergence",
                "value": 0.41,
                "threshold": 0.3,
                "at": "2026-11-27T14:00:00+00:00",
                "message": "[churn] skew: tenure jensen_shannon_divergence 0.4100 ≥ threshold 0.3",
            },
        ],
        **extra,
    }


def recorded(width: int = 140) -> Console:
    return Console(
        file=io.StringIO(), record=True, width=width, force_terminal=True, color_system="standard"
    )


def test_run_table_rows_and_alert_markers() -> None:
    console = recorded()
    console.print(run_table(make_run()))
    text = console.export_text()
    assert "monitor churn · run 3 — 1,234 rows" in text
    lines = [line for line in text.splitlines() if "│" in line and "objective" not in line]
    assert len(lines) == 4
    # anomalous first (by value), then the rest by value
    order = [
        next(n for n in ("tenure", "contract", "odd[bold]name") if n in line) for line in lines
    ]
    assert order == ["tenure", "tenure", "odd[bold]name", "contract"]
    assert "attribution_skew" in lines[0] and "skew " in lines[1]
    assert [("ALERT" in line, "✓" in line) for line in lines] == [
        (True, False),
        (True, False),
        (False, True),
        (False, True),
    ]
    assert "0.41" in lines[1] and "0.3" in lines[1]


def test_limit_keeps_every_alert_and_counts_the_rest() -> None:
    console = recorded()
    console.print(run_table(make_run(), limit=1))  # two alerts: both stay
    text = console.export_text()
    lines = [line for line in text.splitlines() if "│" in line and "objective" not in line]
    assert len(lines) == 2 and all("ALERT" in line for line in lines)
    assert "2 more within their thresholds" in text
    console = recorded()
    console.print(run_table(make_run(), limit=3))
    assert "1 more within their thresholds" in console.export_text()


def test_alert_is_coloured_and_markup_in_names_is_literal() -> None:
    console = recorded()
    console.print(run_table(make_run()))
    styled = console.export_text(styles=True, clear=False)
    assert "\x1b[1;31mALERT" in styled  # bold red
    assert "\x1b[32m✓" in styled  # green
    assert "odd[bold]name" in console.export_text()


def test_print_run_with_performance_alerts_and_report() -> None:
    performance = {
        "rows": 500,
        "metrics": {"accuracy": 0.71, "auc": 0.77, "log_loss": 0.55},
        "training": {"accuracy": 0.79, "auc": 0.82},
        "baseline_model": {"accuracy": 0.73, "auc": 0.5},
        "threshold": 0.05,
        "degraded": ["accuracy"],
    }
    report = {"html": "/ws/monitors/reports/churn/run-3.html", "png": "/ws/x/run-3.png"}
    console = recorded(width=160)
    window = {"window_start": "2026-11-27T13:00:00.25+00:00", "window_end": "2026-11-27T14:00:00"}
    print_run(console, make_run(performance=performance, report=report, **window))
    text = console.export_text()
    assert "model churn@2" in text and "source table churn_live" in text
    assert "window 2026-11-27 13:00:00+00:00 → 2026-11-27 14:00:00" in text
    assert "endpoint" not in text  # None is left out
    perf = next(line for line in text.splitlines() if "accuracy" in line)
    assert "0.71" in perf and "0.79" in perf and "0.73" in perf and "degraded" in perf
    auc = next(line for line in text.splitlines() if "│ auc" in line)
    assert "✓" in auc
    assert "1 alert" in text and "tenure jensen_shannon_divergence 0.4100" in text
    assert "report (html) /ws/monitors/reports/churn/run-3.html" in text
    assert "report (png) /ws/x/run-3.png" in text


def test_print_run_without_alerts_or_report() -> None:
    run = make_run(report="/ws/r/run-3.html")
    run["alerts"] = []
    for entry in [*run["features"], *run["attributions"]]:
        entry["anomalous"] = False
    console = recorded()
    print_run(console, run)
    text = console.export_text()
    assert "no alerts" in text and "ALERT" not in text
    assert "report /ws/r/run-3.html" in text
    assert "performance" not in text


def test_performance_table_without_baseline_model() -> None:
    console = recorded()
    console.print(performance_table({"rows": 10, "metrics": {"rmse": 3.5}, "training": {}}))
    text = console.export_text()
    assert "rmse" in text and "3.5" in text and "—" in text
