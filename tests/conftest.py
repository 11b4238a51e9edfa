"""Shared fixtures: a fresh workspace per test, the churn data shipped with pmle, and models
deployed on endpoints behind a real server on loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import pmle
from pmle.workspace import Workspace


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own PMLE_* settings must not leak into tests.
    for key in (
        "PMLE_WORKSPACE",
        "PMLE_METADATA_URL",
        "PMLE_DEBUG",
        "PMLE_BUSY_TIMEOUT_S",
        "PMLE_ONLINE_STORE_URL",
    ):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A fresh, migrated workspace in a temp folder."""
    workspace = pmle.init(tmp_path / "ws")
    yield workspace
    workspace.close()


@pytest.fixture(scope="session")
def churn_csv() -> Path:
    """The real telco churn CSV (7,043 rows) shipped in pmle.resources."""
    from pmle.demo import sample_data_path

    return sample_data_path()


# --- serving ----------------------------------------------------------------------------------

N_SERVING = 400


def make_table(n: int = N_SERVING, seed: int = 11) -> pd.DataFrame:
    """A float, an integer, a categorical string and a boolean column, with a few NaNs."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    x[::37] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "n": rng.integers(0, 10, size=n),
            "c": rng.choice(["red", "green", "blue"], size=n),
            "b": rng.random(n) > 0.5,
        }
    )


@pytest.fixture(scope="session")
def table() -> pd.DataFrame:
    """`make_table()`: the rows the serving fixtures' models are trained on."""
    return make_table()


@pytest.fixture(scope="session")
def fresh_rows() -> Any:
    """`fresh_rows(n, seed)`: new rows from the distribution of `table`."""
    return make_table


@pytest.fixture(scope="session")
def labels(table: pd.DataFrame) -> pd.Series:
    """A binary target with string classes."""
    score = np.nan_to_num(table["x"]) + (table["c"] == "red") - 0.5 * table["b"] + 0.1 * table["n"]
    return pd.Series(np.where(score > 0.4, "yes", "no"), name="churn")


@pytest.fixture(scope="session")
def values(table: pd.DataFrame) -> pd.Series:
    """A regression target."""
    return 2 * np.nan_to_num(table["x"]) + (table["c"] == "blue") + 0.3 * table["n"]


def lgbm_classifier(table: pd.DataFrame, labels: pd.Series, seed: int = 0) -> Any:
    import lightgbm as lgb

    model = lgb.LGBMClassifier(
        n_estimators=30, num_leaves=7, num_threads=1, verbose=-1, random_state=seed
    )
    return model.fit(table.assign(c=table["c"].astype("category")), labels)


def ensemble_regressor(table: pd.DataFrame, values: pd.Series) -> Any:
    """An AutoML-shaped ensemble: a feature transform and two LightGBM members."""
    import lightgbm as lgb

    from pmle.models.ensemble import EnsembleModel, Member
    from pmle.models.transforms import FeatureTransform

    kinds = {"x": "numeric", "n": "numeric", "c": "categorical", "b": "boolean"}
    transform = FeatureTransform.fit(table, kinds)
    x = transform.transform(table)
    members = []
    for leaves, weight in ((7, 0.6), (15, 0.4)):
        booster = lgb.train(
            {"objective": "regression", "num_leaves": leaves, "verbose": -1, "num_threads": 1},
            lgb.Dataset(x, values.to_numpy(), categorical_feature=transform.categorical_features),
            num_boost_round=30,
        )
        members.append(Member("lightgbm", booster, weight, f"lgbm{leaves}"))
    return EnsembleModel(transform=transform, members=members, task="regression")


@pytest.fixture
def deployed(ws: Workspace, table: pd.DataFrame, labels: pd.Series, values: pd.Series) -> Workspace:
    """A workspace with endpoint `churn` (a LightGBM classifier) and `value` (an ensemble)."""
    ws.models.register("churn", lgbm_classifier(table, labels), input_example=table.head())
    ws.models.register("value", ensemble_regressor(table, values), input_example=table.head())
    ws.endpoints.create("churn")
    ws.endpoints.deploy("churn", "churn")
    ws.endpoints.create("value")
    ws.endpoints.deploy("value", "value")
    return ws


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a loopback port in a thread; yields the base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def app(deployed: Workspace) -> Any:
    """The ASGI app over the `deployed` workspace (fast polling)."""
    from pmle.server.app import PmleApp

    return PmleApp(deployed, poll_s=0.1)


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    """A real server on loopback running `app`."""
    with running(app) as url:
        yield url


@pytest.fixture(scope="session")
def make_classifier() -> Any:
    """`make_classifier(table, labels, seed)`: a small fitted LightGBM classifier."""
    return lgbm_classifier


@pytest.fixture(scope="session")
def run_app() -> Any:
    """`with run_app(asgi_app) as url:` — serve an app on loopback for the block."""
    return running


def _wait_ready(
    url: str, proc: Any, timeout_s: float = 60.0, path: str = "/v2/health/ready"
) -> None:
    """Wait until a server process answers `path` with 200; fail with its stderr if it dies."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}{path}").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"the server exited: {proc.communicate()[1]}")
        assert time.monotonic() < deadline, f"the server was not ready within {timeout_s:g} s"
        time.sleep(0.1)


@pytest.fixture(scope="session")
def wait_ready() -> Any:
    """`wait_ready(url, proc, timeout_s)`: block until a started server process is ready."""
    return _wait_ready


@pytest.fixture
def port() -> int:
    """A free loopback port."""
    return free_port()


@pytest.fixture
def monitored(
    ws: Workspace, table: pd.DataFrame, labels: pd.Series, monkeypatch: pytest.MonkeyPatch
) -> Workspace:
    """Model `churn@1` trained on dataset `train@1` (lineage), deployed on logging endpoint
    `churn`. Log windows may end right now (tests write their logs before running)."""
    from pmle.monitoring import run_monitor

    monkeypatch.setattr(run_monitor, "LOG_SETTLE_S", 0.0)
    dv = ws.datasets.import_("train", table.assign(churn=labels))
    ws.models.register(
        "churn",
        lgbm_classifier(table, labels),
        input_example=table.head(),
        inputs=[dv.lineage_artifact_id],
        metrics={"test_accuracy": 0.95, "test_auc": 0.97},
    )
    ws.endpoints.create("churn", log_sampling=1.0)
    ws.endpoints.deploy("churn", "churn")
    return ws


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[Any]]]:
    """A real HTTP server on loopback: (URL, received [(content type, JSON body)])."""
    received: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Content-Type"], json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
