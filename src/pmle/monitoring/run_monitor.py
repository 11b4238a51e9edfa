"""One run of a monitor: read the window, compare it with the baselines, raise alerts, write
the report. `Monitors.run` and the scheduler call `execute`."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pmle._util import utcnow
from pmle.errors import InvalidInput, PmleError
from pmle.monitoring import run_records
from pmle.monitoring.distances import from_dict
from pmle.monitoring.drift import METRICS, thresholds_for

if TYPE_CHECKING:
    import duckdb

    from pmle.monitoring.alerts import Alert
    from pmle.monitoring.monitors import MonitorInfo, MonitorRun, Monitors
    from pmle.monitoring.sql_histograms import Histogram

ATTRIBUTION_METRIC = "attribution_share_change"
#: A log window ends this many seconds before now: servers write what they log about a second
#: after answering, so the newest rows may not be readable yet.
LOG_SETTLE_S = 10.0


def execute(
    monitors: Monitors,
    info: MonitorInfo,
    *,
    data: str | os.PathLike[str] | None,
    start: datetime | None,
    end: datetime | None,
    report: bool,
    settle_s: float = LOG_SETTLE_S,
) -> MonitorRun:
    """Run `info` over `data`, or over its endpoint's log window (start, end]. The run is
    recorded first, so whatever goes wrong ends as a FAILED run with its message."""
    from pmle.monitoring import sources

    ws = monitors._ws
    if data is not None:
        kind = "data"
    elif start is not None or end is not None:
        kind = "window"
    else:
        kind = "continuous"
    run_id = run_records.start_run(ws, info, kind)
    scored: list[Any] = []
    try:
        window_start = window_end = None
        empty = False
        if data is None:
            latest = utcnow() - timedelta(seconds=settle_s)
            if end is not None and end > latest:
                raise InvalidInput(
                    f"the window must end at least {settle_s:g} s ago",
                    hint="servers write their request logs a moment after answering",
                )
            window_end = end or latest
            if start is not None:
                window_start = start
            elif kind == "continuous":
                window_start = run_records.last_window_end(ws, info) or info.created_at
            if window_start is not None and window_start >= window_end:
                if kind != "continuous":
                    raise InvalidInput("the window is empty: its start is not before its end")
                window_end, empty = window_start, True  # nothing new yet: the window stays
            relation = monitors._logged(info, start=window_start, end=window_end)
            source = f"prediction_log of endpoint {info.endpoint}"
        else:
            relation, source = sources.data_relation(ws, data)
        run_records.finish_run(
            ws, run_id, ended=False, source=source, window_start=window_start, window_end=window_end
        )
        with ws.warehouse.connect(read_only=True) as con:
            result, histograms, rows, scored = _compute(
                monitors, info, con, relation, run_id, data, empty=empty
            )
        alerts = _alerts(info, result)
        result["alerts"] = [a.to_dict() for a in alerts]
        if alerts:
            result["deliveries"] = run_records.record_alerts(ws, info, run_id, alerts)
        result.update(model=info.model, endpoint=info.endpoint)
        run_records.finish_run(
            ws, run_id, state="COMPLETE", rows=rows, result=result, histograms=histograms
        )
    except PmleError as exc:
        run_records.finish_run(ws, run_id, state="FAILED", error=str(exc))
        raise
    except Exception as exc:
        run_records.finish_run(ws, run_id, state="FAILED", error=f"{exc.__class__.__name__}: {exc}")
        raise
    if scored:
        from pmle.monitoring import performance

        performance.mark_scored(monitors.labels_root, info.name, scored)
    if report and rows:
        try:
            path = _write_report(monitors, info, run_id)
            if path is not None:
                run_records.finish_run(ws, run_id, ended=False, report=path)
        except Exception as exc:  # the run's results stand without their report
            result.setdefault("notes", []).append(
                f"the report could not be written: {exc.__class__.__name__}: {exc}"
            )
            run_records.finish_run(ws, run_id, ended=False, result=result)
    return monitors.get_run(info.name, run_id)


def _compute(
    monitors: Monitors,
    info: MonitorInfo,
    con: duckdb.DuckDBPyConnection,
    relation: str,
    run_id: int,
    data: Any,
    *,
    empty: bool = False,
) -> tuple[dict[str, Any], dict[str, Any], int, list[Any]]:
    """The run's result, the window's histograms, its row count and the label files it
    scored."""
    from pmle.monitoring import sources, sql_histograms

    kinds = info.features
    if data is not None:
        needed = dict(kinds)
        if {"attribution_skew", "attribution_drift"} & set(info.config["objectives"]):
            needed.update({c: "categorical" for c in _inputs(monitors, info) if c not in needed})
        sql_histograms.check_relation(con, relation, needed)
    window = sources.sampled(relation, info.config["sampling_rate"], seed=run_id)
    rows = 0 if empty else int(con.execute(f"SELECT count(*) FROM ({window})").fetchall()[0][0])
    result: dict[str, Any] = {"features": [], "attributions": [], "performance": None}
    if rows == 0 and data is not None:
        raise InvalidInput(f"{data} holds no rows to monitor")
    baseline = {f: from_dict(h) for f, h in info.baseline["histograms"].items()}
    histograms: dict[str, Any] = {}
    objectives = info.config["objectives"]
    limits = thresholds_for(
        list(kinds), info.config["thresholds"], info.config["default_threshold"]
    )
    if rows:
        counts = _counts(con, window, baseline)
        previous = run_records.previous_run(monitors._ws, info, run_id, endpoint_only=data is None)
        prev_hists = dict(previous.histograms or {}) if previous is not None else {}
        for feature, hist in baseline.items():
            current = _with_counts(hist, counts[feature])
            histograms[feature] = current.to_dict()
            if "skew" in objectives:
                result["features"].append(
                    _entry("skew", feature, hist, current, limits[feature], counts[feature])
                )
            if "drift" in objectives and feature in prev_hists:
                before = from_dict(prev_hists[feature])
                result["features"].append(
                    _entry("drift", feature, before, current, limits[feature], counts[feature])
                )
        if "drift" in objectives and not prev_hists:
            result["notes"] = ["drift is measured from the second run on (no previous window)"]
        if {"attribution_skew", "attribution_drift"} & set(objectives):
            _attributions(monitors, info, con, window, result, histograms, prev_hists, limits)
    elif data is None:
        result["notes"] = ["no requests were logged in this window"]
    scored: list[Any] = []
    if data is None:
        scored = _performance(monitors, info, con, result)
    return result, histograms, rows, scored


def _counts(con: duckdb.DuckDBPyConnection, relation: str, baseline: dict[str, Histogram]) -> Any:
    from pmle.monitoring import sql_histograms

    count_all = getattr(sql_histograms, "count_all", None)
    if count_all is not None:
        return count_all(con, relation, baseline)
    return {f: sql_histograms.count(con, relation, f, h) for f, h in baseline.items()}


def _with_counts(hist: Histogram, counts: Any) -> Histogram:
    from pmle.monitoring.distances import NumericHistogram

    if isinstance(hist, NumericHistogram):
        return NumericHistogram(hist.edges, tuple(int(c) for c in counts))
    return type(hist)(hist.categories, tuple(int(c) for c in counts))


def _entry(
    objective: str,
    feature: str,
    before: Histogram,
    current: Histogram,
    threshold: float,
    counts: Any,
) -> dict[str, Any]:
    value = before.distance_from_counts(counts)
    return {
        "objective": objective,
        "feature": feature,
        "metric": METRICS[type(before)],
        "value": float(value),
        "threshold": float(threshold),
        "anomalous": bool(value >= threshold),
        "rows": int(sum(counts)),
        "baseline": before.to_dict(),
        "current": current.to_dict(),
    }


def _attributions(
    monitors: Monitors,
    info: MonitorInfo,
    con: duckdb.DuckDBPyConnection,
    window: str,
    result: dict[str, Any],
    histograms: dict[str, Any],
    prev_hists: dict[str, Any],
    limits: dict[str, float],
) -> None:
    from pmle.monitoring import sources
    from pmle.monitoring.monitors import ATTRIBUTION_ROWS

    frame = sources.frame_of(con, window, _inputs(monitors, info), ATTRIBUTION_ROWS)
    shares = monitors._attribution_shares(info.model, frame, info.features)
    histograms["_attribution_shares"] = shares
    pairs = []
    if "attribution_skew" in info.config["objectives"]:
        pairs.append(("attribution_skew", info.baseline.get("attribution_shares") or {}))
    if "attribution_drift" in info.config["objectives"]:
        pairs.append(("attribution_drift", prev_hists.get("_attribution_shares") or {}))
    for objective, before in pairs:
        if not before:
            continue
        for feature in info.features:
            b, c = float(before.get(feature, 0.0)), float(shares.get(feature, 0.0))
            value = abs(c - b)
            result["attributions"].append(
                {
                    "objective": objective,
                    "feature": feature,
                    "metric": ATTRIBUTION_METRIC,
                    "baseline": b,
                    "current": c,
                    "value": value,
                    "threshold": limits[feature],
                    "anomalous": value >= limits[feature],
                }
            )


def _performance(
    monitors: Monitors,
    info: MonitorInfo,
    con: duckdb.DuckDBPyConnection,
    result: dict[str, Any],
) -> list[Any]:
    """Metrics over the labels not scored yet, whatever window their predictions were logged
    in; the label files scored (they are set aside once the run is recorded)."""
    from pmle.monitoring import performance

    files = performance.pending_files(monitors.labels_root, info.name)
    if not files:
        return []
    logged = monitors._logged(info, start=None, end=None)
    rows = performance.labelled(con, logged, files)
    mv = monitors._ws.models.get(info.model)
    try:
        perf = performance.evaluate(
            rows,
            task=str(mv.task),
            classes=mv.manifest.get("classes"),
            training=performance.training_metrics(mv.manifest),
            prior=info.baseline.get("label_prior") or {},
            threshold=info.config["performance_threshold"],
        )
    except PmleError as exc:  # the other objectives still count
        result.setdefault("notes", []).append(f"performance not measured: {exc}")
        return []
    if perf is None:
        result.setdefault("notes", []).append(
            f"{len(rows)} new label(s): performance is measured from "
            f"{performance.MIN_LABELLED_ROWS} on"
        )
        return []
    result["performance"] = perf.to_dict()
    return files


def _inputs(monitors: Monitors, info: MonitorInfo) -> list[str]:
    from pmle.models.signature import Signature

    mv = monitors._ws.models.get(info.model)
    return Signature.from_dict(mv.manifest["signature"]).input_names


def _alerts(info: MonitorInfo, result: dict[str, Any]) -> list[Alert]:
    from pmle.monitoring.alerts import Alert

    out = []
    for entry in [*result["features"], *result["attributions"]]:
        if entry["anomalous"]:
            out.append(
                Alert(
                    info.name,
                    entry["objective"],
                    entry["feature"],
                    entry["metric"],
                    entry["value"],
                    entry["threshold"],
                )
            )
    perf = result.get("performance")
    if perf:
        for metric in perf["degraded"]:
            out.append(
                Alert(
                    info.name,
                    "performance",
                    "model",
                    metric,
                    perf["metrics"][metric],
                    perf["limits"][metric],
                    direction="below" if metric in _higher_is_better() else "above",
                )
            )
    return out


def _higher_is_better() -> frozenset[str]:
    from pmle.monitoring.performance import HIGHER_IS_BETTER

    return HIGHER_IS_BETTER


def _write_report(monitors: Monitors, info: MonitorInfo, run_id: int) -> str | None:
    try:
        from pmle.monitoring.report import write_report
    except ImportError:  # pragma: no cover - the report module ships with pmle
        return None
    runs = list(reversed(monitors.runs(info.name, limit=30)))
    history = [r.to_dict() for r in runs if r.state == "COMPLETE" and r.rows]
    current = next(r for r in runs if r.id == run_id).to_dict()
    files = write_report(current, history, monitors.reports_root / info.name)
    return str(files.html)
