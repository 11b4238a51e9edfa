"""Rich renderings of a monitor run: its features against their thresholds, performance beside
training and a simple baseline model, its alerts and where its report was written."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pmle.cli._render import fmt_num, titled_table

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

_ALERT = "[bold red]ALERT[/]"
_OK = "[green]✓[/]"


def _esc(value: Any) -> str:
    from rich.markup import escape

    return escape(str(value))


def _value(entry: Mapping[str, Any]) -> float:
    v = entry.get("value")
    return float(v) if isinstance(v, int | float) else float("-inf")


def run_table(run: Mapping[str, Any], limit: int | None = None) -> Table:
    """Each monitored feature (and attribution) of a run: its distance against its threshold,
    anomalous ones first, then by distance (the first `limit` rows when given)."""
    rows = f"{run['rows']:,} rows" if isinstance(run.get("rows"), int) else "rows unknown"
    table = titled_table(
        f"monitor {_esc(run.get('monitor'))} · run {_esc(run.get('run_id'))} — {rows}",
        [
            ("objective", "left"),
            ("feature", "left"),
            ("metric", "left"),
            ("value", "right"),
            ("threshold", "right"),
            ("status", "left"),
        ],
    )
    entries = [*(run.get("features") or []), *(run.get("attributions") or [])]
    ordered = sorted(entries, key=lambda e: (not e.get("anomalous"), -_value(e)))
    shown = (
        ordered
        if limit is None
        else ordered[: max(limit, sum(bool(e.get("anomalous")) for e in ordered))]
    )
    if len(shown) < len(ordered):
        table.caption = f"{len(ordered) - len(shown)} more within their thresholds"
    for e in shown:
        table.add_row(
            _esc(e.get("objective")),
            f"[bold]{_esc(e.get('feature'))}[/]",
            _esc(e.get("metric")),
            f"[red]{fmt_num(e.get('value'))}[/]" if e.get("anomalous") else fmt_num(e.get("value")),
            fmt_num(e.get("threshold")),
            _ALERT if e.get("anomalous") else _OK,
        )
    return table


def performance_table(performance: Mapping[str, Any]) -> Table:
    """The window's metrics beside training and the simple baseline model; degraded in red."""
    training = performance.get("training") or {}
    simple = performance.get("baseline_model") or {}
    degraded = set(performance.get("degraded") or [])
    table = titled_table(
        f"performance — {fmt_num(performance.get('rows'))} labelled rows, "
        f"threshold {fmt_num(performance.get('threshold'))}",
        [
            ("metric", "left"),
            ("this window", "right"),
            ("training", "right"),
            ("baseline model", "right"),
            ("status", "left"),
        ],
    )
    for name, value in (performance.get("metrics") or {}).items():
        table.add_row(
            _esc(name),
            fmt_num(value),
            fmt_num(training.get(name)),
            fmt_num(simple.get(name)),
            "[bold red]degraded[/]" if name in degraded else _OK,
        )
    return table


def print_run(console: Console, run: Mapping[str, Any], limit: int | None = None) -> None:
    """A run for people: where it looked, the table (its first `limit` rows when given; the
    alerts always), performance, alerts, the report's files."""
    window = [w for w in (run.get("window_start"), run.get("window_end")) if w]
    facts = [
        ("model", run.get("model")),
        ("endpoint", run.get("endpoint")),
        ("source", run.get("source")),
        ("window", " → ".join(map(_when, window)) if window else None),
    ]
    console.print(" · ".join(f"[dim]{k}[/] {_esc(v)}" for k, v in facts if v))
    console.print(run_table(run, limit))
    if run.get("performance"):
        console.print(performance_table(run["performance"]))
    alerts = run.get("alerts") or []
    if alerts:
        console.print(f"[bold red]{len(alerts)} alert{'s' * (len(alerts) != 1)}[/]")
        for a in alerts:
            console.print(f"  [red]▲[/] {_esc(a.get('message') or _alert_line(a))}")
    else:
        console.print("[green]no alerts[/]: every value is within its threshold")
    report = run.get("report")
    if report:
        if isinstance(report, Mapping):
            paths = dict(report)
        elif hasattr(report, "html"):
            paths = {"html": report.html, "png": getattr(report, "png", None)}
        else:
            paths = {"": report}
        for kind, path in paths.items():
            if path is not None:
                label = f"report ({_esc(kind)})" if kind else "report"
                console.print(f"[dim]{label}[/] {_esc(path)}")


def _when(value: Any) -> str:
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(value)).isoformat(sep=" ", timespec="seconds")
    except ValueError:
        return str(value)


def _alert_line(alert: Mapping[str, Any]) -> str:
    return (
        f"{alert.get('objective')}: {alert.get('feature')} {alert.get('metric')} "
        f"{fmt_num(alert.get('value'))} ≥ threshold {fmt_num(alert.get('threshold'))}"
    )
