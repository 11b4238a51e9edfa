"""Request–response logging: sampled rows land in Parquet files the warehouse reads as a view,
and a server killed while logging leaves only complete files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pmle.serving.request_log import RequestLogger
from pmle.workspace import Workspace

VX = "/v1/projects/p/locations/l/endpoints"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return list(frame.astype(object).where(pd.notna(frame), None).to_dict(orient="records"))


def test_sampling_rates(tmp_path: Path) -> None:
    logger = RequestLogger(tmp_path)
    assert logger.sampled(1.0) and not logger.sampled(0.0)
    hits = sum(logger.sampled(0.25) for _ in range(4000))
    assert 800 < hits < 1200


def test_logged_requests_appear_in_the_warehouse_view(
    deployed: Workspace, table: pd.DataFrame, run_app: Any
) -> None:
    from pmle.server.app import PmleApp

    deployed.endpoints.update("churn", log_sampling=1.0)
    rows = _records(table.head(3))
    with run_app(PmleApp(deployed, poll_s=0.1)) as url:
        for _ in range(4):
            assert (
                httpx.post(f"{url}{VX}/churn:predict", json={"instances": rows}).status_code == 200
            )
        # Not sampled: the other endpoint logs nothing.
        httpx.post(f"{url}{VX}/value:predict", json={"instances": rows})
        deadline = time.monotonic() + 10
        while not list(deployed.prediction_log_dir.glob("[!_]*/*.parquet")):
            assert time.monotonic() < deadline, "no log file was written"
            time.sleep(0.1)
    # The server flushes the rest on shutdown.
    got = deployed.warehouse.query_arrow(
        "SELECT endpoint, deployed_model_id, model, instance, prediction, latency_ms "
        "FROM prediction_log ORDER BY time"
    ).to_pandas()
    assert len(got) == 12 and set(got.endpoint) == {"churn"}
    assert set(got.model) == {"churn@1"} and set(got.deployed_model_id) == {"1"}
    first = deployed.warehouse.query_arrow(
        "SELECT json_extract_string(instance, '$.c') AS c, "
        "json_extract(prediction, '$.scores') AS scores FROM prediction_log LIMIT 1"
    ).to_pylist()[0]
    assert first["c"] == rows[0]["c"] and first["scores"].startswith("[")
    assert (got.latency_ms > 0).all()


SERVER = """
import sys
from pmle.server.run import serve
serve(sys.argv[1], port=int(sys.argv[2]))
"""


@pytest.mark.slow
def test_killed_server_leaves_readable_log_files(
    deployed: Workspace, table: pd.DataFrame, port: int, wait_ready: Any
) -> None:
    deployed.endpoints.update("churn", log_sampling=1.0)
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(deployed.root), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    sent = [0]

    def load() -> None:
        rows = {"instances": _records(table.head(20))}
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                try:
                    client.post(f"{url}{VX}/churn:predict", json=rows)
                    sent[0] += 1
                except httpx.HTTPError:
                    time.sleep(0.05)

    thread = threading.Thread(target=load, daemon=True)
    try:
        wait_ready(url, proc, 60)
        deadline = time.monotonic() + 60
        thread.start()
        while len(list(deployed.prediction_log_dir.glob("[!_]*/*.parquet"))) < 3:
            assert time.monotonic() < deadline, "the server wrote no log files"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # no shutdown, no final flush
    finally:
        stop.set()
        proc.kill()
        proc.wait()
    thread.join()
    files = sorted(deployed.prediction_log_dir.glob("[!_]*/*.parquet"))
    total = sum(pq.read_table(f).num_rows for f in files)  # every visible file is complete
    assert total > 0 and total % 20 == 0
    n = deployed.warehouse.query_arrow("SELECT count(*) AS n FROM prediction_log").to_pylist()
    assert n[0]["n"] == total


def test_the_view_exists_before_anything_is_logged(ws: Workspace) -> None:
    got = ws.warehouse.query_arrow("SELECT * FROM prediction_log")
    assert got.num_rows == 0
    assert got.column_names == [
        "time",
        "endpoint",
        "deployed_model_id",
        "model",
        "request_id",
        "instance",
        "prediction",
        "latency_ms",
    ]


def test_traffic_per_bucket_and_deployed_model(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from pmle.serving.request_log import traffic

    logger = RequestLogger(tmp_path)
    before = datetime.now(UTC) - timedelta(seconds=2)
    for i, (dm, n, ms) in enumerate([("1", 2, 4.0), ("1", 1, 8.0), ("1", 1, 6.0), ("2", 3, 9.0)]):
        logger.add(
            endpoint="churn",
            deployed_model_id=dm,
            model=f"churn@{dm}",
            request_id=f"r{i}",
            instances=[{"x": 1.0}] * n,
            predictions=[0.5] * n,
            latency_ms=ms,
        )
    logger.add(  # another endpoint's rows are not counted
        endpoint="value", deployed_model_id="3", model="value@1", request_id="v",
        instances=[{"x": 1.0}], predictions=[1.0], latency_ms=1.0,
    )  # fmt: skip
    logger.flush()
    found = traffic(tmp_path, "churn", since=before, bucket_s=86400)
    assert found.complete and found.files == found.files_read == 1 and found.since == before
    rows = found.rows
    assert [(r["deployed_model_id"], r["requests"], r["rows"]) for r in rows] == [
        ("1", 3, 4),
        ("2", 1, 3),
    ]
    assert rows[0]["latency_p50_ms"] == 6.0 and 7.5 < rows[0]["latency_p99_ms"] <= 8.0
    assert rows[0]["time"] <= before and rows[0]["time"].tzinfo is not None
    assert traffic(tmp_path, "churn", since=datetime.now(UTC) + timedelta(minutes=1)).rows == []
    assert traffic(tmp_path, "nothing", since=before).rows == []


def test_traffic_reads_at_most_the_newest_files(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from pmle.serving.request_log import traffic

    folder = tmp_path / "churn"
    logger = RequestLogger(tmp_path)
    for i in range(3):
        logger.add(
            endpoint="churn", deployed_model_id="1", model="churn@1", request_id=str(i),
            instances=[{"x": 1.0}], predictions=[0.5], latency_ms=1.0,
        )  # fmt: skip
        logger.flush()
        # name the file as written i minutes ago, newest last, as its rows say
        part = sorted(folder.glob("part-*.parquet"))[-1]
        stamp = (datetime.now(UTC) - timedelta(minutes=10 - i)).strftime("%Y%m%dT%H%M%S")
        part.rename(folder / f"part-{stamp}-1-{i:06d}.parquet")
    since = datetime.now(UTC) - timedelta(hours=1)
    assert traffic(tmp_path, "churn", since=since).files == 3
    # the rows carry the time they were logged (now); the file names decide what is read
    partial = traffic(tmp_path, "churn", since=since, max_files=2)
    assert (partial.files, partial.files_read, partial.complete) == (3, 2, False)
    assert partial.since > since + timedelta(minutes=50)
    assert sum(r["requests"] for r in partial.rows) == 2
