"""Monitors end to end on real stores: baselines from lineage, windows of the request log
(written by the real request logger), skew / drift alerts, labels and performance, schedules."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pmle.errors import AlreadyExists, InvalidInput, NotFound
from pmle.serving.request_log import RequestLogger
from pmle.workspace import Workspace


def log_requests(ws: Workspace, frame: pd.DataFrame, *, ids: list[str] | None = None) -> None:
    """Log one request per row with the model's real predictions, as the server does."""
    model = ws.models.load("churn@1")
    proba = model.predict_proba(frame)
    logger = RequestLogger(ws.prediction_log_dir)
    classes = [str(c) for c in model.classes or []]
    for i, row in enumerate(frame.to_dict("records")):
        logger.add(
            endpoint="churn",
            deployed_model_id="1",
            model="churn@1",
            request_id=ids[i] if ids else f"req-{i}",
            instances=[
                {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
            ],
            predictions=[{"classes": classes, "scores": proba[i].tolist()}],
            latency_ms=1.0,
        )
    logger.flush()


def shifted(table: pd.DataFrame) -> pd.DataFrame:
    """`x` moved by 3 standard deviations and `c` mostly "blue"; `n` and `b` untouched."""
    out = table.copy()
    out["x"] = out["x"] + 3.0
    out["c"] = np.where(np.arange(len(out)) % 10 < 8, "blue", out["c"])
    return out


def test_create_stores_the_baseline_from_lineage(monitored: Workspace) -> None:
    info = monitored.monitors.create("m", endpoint="churn")
    assert info.model == "churn@1" and info.endpoint == "churn"
    assert info.baseline["source"] == "train@1"
    assert set(info.baseline["histograms"]) == {"x", "n", "c", "b"}
    assert info.features == {"x": "numeric", "n": "numeric", "c": "categorical", "b": "categorical"}
    assert info.baseline["label_prior"]["label"] == "churn"
    assert info.schedule == "every 24h" and info.next_run_at is not None
    assert [m.name for m in monitored.monitors.list()] == ["m"]
    with pytest.raises(AlreadyExists):
        monitored.monitors.create("m", endpoint="churn")


def test_planted_shift_alerts_exactly_the_shifted_features(
    fresh_rows: Any, monitored: Workspace, table: pd.DataFrame, tmp_path: Any
) -> None:
    log = tmp_path / "alerts.jsonl"
    monitored.monitors.create(
        "m", endpoint="churn", sinks=[{"type": "log", "path": str(log)}], schedule=None
    )
    log_requests(monitored, shifted(fresh_rows(1500, 1)))
    run = monitored.monitors.run("m")
    assert run.state == "COMPLETE" and run.rows == 1500
    skew = {e["feature"]: e for e in run.result["features"] if e["objective"] == "skew"}
    assert {f for f, e in skew.items() if e["anomalous"]} == {"x", "c"}
    assert skew["x"]["metric"] == "jensen_shannon_divergence"
    assert skew["c"]["metric"] == "l_infinity"
    assert {a["feature"] for a in run.alerts} == {"x", "c"}
    written = [json.loads(line) for line in log.read_text().splitlines()]
    assert {a["feature"] for a in written} == {"x", "c"}
    recorded = monitored.monitors.alerts("m")
    assert {a["feature"] for a in recorded} == {"x", "c"}
    assert all(a["deliveries"] == [{"sink": "log", "ok": True, "error": ""}] for a in recorded)
    assert run.report and run.report.endswith(".html")


def test_unshifted_traffic_stays_quiet_and_drift_compares_windows(
    fresh_rows: Any, monitored: Workspace, table: pd.DataFrame
) -> None:
    monitored.monitors.create("m", endpoint="churn", schedule=None)
    log_requests(monitored, fresh_rows(1500, 1))
    first = monitored.monitors.run("m", report=False)
    assert first.rows == 1500 and not first.alerts
    assert not [e for e in first.result["features"] if e["objective"] == "drift"]
    # The next window holds only what was logged after the first run.
    log_requests(monitored, shifted(fresh_rows(1200, 2)))
    second = monitored.monitors.run("m", report=False)
    assert second.rows == 1200
    assert second.window_start == first.window_end
    drift = {e["feature"]: e for e in second.result["features"] if e["objective"] == "drift"}
    assert set(drift) == {"x", "n", "c", "b"}
    assert {f for f, e in drift.items() if e["anomalous"]} == {"x", "c"}


def test_per_feature_thresholds_are_respected(
    fresh_rows: Any, monitored: Workspace, table: pd.DataFrame
) -> None:
    monitored.monitors.create(
        "m", endpoint="churn", thresholds={"x": 0.99, "n": 0.0}, schedule=None
    )
    log_requests(monitored, shifted(fresh_rows(1000, 3)))
    run = monitored.monitors.run("m", report=False)
    anomalous = {a["feature"] for a in run.alerts}
    assert anomalous == {"c", "n"}  # x's shift stays under 0.99; n alerts at any distance
    with pytest.raises(InvalidInput, match=r"\[0, 1\)"):
        monitored.monitors.update("m", thresholds={"x": 1.0})
    with pytest.raises(InvalidInput, match="unmonitored"):
        monitored.monitors.create("m2", endpoint="churn", thresholds={"zzz": 0.2})


def test_batch_run_over_a_file(
    fresh_rows: Any, monitored: Workspace, table: pd.DataFrame, tmp_path: Any
) -> None:
    monitored.monitors.create("batch", model="churn@1", schedule=None)
    path = tmp_path / "scored.parquet"
    shifted(fresh_rows(2000, 4)).to_parquet(path)
    run = monitored.monitors.run("batch", data=str(path), report=False)
    assert run.rows == 2000
    assert {a["feature"] for a in run.alerts} == {"x", "c"}
    with pytest.raises(InvalidInput, match="missing from the data"):
        monitored.monitors.run("batch", data=_without(table, "c", tmp_path))
    with pytest.raises(InvalidInput, match="give the data"):
        monitored.monitors.run("batch")


def _without(table: pd.DataFrame, column: str, tmp_path: Any) -> str:
    path = tmp_path / "partial.parquet"
    table.drop(columns=[column]).to_parquet(path)
    return str(path)


def test_bad_monitors_are_clear_errors(monitored: Workspace) -> None:
    monitored.endpoints.create("quiet")
    monitored.endpoints.deploy("quiet", "churn")
    with pytest.raises(InvalidInput, match="does not log requests"):
        monitored.monitors.create("q", endpoint="quiet")
    with pytest.raises(InvalidInput, match="default threshold"):
        monitored.monitors.create("q", endpoint="churn", default_threshold=1.5)
    with pytest.raises(InvalidInput, match="no input"):
        monitored.monitors.create("q", endpoint="churn", features=["nope"])
    with pytest.raises(InvalidInput, match="objective"):
        monitored.monitors.create("q", endpoint="churn", objectives=["vibes"])
    with pytest.raises(InvalidInput, match="schedule"):
        monitored.monitors.create("q", endpoint="churn", schedule="every tuesday")
    with pytest.raises(InvalidInput, match="webhook URL"):
        monitored.monitors.create("q", endpoint="churn", sinks=[{"type": "webhook", "url": "x"}])
    with pytest.raises(NotFound):
        monitored.monitors.get("q")


def test_labels_join_by_id_and_performance_degrades(
    monitored: Workspace, table: pd.DataFrame, labels: pd.Series
) -> None:
    monitored.monitors.create(
        "m", endpoint="churn", schedule=None, id_field="customer", performance_threshold=0.1
    )
    frame = table.head(400).assign(customer=[f"c{i}" for i in range(400)])
    log_requests(monitored, frame)
    # Ground truth: the first 200 right, the next 200 flipped (a degraded model).
    truth = labels.head(400).to_numpy().copy()
    flip = {"yes": "no", "no": "yes"}
    truth[200:] = [flip[v] for v in truth[200:]]
    given = pd.DataFrame({"customer_id": [f"c{i}" for i in range(400)], "outcome": truth})
    n = monitored.monitors.add_labels("m", given, id_column="customer_id", label_column="outcome")
    assert n == 400
    run = monitored.monitors.run("m", report=False)
    perf = run.result["performance"]
    assert perf["rows"] == 400
    model = monitored.models.load("churn@1")
    predicted = model.predict(frame.drop(columns=["customer"]))
    expected_accuracy = float(np.mean(predicted == truth))
    assert perf["metrics"]["accuracy"] == pytest.approx(expected_accuracy)
    majority = max(set(labels), key=list(labels).count)
    assert perf["baseline_model"]["accuracy"] == pytest.approx(float(np.mean(truth == majority)))
    assert "accuracy" in perf["degraded"]
    alert = next(a for a in run.alerts if a["metric"] == "accuracy")
    assert alert["objective"] == "performance" and alert["direction"] == "below"
    assert alert["threshold"] == pytest.approx(0.95 * 0.9)  # training accuracy less 10 %
    # Labels already used are not counted again by the next run.
    again = monitored.monitors.run("m", report=False)
    assert again.result["performance"] is None


def test_labels_with_unknown_ids_are_refused_whole(
    monitored: Workspace, table: pd.DataFrame
) -> None:
    monitored.monitors.create("m", endpoint="churn", schedule=None)
    log_requests(monitored, table.head(20))
    given = pd.DataFrame({"id": ["req-1", "req-2", "nobody"], "label": ["yes", "no", "yes"]})
    with pytest.raises(InvalidInput, match="match no logged prediction"):
        monitored.monitors.add_labels("m", given)
    assert not list((monitored.monitors.labels_root / "m").glob("*.parquet"))
    with pytest.raises(InvalidInput, match="no column"):
        monitored.monitors.add_labels("m", given, label_column="truth")


def test_scheduled_monitors_run_once_when_due(monitored: Workspace, table: pd.DataFrame) -> None:
    info = monitored.monitors.create("m", endpoint="churn", schedule="*/5 * * * *")
    assert info.next_run_at is not None and info.next_run_at.minute % 5 == 0
    log_requests(monitored, table.head(300))
    assert monitored.monitors.run_due(now=info.next_run_at - timedelta(seconds=1)) == []
    later = info.next_run_at + timedelta(seconds=1)
    runs = monitored.monitors.run_due(now=later)
    assert [r.rows for r in runs] == [300]
    assert monitored.monitors.run_due(now=later) == []  # claimed: not run twice
    assert monitored.monitors.get("m").next_run_at > later


def test_delete_removes_runs_labels_and_reports(monitored: Workspace, table: pd.DataFrame) -> None:
    monitored.monitors.create("m", endpoint="churn", schedule=None)
    log_requests(monitored, table.head(50))
    monitored.monitors.run("m")
    monitored.monitors.add_labels("m", pd.DataFrame({"id": ["req-1"], "label": ["yes"]}))
    monitored.monitors.delete("m")
    assert monitored.monitors.list() == []
    assert not (monitored.monitors.labels_root / "m").exists()
    assert not (monitored.monitors.reports_root / "m").exists()


def test_window_bounds(monitored: Workspace, table: pd.DataFrame) -> None:
    monitored.monitors.create("m", endpoint="churn", schedule=None)
    log_requests(monitored, table.head(100))
    future = datetime.now(UTC) + timedelta(hours=1)
    with pytest.raises(InvalidInput, match="must end at least"):
        monitored.monitors.run("m", end=future)
    # A window given explicitly (here in UTC+2) does not move the continuous windows.
    plus_two = timezone(timedelta(hours=2))
    end = datetime.now(plus_two)
    given = monitored.monitors.run("m", start=end - timedelta(hours=1), end=end, report=False)
    assert given.rows == 100 and given.window_end == end
    assert monitored.monitors.run("m", report=False).rows == 100
    assert monitored.monitors.run("m", report=False).rows == 0


def test_rows_written_late_are_not_lost(
    monitored: Workspace, table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pmle.monitoring import run_monitor

    monkeypatch.setattr(run_monitor, "LOG_SETTLE_S", 1.0)
    monitored.monitors.create("m", endpoint="churn", schedule=None)
    log_requests(monitored, table.head(30))
    assert monitored.monitors.run("m", report=False).rows == 0  # not settled yet
    time.sleep(1.1)
    assert monitored.monitors.run("m", report=False).rows == 30


def test_one_run_at_a_time(monitored: Workspace) -> None:
    info = monitored.monitors.create("m", endpoint="churn", schedule=None)
    from pmle.monitoring import run_records

    run_records.start_run(monitored, info, "continuous")
    with pytest.raises(InvalidInput, match="running already"):
        monitored.monitors.run("m")


def test_labels_wait_for_enough_rows_and_bad_labels_are_refused(
    monitored: Workspace, table: pd.DataFrame
) -> None:
    monitored.monitors.create("m", endpoint="churn", schedule=None)
    log_requests(monitored, table.head(40))
    with pytest.raises(InvalidInput, match="not classes of the model"):
        monitored.monitors.add_labels("m", pd.DataFrame({"id": ["req-1"], "label": ["Yes"]}))
    first = pd.DataFrame({"id": [f"req-{i}" for i in range(6)], "label": ["no"] * 6})
    monitored.monitors.add_labels("m", first)
    run = monitored.monitors.run("m", report=False)
    assert run.result["performance"] is None and "from 10 on" in run.result["notes"][-1]
    more = pd.DataFrame({"id": [f"req-{i}" for i in range(6, 12)], "label": ["yes"] * 6})
    monitored.monitors.add_labels("m", more)
    assert monitored.monitors.run("m", report=False).result["performance"]["rows"] == 12


def test_a_failing_scheduled_run_is_recorded(
    monitored: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pmle.monitoring import run_monitor

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(run_monitor, "_compute", broken)
    info = monitored.monitors.create("m", endpoint="churn", schedule="every 1m")
    assert info.next_run_at is not None
    (run,) = monitored.monitors.run_due(now=info.next_run_at)
    assert run.state == "FAILED" and "disk on fire" in (run.error or "")


def test_more_clear_errors(monitored: Workspace, table: pd.DataFrame, tmp_path: Any) -> None:
    empty = tmp_path / "empty.parquet"
    table.head(0).to_parquet(empty)
    with pytest.raises(InvalidInput, match="holds no rows"):
        monitored.monitors.create("m", endpoint="churn", baseline=str(empty))
    with pytest.raises(InvalidInput, match="SMTP port"):
        monitored.monitors.create(
            "m",
            endpoint="churn",
            sinks=[{"type": "email", "to": "a@b.c", "host": "h", "port": "x"}],
        )
    with pytest.raises(InvalidInput, match="no schedule"):
        monitored.monitors.create("m", model="churn@1", schedule="0 * * * *")
    with pytest.raises(InvalidInput, match="between 1 s and 366 days"):
        monitored.monitors.create("m", endpoint="churn", schedule="every 9999999d")


def test_attributions_of_a_subset_over_a_glob(
    monitored: Workspace, fresh_rows: Any, tmp_path: Any
) -> None:
    monitored.monitors.create(
        "attr", model="churn@1", features=["x"], objectives=["attribution_skew"], schedule=None
    )
    for i in range(2):
        fresh_rows(300, 20 + i).to_parquet(tmp_path / f"part-{i}.parquet")
    run = monitored.monitors.run("attr", data=str(tmp_path / "part-*.parquet"), report=False)
    assert run.rows == 600
    assert [e["feature"] for e in run.result["attributions"]] == ["x"]


def test_attribution_skew_and_drift(monitored: Workspace, fresh_rows: Any) -> None:
    info = monitored.monitors.create(
        "attr",
        endpoint="churn",
        objectives=["attribution_skew", "attribution_drift"],
        default_threshold=0.2,
        schedule=None,
    )
    shares = info.baseline["attribution_shares"]
    assert set(shares) == {"x", "n", "c", "b"} and sum(shares.values()) == pytest.approx(1.0)
    assert max(shares, key=shares.get) == "x"  # the labels are mostly x
    log_requests(monitored, fresh_rows(600, 7))
    quiet = monitored.monitors.run("attr", report=False)
    assert [e["objective"] for e in quiet.result["attributions"]] == ["attribution_skew"] * 4
    assert not quiet.alerts and not quiet.result["features"]
    # x stops arriving: its share of the attributions collapses, in skew and in drift.
    gone = fresh_rows(600, 8).assign(x=np.nan)
    log_requests(monitored, gone)
    run = monitored.monitors.run("attr", report=False)
    flagged = {(a["objective"], a["feature"]) for a in run.alerts}
    assert ("attribution_skew", "x") in flagged and ("attribution_drift", "x") in flagged
    x = next(e for e in run.result["attributions"] if e["feature"] == "x")
    assert x["current"] < x["baseline"] - 0.2
    assert x["value"] == pytest.approx(x["baseline"] - x["current"])
