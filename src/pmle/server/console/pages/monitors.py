"""The console's monitors pages: every monitor with its newest run and alerts; one monitor's
distances over time, a run's baseline and current distributions, its runs, alerts and
reports (served from the monitor's report folder only), and running it now."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput, NotFound
from pmle.server.console.paging import PER_PAGE, bounds
from pmle.server.console.router import Ctx, Reply, action, is_id, page, redirect

if TYPE_CHECKING:
    from pmle.monitoring.records import MonitorInfo, MonitorRun

#: Runs the distance chart spans (the newest).
CHART_RUNS = 100
NAME = r"(?P<name>[^/]+)"
RUN = r"(?P<run_id>\d{1,18})"


@page("/monitors")
def monitors(c: Ctx) -> Reply:
    items = c.ws.monitors.summaries()
    pager = bounds(len(items), c.int_arg("page", 1, lo=1))
    return c.render("monitors.html", items=items[pager["start"] : pager["stop"]], pager=pager)


@page(f"/monitors/{NAME}")
def monitor(c: Ctx, name: str) -> Reply:
    ws = c.ws
    info = ws.monitors.get(name)
    history = ws.monitors.runs(name, limit=CHART_RUNS)
    page_no = c.int_arg("page", 1, lo=1)
    if page_no == 1:
        runs = history[:PER_PAGE]
        more_runs = len(history) > PER_PAGE
    else:
        found = ws.monitors.runs(name, limit=PER_PAGE + 1, offset=(page_no - 1) * PER_PAGE)
        runs, more_runs = found[:PER_PAGE], len(found) > PER_PAGE
    alerts_page = c.int_arg("alerts_page", 1, lo=1)
    found_alerts = ws.monitors.alerts(name, limit=PER_PAGE + 1, offset=(alerts_page - 1) * PER_PAGE)
    selected = _selected_run(c, name, history)
    entries = [e for e in (selected.result.get("features", []) if selected else [])]
    entry = _selected_entry(c, entries)
    return c.render(
        "monitors_detail.html",
        info=info,
        thresholds=_thresholds(info),
        distance_charts=_distance_charts(info, history),
        runs=runs,
        runs_page=page_no,
        more_runs=more_runs,
        alerts=found_alerts[:PER_PAGE],
        alerts_page=alerts_page,
        more_alerts=len(found_alerts) > PER_PAGE,
        selected=selected,
        entries=entries,
        entry=entry,
        distribution_chart=_distribution_chart(entry) if entry else None,
        attributions=selected.result.get("attributions", []) if selected else [],
        performance=selected.result.get("performance") if selected else None,
        sinks=_sinks(info),
    )


def _thresholds(info: MonitorInfo) -> dict[str, float]:
    from pmle.monitoring.drift import thresholds_for

    return thresholds_for(
        list(info.features), info.config["thresholds"], info.config["default_threshold"]
    )


def _sinks(info: MonitorInfo) -> list[str]:
    from pmle.monitoring.sinks import sink_summary
    from pmle.server.console.render import redact_urls

    return [redact_urls(sink_summary(s)) for s in info.config.get("sinks", [])]


def _selected_run(c: Ctx, name: str, history: list[MonitorRun]) -> MonitorRun | None:
    """The run asked for (`?run=ID`), else the newest that measured something."""
    wanted = c.arg("run")
    if wanted:
        if not is_id(wanted):
            raise InvalidInput(f"bad run id {wanted!r}")
        return c.ws.monitors.get_run(name, int(wanted))
    for run in history:
        if run.state == "COMPLETE" and run.result.get("features"):
            return run
    return history[0] if history else None


def _selected_entry(c: Ctx, entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The (objective, feature) asked for, else the run's largest distance."""
    feature, objective = c.arg("feature"), c.arg("objective")
    for e in entries:
        if e["feature"] == feature and (not objective or e["objective"] == objective):
            return e
    if feature:
        raise NotFound(f"the run measured no feature {feature!r}")
    return max(entries, key=lambda e: float(e.get("value") or 0.0), default=None)


def _distance_charts(info: MonitorInfo, history: list[MonitorRun]) -> list[dict[str, Any]]:
    """Per objective, each feature's distance per run (oldest first): one line per feature,
    the threshold as a dashed rule (the default one when features have their own)."""
    from pmle.server.console import charts

    by_objective: dict[str, list[dict[str, Any]]] = {}
    for run in reversed(history):
        if run.state != "COMPLETE":
            continue
        for e in run.result.get("features", []):
            by_objective.setdefault(e["objective"], []).append(
                {"run": run.id, "feature": e["feature"], "distance": float(e["value"])}
            )
    limits = set(_thresholds(info).values())
    threshold = limits.pop() if len(limits) == 1 else info.config["default_threshold"]
    return [
        charts.line(
            f"{objective}: distance per feature, last {len(history)} runs",
            rows,
            "run",
            "distance",
            color="feature",
            x_type="ordinal",
            y_title="distance",
            threshold=threshold,
            height=200,
        )
        for objective, rows in sorted(by_objective.items())
    ]


def _distribution_chart(entry: dict[str, Any]) -> dict[str, Any]:
    """Baseline and current frequencies over the baseline's buckets, side by side."""
    from pmle.monitoring.report import buckets
    from pmle.server.console import charts

    labels, p, q = buckets(entry.get("baseline"), entry.get("current"))
    rows = []
    for label, b, cur in zip(labels, p, q, strict=True):
        rows.append({"bucket": label, "side": "baseline", "frequency": b})
        rows.append({"bucket": label, "side": "current", "frequency": cur})
    before = "previous window" if entry["objective"] == "drift" else "training baseline"
    return charts.bars(
        f"{entry['feature']}: {before} vs current ({entry['objective']})",
        rows,
        "bucket",
        "frequency",
        color="side",
        offset=True,
        height=200,
    )


@action(f"/monitors/{NAME}/run")
def run_now(c: Ctx, name: str) -> Reply:
    """Run the monitor now: over its endpoint's log, or over a dataset given in the form."""
    ws = c.ws
    info = ws.monitors.get(name)
    dataset = c.field("dataset").strip()
    data = None
    if dataset:
        data = ws.datasets.get(dataset).ref  # datasets only: never a path on the server
    elif info.endpoint is None:
        raise InvalidInput(
            f"monitor {name!r} watches no endpoint: name the dataset to check",
            hint="e.g. scored@2",
        )
    run = ws.monitors.run(name, data=data)
    alerts = len(run.alerts)
    notice = f"Run {run.id}: {run.rows:,} rows, " + (
        f"{alerts} alert{'s' if alerts != 1 else ''}." if alerts else "no alerts."
    )
    return redirect(f"/monitors/{name}?run={run.id}", notice)


def _report_path(c: Ctx, name: str, run_id: str, suffix: str) -> Path:
    """A run's report file, only from under the monitor's report folder."""
    run = c.ws.monitors.get_run(name, int(run_id))
    if not run.report:
        raise NotFound(f"run {run_id} of monitor {name!r} has no report")
    folder = (c.ws.monitors.reports_root / name).resolve()
    path = Path(run.report).with_suffix(suffix).resolve()
    if path.parent != folder or not path.is_file():
        raise NotFound(f"the report of run {run_id} is not there any more")
    return path


@page(f"/monitors/{NAME}/runs/{RUN}/report")
def report(c: Ctx, name: str, run_id: str) -> Reply:
    """The run's HTML report as written (self-contained; no script may run in it)."""
    path = _report_path(c, name, run_id, ".html")
    return Reply(
        200,
        path.read_bytes(),
        headers=[
            (
                b"content-security-policy",
                b"sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:",
            )
        ],
    )


@page(rf"/monitors/{NAME}/runs/{RUN}/report\.png")
def report_png(c: Ctx, name: str, run_id: str) -> Reply:
    path = _report_path(c, name, run_id, ".png")
    return Reply(200, path.read_bytes(), b"image/png")


@page(rf"/monitors/{NAME}/runs/{RUN}\.json")
def run_json(c: Ctx, name: str, run_id: str) -> Reply:
    """The run's result as JSON (what `pmle monitors show --json` prints)."""
    import orjson

    run = c.ws.monitors.get_run(name, int(run_id))
    body = orjson.dumps(run.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    return Reply(200, body, b"application/json")
