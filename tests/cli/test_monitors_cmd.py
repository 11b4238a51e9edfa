"""`pmle monitors …` and `pmle scheduler` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from pmle.cli.app import app
from pmle.serving.request_log import RequestLogger
from pmle.workspace import Workspace

runner = CliRunner()


def _run(ws: Workspace, *args: str) -> object:
    return runner.invoke(app, ["-w", str(ws.root), *args])


def _shifted(table: pd.DataFrame, tmp_path: Path) -> str:
    out = table.copy()
    out["x"] = out["x"] + 3.0
    path = tmp_path / "scored.csv"
    out.to_csv(path, index=False)
    return str(path)


def test_batch_monitor_lifecycle(monitored: Workspace, table: pd.DataFrame, tmp_path: Path) -> None:
    log = tmp_path / "alerts.jsonl"
    res = _run(
        monitored,
        "monitors", "create", "batch", "--model", "churn@1", "--threshold", "n=0.25",
        "--schedule", "none", "--log", str(log),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "4 features, baseline train@1" in res.output
    res = _run(monitored, "monitors", "describe", "batch", "--json")
    described = json.loads(res.output)
    assert described["thresholds"] == {"n": 0.25} and described["schedule"] is None
    res = _run(monitored, "monitors", "run", "batch", "--data", _shifted(table, tmp_path))
    assert res.exit_code == 3, res.output  # alerts → exit status 3
    assert "ALERT" in res.output and "x" in res.output
    assert [json.loads(line)["feature"] for line in log.read_text().splitlines()] == ["x"]
    res = _run(monitored, "monitors", "runs", "batch")
    assert res.exit_code == 0 and "COMPLETE" in res.output
    res = _run(monitored, "monitors", "show", "batch", "--json")
    shown = json.loads(res.output)
    assert shown["rows"] == len(table) and shown["report"].endswith(".html")
    assert Path(shown["report"]).is_file()
    res = _run(monitored, "monitors", "alerts", "--json")
    assert [a["feature"] for a in json.loads(res.output)] == ["x"]
    res = _run(monitored, "monitors", "list")
    assert "batch" in res.output and "on demand" in res.output
    res = _run(monitored, "monitors", "delete", "batch")
    assert res.exit_code == 0
    assert _run(monitored, "monitors", "describe", "batch").exit_code == 2


def test_bad_input_is_a_message_not_a_traceback(monitored: Workspace) -> None:
    res = _run(monitored, "monitors", "create", "m", "--endpoint", "churn", "--threshold", "x=2")
    assert res.exit_code == 2 and "[0, 1)" in res.output and "Traceback" not in res.output
    res = _run(monitored, "monitors", "create", "m", "--endpoint", "churn", "--threshold", "x")
    assert res.exit_code == 2 and "FEATURE=0.2" in res.output
    res = _run(monitored, "monitors", "run", "nope")
    assert res.exit_code == 2 and "no monitor" in res.output
    monitored.monitors.create("m", endpoint="churn", schedule=None)
    res = _run(monitored, "monitors", "run", "m", "--settle", "-1")
    assert res.exit_code == 2 and "--settle" in res.output


def test_labels_and_scheduler(monitored: Workspace, table: pd.DataFrame, tmp_path: Path) -> None:
    res = _run(
        monitored, "monitors", "create", "m", "--endpoint", "churn", "--schedule", "every 1s"
    )
    assert res.exit_code == 0, res.output
    model = monitored.models.load("churn@1")
    proba = model.predict_proba(table)
    logger = RequestLogger(monitored.prediction_log_dir)
    for i, row in enumerate(table.head(60).to_dict("records")):
        row = {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()}
        logger.add(
            endpoint="churn",
            deployed_model_id="1",
            model="churn@1",
            request_id=f"q{i}",
            instances=[row],
            predictions=[{"classes": ["no", "yes"], "scores": proba[i].tolist()}],
            latency_ms=1.0,
        )
    logger.flush()
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"request": [f"q{i}" for i in range(60)], "truth": ["no"] * 60}).to_csv(
        labels, index=False
    )
    res = _run(monitored, "monitors", "labels", "m", str(labels), "--id-column", "request",
               "--label-column", "truth")  # fmt: skip
    assert res.exit_code == 0 and "stored 60 label(s)" in res.output, res.output
    import time

    time.sleep(1.1)
    res = _run(monitored, "scheduler", "--once")
    assert res.exit_code == 0, res.output
    assert "m run 1: COMPLETE, 60 rows" in res.output
    run = monitored.monitors.runs("m")[0]
    assert run.result["performance"]["rows"] == 60
