"""`pmle serve --runner ray`: the same routes on Ray Serve replicas, and its errors."""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from pmle.errors import Conflict, InvalidInput
from pmle.server.ray_runner import REPLICA_HEADER, ReplicaApp, serve_ray
from pmle.server.run import serve
from pmle.workspace import Workspace

VX = "/v1/projects/demo/locations/local/endpoints"
HEADER = REPLICA_HEADER.decode()


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return list(frame.astype(object).where(pd.notna(frame), None).to_dict(orient="records"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _session(sid: int) -> list[int]:
    """Processes of a session (Ray puts its workers in process groups of their own)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    pids.append(int(entry))
            except OSError:
                pass  # gone meanwhile
    return pids


def _kill_session(sid: int) -> None:
    for pid in _session(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds Ray's processes in /proc")
def test_two_replicas_serve_the_same_routes(
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
            "--runner",
            "ray",
            "--replicas",
            "2",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Its own session: Ray's processes are found (and, failing all else, killed) by it.
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, 180)
        rows = table.head(7)
        model = deployed.models.load("churn")
        with httpx.Client(base_url=url, timeout=30) as client:
            # Vertex AI.
            r = client.post(f"{VX}/churn:predict", json={"instances": _records(rows)})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["deployedModelId"] == "1" and body["modelDisplayName"] == "churn"
            got = np.array([p["scores"] for p in body["predictions"]])
            np.testing.assert_allclose(got, model.predict_proba(rows), atol=1e-12)
            r = client.post(f"{VX}/value:predict", json={"instances": _records(rows)})
            values = [p["value"] for p in r.json()["predictions"]]
            np.testing.assert_allclose(values, deployed.models.load("value").predict(rows))
            # Open Inference Protocol V2.
            inputs = [
                {"name": "x", "shape": [7], "datatype": "FP64", "data": _records(rows[["x"]])},
                {"name": "n", "shape": [7], "datatype": "INT64", "data": rows["n"].tolist()},
                {"name": "c", "shape": [7], "datatype": "BYTES", "data": rows["c"].tolist()},
                {"name": "b", "shape": [7], "datatype": "BOOL", "data": rows["b"].tolist()},
            ]
            inputs[0]["data"] = [v["x"] for v in inputs[0]["data"]]
            r = client.post("/v2/models/churn/infer", json={"inputs": inputs})
            assert r.status_code == 200, r.text
            outputs = {o["name"]: o for o in r.json()["outputs"]}
            assert outputs["predict"]["data"] == list(model.predict(rows))
            proba = np.array(outputs["predict_proba"]["data"]).reshape(7, 2)
            np.testing.assert_allclose(proba, model.predict_proba(rows), atol=1e-12)
            # Errors are the app's own.
            r = client.post(f"{VX}/nosuch:predict", json={"instances": [{}]})
            assert r.status_code == 404 and "no endpoint named 'nosuch'" in r.text
            # Both replicas answer (Ray's router picks among idle replicas at random).
            replicas = {
                client.post("/v1/models/churn:predict", json={"instances": _records(rows)}).headers[
                    HEADER
                ]
                for _ in range(40)
            }
            assert len(replicas) == 2, replicas
    finally:
        # SIGTERM to the pmle process alone, as a process manager stops it: it shuts Serve and
        # its Ray down (Ctrl-C takes the same path).
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            _kill_session(proc.pid)
            _, err = proc.communicate()
        deadline = time.monotonic() + 30
        while _session(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        leaked = [Path(f"/proc/{pid}/cmdline").read_bytes()[:80] for pid in _session(proc.pid)]
        _kill_session(proc.pid)
    assert "with 2 Ray Serve replica(s)" in err
    assert proc.returncode == 0, err
    assert not leaked, f"Ray processes outlived `pmle serve`: {leaked}"


def test_replica_app_serves_and_names_itself(
    deployed: Workspace, table: pd.DataFrame, run_app: Any
) -> None:
    app = ReplicaApp(str(deployed.root), require_token=False, max_body_bytes=1000, poll_s=0.1)
    with run_app(app) as url:
        r = httpx.post(f"{url}/v1/models/churn:predict", json={"instances": _records(table[:2])})
        assert r.status_code == 200 and len(r.headers[HEADER]) == 12
        r = httpx.post(f"{url}/v1/models/churn:predict", content=b"x" * 1001)
        assert r.status_code == 413 and HEADER in r.headers  # the settings travelled
    # What Ray Serve ships to replicas: settings only, the built app stays behind.
    copy = pickle.loads(pickle.dumps(app))
    assert copy._app is None and copy._tag == b"" and copy.max_body_bytes == 1000


def test_runner_options_are_checked(deployed: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    root = str(deployed.root)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"runner": "k8s"}, "unknown runner 'k8s'"),
        ({"replicas": 2}, "--replicas and --ray-address are for --runner ray"),
        ({"ray_address": "ray://x:10001"}, "are for --runner ray"),
        ({"runner": "ray", "workers": 2}, "with --runner ray, scale with --replicas N"),
        ({"runner": "ray", "replicas": 0}, "replicas must be 1..64"),
    ]
    for kwargs, message in cases:
        with pytest.raises(InvalidInput) as info:
            serve(root, port=_free_port(), **kwargs)
        assert message in str(info.value), kwargs
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(Conflict, match=f"cannot listen on 127.0.0.1:{port}"):
            serve_ray(
                root,
                host="127.0.0.1",
                port=port,
                replicas=1,
                require_token=False,
                max_body_bytes=1000,
            )
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(InvalidInput) as info:
        serve(root, port=_free_port(), runner="ray", replicas=2)
    assert info.value.hint == "pip install 'pmle[ray]'"
    assert "serving with --runner ray needs Ray" in str(info.value)
