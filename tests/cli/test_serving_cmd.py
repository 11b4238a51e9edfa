"""`pmle endpoints`, `pmle tokens` and `pmle serve` from the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from pmle.cli.app import app
from pmle.workspace import Workspace

runner = CliRunner()


def _run(ws: Workspace, *args: str) -> object:
    return runner.invoke(app, ["-w", str(ws.root), *args])


def test_endpoint_lifecycle(
    deployed: Workspace, make_classifier: object, table: pd.DataFrame, labels: pd.Series
) -> None:
    deployed.models.register("churn", make_classifier(table, labels, 3), input_example=table.head())  # type: ignore[operator]
    res = _run(deployed, "endpoints", "create", "web", "--log-sampling", "0.5")
    assert res.exit_code == 0, res.output
    res = _run(deployed, "endpoints", "deploy", "web", "--model", "churn@1")
    assert res.exit_code == 0 and "as id 3" in res.output
    res = _run(
        deployed, "endpoints", "deploy", "web", "-m", "churn@2", "--traffic", "10", "--no-batching"
    )
    assert res.exit_code == 0, res.output
    assert deployed.endpoints.get("web").traffic_split == {"3": 90, "4": 10}
    res = _run(deployed, "endpoints", "split", "web", "3=50,4=50")
    assert res.exit_code == 0 and "50%" in res.output
    res = _run(deployed, "endpoints", "describe", "web", "--json")
    info = json.loads(res.output)
    assert info["trafficSplit"] == {"3": 50, "4": 50}
    assert info["deployedModels"][1]["maxBatchSize"] == 1
    res = _run(deployed, "endpoints", "list")
    assert res.exit_code == 0 and "web" in res.output and "churn@2 50%" in res.output
    res = _run(deployed, "endpoints", "undeploy", "web", "4")
    assert res.exit_code == 0 and deployed.endpoints.get("web").traffic_split == {"3": 100}
    res = _run(deployed, "endpoints", "delete", "web")
    assert res.exit_code == 2 and "still has 1 deployed model" in res.output
    assert _run(deployed, "endpoints", "delete", "web", "--force").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["endpoints", "split", "churn", "1=abc"], "ID=PERCENT"),
        (["endpoints", "split", "churn", "1=90"], "sum to 90"),
        (["endpoints", "deploy", "nope", "-m", "churn"], "no endpoint named 'nope'"),
        (["endpoints", "deploy", "churn", "-m", "ghost@4"], "ghost"),
        (["endpoints", "create", "churn"], "already exists"),
        (["tokens", "revoke", "nobody"], "no active token"),
        (["serve", "--runner", "k8s"], "unknown runner 'k8s'"),
        (["serve", "--replicas", "2"], "--replicas and --ray-address are for --runner ray"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    deployed: Workspace, args: list[str], message: str
) -> None:
    res = _run(deployed, *args)
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output


def test_tokens(deployed: Workspace) -> None:
    res = _run(deployed, "tokens", "create", "ci")
    assert res.exit_code == 0
    secret = res.stdout.strip().splitlines()[-1]
    assert secret.startswith("pmle_") and len(secret) > 30
    res = _run(deployed, "tokens", "list")
    assert "ci" in res.output and secret not in res.output and "active" in res.output
    assert _run(deployed, "tokens", "revoke", "ci").exit_code == 0
    assert "revoked" in _run(deployed, "tokens", "list").output


def test_serve_with_two_workers(
    deployed: Workspace, table: pd.DataFrame, port: int, wait_ready: Any
) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pmle",
            "-w",
            str(deployed.root),
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "PATH": os.environ.get("PATH", "")},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, 60)
        rows = (
            table.head(2)
            .astype(object)
            .where(pd.notna(table.head(2)), None)
            .to_dict(orient="records")
        )
        with httpx.Client() as client:
            for _ in range(20):
                r = client.post(f"{url}/v1/models/churn:predict", json={"instances": rows})
                assert r.status_code == 200 and len(r.json()["predictions"]) == 2
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
    assert "serving 2 endpoint(s)" in err
