"""The real server on loopback: Vertex AI, KServe V1 and V2 routes, errors, auth, metrics,
traffic split, live deployment changes, request logging."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from pmle.workspace import Workspace

VX = "/v1/projects/demo/locations/local/endpoints"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return list(frame.astype(object).where(pd.notna(frame), None).to_dict(orient="records"))


def test_vertex_predict_shape_and_values(
    server: str, deployed: Workspace, table: pd.DataFrame
) -> None:
    rows = table.head(7)
    r = httpx.post(f"{server}{VX}/churn:predict", json={"instances": _records(rows)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["deployedModelId"] == "1"
    assert body["model"] == "projects/demo/locations/local/models/churn"
    assert body["modelDisplayName"] == "churn" and body["modelVersionId"] == "1"
    want = deployed.models.load("churn").predict_proba(rows)
    got = np.array([p["scores"] for p in body["predictions"]])
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert body["predictions"][0]["classes"] == ["no", "yes"]
    assert r.headers["x-vertex-ai-deployed-model-id"] == "1"

    r = httpx.post(f"{server}{VX}/value:predict", json={"instances": _records(rows)})
    values = [p["value"] for p in r.json()["predictions"]]
    np.testing.assert_allclose(values, deployed.models.load("value").predict(rows), atol=1e-12)


def test_raw_predict_and_kserve_v1(server: str, deployed: Workspace, table: pd.DataFrame) -> None:
    rows = _records(table.head(4))
    labels = list(deployed.models.load("churn").predict(table.head(4)))
    r = httpx.post(f"{server}{VX}/churn:rawPredict", json=rows)
    assert r.status_code == 200 and set(r.json()) == {"predictions"}
    r = httpx.post(f"{server}/v1/models/churn:predict", json={"instances": rows})
    assert r.status_code == 200 and r.json() == {"predictions": labels}


def test_v2_with_the_triton_client(server: str, deployed: Workspace, table: pd.DataFrame) -> None:
    import tritonclient.http as triton

    client = triton.InferenceServerClient(server.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("churn")
    assert client.get_server_metadata()["name"] == "pmle"
    meta = client.get_model_metadata("churn")
    assert [i["name"] for i in meta["inputs"]] == ["x", "n", "c", "b"]
    assert {o["name"] for o in meta["outputs"]} == {"predict", "predict_proba"}

    rows = table.head(25)
    dtypes = {"FP64": np.float64, "INT64": np.int64, "BYTES": np.object_, "BOOL": np.bool_}
    want = deployed.models.load("churn").predict_proba(rows)
    for binary in (False, True):  # JSON data and the binary tensor extension
        inputs = []
        for spec in meta["inputs"]:
            t = triton.InferInput(spec["name"], [len(rows)], spec["datatype"])
            t.set_data_from_numpy(
                rows[spec["name"]].to_numpy().astype(dtypes[spec["datatype"]]), binary_data=binary
            )
            inputs.append(t)
        result = client.infer(
            "churn",
            inputs,
            outputs=[triton.InferRequestedOutput("predict_proba", binary_data=False)],
        )
        np.testing.assert_allclose(result.as_numpy("predict_proba"), want, atol=1e-12)
    # A deployed model addressed as a version.
    assert client.get_model_metadata("churn", "1")["versions"] == ["1"]
    assert not client.is_model_ready("churn", "7")


def test_v2_single_tensor_and_errors(server: str, deployed: Workspace, table: pd.DataFrame) -> None:
    rows = table.head(3)[["x", "n"]].fillna(0.0)
    body = {
        "inputs": [
            {"name": "x", "shape": [3], "datatype": "FP64", "data": rows["x"].tolist()},
        ]
    }
    r = httpx.post(f"{server}/v2/models/churn/infer", json=body)
    assert r.status_code == 400 and "missing input(s): n, c, b" in r.json()["error"]
    body["inputs"][0]["shape"] = [4]
    r = httpx.post(f"{server}/v2/models/churn/infer", json=body)
    assert r.status_code == 400 and "holds 4 values" in r.json()["error"]
    r = httpx.post(f"{server}/v2/models/nosuch/infer", json=body)
    assert r.status_code == 404 and "no endpoint named 'nosuch'" in r.json()["error"]


def test_v2_requests_are_logged_at_the_endpoint_sampling_rate(
    server: str, deployed: Workspace, table: pd.DataFrame
) -> None:
    """One draw per request: at a rate of 0.5 about half the V2 requests are logged (a
    second draw would log a quarter)."""
    deployed.endpoints.create("half", log_sampling=0.5)
    dm = deployed.endpoints.deploy("half", "churn").id
    _wait_for(server, "half", {dm})
    meta = httpx.get(f"{server}/v2/models/half").json()
    row = table.head(1)
    body = {
        "inputs": [
            {
                "name": spec["name"],
                "shape": [1],
                "datatype": spec["datatype"],
                "data": [None if pd.isna(v) else v for v in row[spec["name"]].tolist()],
            }
            for spec in meta["inputs"]
        ]
    }
    with httpx.Client(base_url=server) as client:
        for _ in range(300):
            assert client.post("/v2/models/half/infer", json=body).status_code == 200
    deadline = time.monotonic() + 10
    counts = [-1]
    while time.monotonic() < deadline:  # until the log stops growing
        files = list(deployed.prediction_log_dir.glob("half/*.parquet"))
        counts.append(sum(pd.read_parquet(f).shape[0] for f in files))
        if counts[-1] > 0 and counts[-1] == counts[-2]:
            break
        time.sleep(0.5)
    assert 105 <= counts[-1] <= 195, counts  # Binomial(300, 0.5) ± 5 sd; rate² gives ~75


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", f"{VX}/churn:predict", b"{not json", 400, "malformed JSON"),
        ("POST", f"{VX}/churn:predict", b"", 400, "body is empty"),
        ("POST", f"{VX}/churn:predict", b"[" * 50_000 + b"]" * 50_000, 400, "malformed JSON"),
        ("POST", f"{VX}/churn:predict", b'{"rows": []}', 400, "has no 'instances'"),
        ("POST", f"{VX}/churn:predict", b'{"instances": [{"x": 1}]}', 400, "missing field 'n'"),
        ("POST", f"{VX}/nosuch:predict", b'{"instances": [{}]}', 404, "no endpoint named 'nosuch'"),
        ("GET", f"{VX}/churn:predict", b"", 405, "not allowed"),
        ("POST", f"{VX}/churn:explain", b"{}", 400, "has no 'instances'"),
        ("GET", "/nowhere", b"", 404, "no route"),
    ],
)
def test_bad_requests_get_their_status(
    server: str, method: str, path: str, body: bytes, status: int, message: str
) -> None:
    r = httpx.request(method, server + path, content=body)
    assert r.status_code == status
    error = r.json()["error"]
    text = error["message"] if isinstance(error, dict) else error
    assert message in text
    if path.startswith(VX):
        assert error["code"] == status and error["status"]


def test_payload_limit(server: str) -> None:
    big = b'{"instances": [' + b'{"x": 1.0},' * 200_000 + b'{"x": 1.0}]}'
    assert len(big) > 1_572_864
    r = httpx.post(f"{server}{VX}/churn:predict", content=big)
    assert r.status_code == 413


def test_model_that_raises_gives_500_and_the_server_keeps_serving(
    server: str, app: Any, table: pd.DataFrame
) -> None:
    batcher = app.state.endpoints["churn"].deployments["1"].batcher
    original = batcher._predict

    def broken(cols: Any) -> Any:
        raise RuntimeError("disk on fire")

    batcher._predict = broken
    rows = {"instances": _records(table.head(2))}
    r = httpx.post(f"{server}{VX}/churn:predict", json=rows)
    assert r.status_code == 500 and "disk on fire" in r.json()["error"]["message"]
    batcher._predict = original
    assert httpx.post(f"{server}{VX}/churn:predict", json=rows).status_code == 200


def test_split_90_10_over_2000_requests(
    deployed: Workspace, server: str, table: pd.DataFrame, make_classifier: Any, labels: pd.Series
) -> None:
    deployed.models.register("churn", make_classifier(table, labels, 5), input_example=table.head())
    challenger = deployed.endpoints.deploy("churn", "churn@2", traffic_percent=10)
    _wait_for(server, "churn", {"1", challenger.id})
    rows = {"instances": _records(table.head(1))}
    seen: dict[str, int] = {}
    with httpx.Client(base_url=server) as client:
        for _ in range(2000):
            dm = client.post(f"{VX}/churn:predict", json=rows).json()["deployedModelId"]
            seen[dm] = seen.get(dm, 0) + 1
    share = seen.get(challenger.id, 0) / 2000
    assert abs(share - 0.10) <= 0.03, seen
    assert seen.get("1", 0) + seen.get(challenger.id, 0) == 2000


def _wait_for(server: str, endpoint: str, versions: set[str], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(f"{server}/v2/models/{endpoint}")
        if r.status_code == 200 and set(r.json()["versions"]) == versions:
            return
        time.sleep(0.05)
    raise AssertionError(f"the server did not pick up {versions}")


def test_undeploy_and_new_endpoints_without_restart(
    deployed: Workspace, server: str, table: pd.DataFrame
) -> None:
    deployed.endpoints.create("fresh")
    deployed.endpoints.deploy("fresh", "value")
    _wait_for(server, "fresh", {"3"})
    deployed.endpoints.undeploy("fresh", "3")
    deadline = time.monotonic() + 10
    while (
        httpx.post(
            f"{server}{VX}/fresh:predict", json={"instances": _records(table.head(1))}
        ).status_code
        != 404
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_management_routes_need_a_token(deployed: Workspace, server: str) -> None:
    r = httpx.post(f"{server}{VX}", json={"name": "other"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    secret = deployed.tokens.create("ci")
    time.sleep(0.3)  # one poll
    auth = {"Authorization": f"Bearer {secret}"}
    r = httpx.post(f"{server}{VX}", json={"name": "other"}, headers=auth)
    assert r.status_code == 200, r.text
    r = httpx.post(
        f"{server}{VX}/other:deployModel", json={"deployedModel": {"model": "churn"}}, headers=auth
    )
    assert r.status_code == 200 and r.json()["deployedModel"]["model"] == "churn@1"
    dm = r.json()["deployedModel"]["id"]
    r = httpx.patch(f"{server}{VX}/other", json={"trafficSplit": {dm: 50}}, headers=auth)
    assert r.status_code == 400 and "sum to 50" in r.json()["error"]["message"]
    r = httpx.get(f"{server}{VX}/other")
    assert r.status_code == 200 and r.json()["trafficSplit"] == {dm: 100}
    assert httpx.delete(f"{server}{VX}/other", headers=auth).status_code == 409
    assert httpx.delete(f"{server}{VX}/other?force=true", headers=auth).status_code == 200
    deployed.tokens.revoke("ci")
    time.sleep(0.3)
    assert httpx.post(f"{server}{VX}", json={"name": "again"}, headers=auth).status_code == 401


def test_prediction_can_require_a_token(
    deployed: Workspace, table: pd.DataFrame, run_app: Any
) -> None:
    from pmle.server.app import PmleApp

    secret = deployed.tokens.create("app")
    rows = {"instances": _records(table.head(1))}
    with run_app(PmleApp(deployed, require_token=True, poll_s=0.1)) as url:
        assert httpx.post(f"{url}{VX}/churn:predict", json=rows).status_code == 401
        ok = httpx.post(
            f"{url}{VX}/churn:predict", json=rows, headers={"Authorization": f"Bearer {secret}"}
        )
        assert ok.status_code == 200
        viewer = deployed.tokens.create("reader", role="viewer")
        time.sleep(0.3)  # a few polls
        as_viewer = {"Authorization": f"Bearer {viewer}"}
        ok = httpx.post(f"{url}{VX}/churn:predict", json=rows, headers=as_viewer)
        assert ok.status_code == 200, ok.text
        r = httpx.post(f"{url}{VX}", json={"name": "nope"}, headers=as_viewer)
        assert r.status_code == 403 and "editor" in r.json()["error"]["message"]
        assert httpx.get(f"{url}{VX}/churn").status_code == 200
        assert [t.role for t in deployed.tokens.list()] == ["editor", "viewer"]


def test_a_token_role_must_be_known(ws: Workspace) -> None:
    from pmle.errors import InvalidInput

    with pytest.raises(InvalidInput, match="unknown token role"):
        ws.tokens.create("x", role="admin")
    assert ws.tokens.list() == []


def test_metrics_health_and_counters(deployed: Workspace, server: str, table: pd.DataFrame) -> None:
    assert httpx.get(f"{server}/health").json() == {"ready": True}
    assert httpx.get(f"{server}/v2/health/live").status_code == 200
    rows = {"instances": _records(table.head(3))}
    for _ in range(5):
        httpx.post(f"{server}{VX}/churn:predict", json=rows)
    httpx.post(f"{server}{VX}/churn:predict", json={"instances": [{"x": "?"}]})
    text = httpx.get(f"{server}/metrics").text
    assert (
        'pmle_requests_total{endpoint="churn",deployed_model="1",protocol="vertex",code="200"} 5'
        in text
    )
    assert 'code="400"} 1' in text
    assert 'pmle_predicted_rows_total{endpoint="churn",deployed_model="1"} 15' in text
    assert "pmle_request_duration_seconds_bucket" in text and "pmle_batch_rows_bucket" in text
    deadline = time.monotonic() + 10
    while deployed.endpoints.get("churn").deployed("1").request_count < 6:
        assert time.monotonic() < deadline, "counters never reached the metadata store"
        time.sleep(0.1)
    stats = deployed.endpoints.get("churn").deployed("1").to_dict()["stats"]
    assert stats["requests"] == 6 and stats["errors"] == 1 and stats["rows"] == 15


def test_concurrent_requests_are_batched(
    server: str, deployed: Workspace, table: pd.DataFrame
) -> None:
    rows = _records(table.head(64))
    want = deployed.models.load("value").predict(table.head(64))
    results: dict[int, float] = {}

    def one(i: int) -> None:
        with httpx.Client() as c:
            r = c.post(f"{server}/v1/models/value:predict", json={"instances": [rows[i]]})
            results[i] = r.json()["predictions"][0]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_allclose([results[i] for i in range(64)], want, atol=1e-12)


def test_compiled_deployment_over_http(
    deployed: Workspace, server: str, table: pd.DataFrame
) -> None:
    secret = deployed.tokens.create("ops")
    time.sleep(0.3)
    auth = {"Authorization": f"Bearer {secret}"}
    spec = {"deployedModel": {"model": "value", "compile": True}}
    r = httpx.post(f"{server}{VX}/value:deployModel", json=spec, headers=auth)
    assert r.status_code == 200 and r.json()["deployedModel"]["compile"] is True
    dm = r.json()["deployedModel"]["id"]
    _wait_for(server, "value", {"2", dm}, timeout=60)
    rows = table.head(30)
    r = httpx.post(
        f"{server}/v2/models/value/versions/{dm}/infer",
        json={
            "inputs": [
                {
                    "name": "x",
                    "shape": [30],
                    "datatype": "FP64",
                    "data": [None if np.isnan(v) else v for v in rows.x],
                },
                {"name": "n", "shape": [30], "datatype": "INT64", "data": rows.n.tolist()},
                {"name": "c", "shape": [30], "datatype": "BYTES", "data": rows.c.tolist()},
                {"name": "b", "shape": [30], "datatype": "BOOL", "data": rows.b.tolist()},
            ]
        },
    )
    assert r.status_code == 200, r.text
    got = r.json()["outputs"][0]["data"]
    np.testing.assert_allclose(got, deployed.models.load("value").predict(rows), atol=1e-12)
    assert list((deployed.state_dir / "cache" / "compiled").glob("*.o"))  # lleaves machine code
    bad = {"deployedModel": {"model": "value", "compile": "yes"}}
    assert httpx.post(f"{server}{VX}/value:deployModel", json=bad, headers=auth).status_code == 400


def test_hundred_numeric_rows_give_the_booster_numbers_byte_for_byte(
    deployed: Workspace, server: str, table: pd.DataFrame, labels: pd.Series
) -> None:
    """Many all-numeric instances take the fast paths (rows packed in C, a request that
    fills a batch alone, predictions written as JSON text): the answer is the bytes the
    booster's own numbers give, with and without compiled trees, logged as before."""
    import json

    import lightgbm as lgb
    import orjson

    numeric = table[["x", "n", "b"]]
    model = lgb.LGBMClassifier(n_estimators=30, num_leaves=7, verbose=-1, num_threads=1)
    deployed.models.register("num", model.fit(numeric, labels), input_example=numeric.head())
    booster = deployed.models.load("num").native
    deployed.endpoints.create("num", log_sampling=1.0)
    dm = deployed.endpoints.deploy("num", "num").id  # batches of 64 rows: 100 fill one alone
    deployed.endpoints.create("numc")
    dmc = deployed.endpoints.deploy("numc", "num", compile=True).id
    _wait_for(server, "num", {dm})
    _wait_for(server, "numc", {dmc}, timeout=60)

    def expected(rows: list[dict[str, Any]]) -> bytes:
        x = np.array([[r["x"], r["n"], r["b"]] for r in rows], dtype="float64")
        p = np.asarray(booster.predict(x))
        scores = np.stack([1.0 - p, p], axis=1).tolist()
        body = {
            "predictions": [{"classes": ["no", "yes"], "scores": s} for s in scores],
            "deployedModelId": dm,
            "model": "projects/demo/locations/local/models/num",
            "modelDisplayName": "num",
            "modelVersionId": "1",
        }
        return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)

    dense = _records(numeric.fillna(0.25).head(100))  # numbers only: rows packed by struct
    sparse = _records(numeric.head(100))  # nulls: numpy reads the rows
    for rows in (dense, sparse):
        r = httpx.post(f"{server}{VX}/num:predict", json={"instances": rows})
        assert r.status_code == 200 and r.content == expected(rows)
        assert r.headers["x-vertex-ai-deployed-model-id"] == dm
        # NaN written as such (the lenient parser reads it) gives the same answer as null
        nan = json.dumps({"instances": [{**r, "x": r["x"] or float("nan")} for r in rows]})
        assert httpx.post(f"{server}{VX}/num:predict", content=nan).content == r.content
        raw = httpx.post(f"{server}{VX}/num:rawPredict", json=rows)
        want = {"predictions": json.loads(expected(rows))["predictions"]}
        assert raw.status_code == 200 and raw.json() == want
        # compiled trees: the same shape, the same numbers to the last bits of a double
        c = httpx.post(f"{server}{VX}/numc:predict", json={"instances": rows}).json()
        got = np.array([p["scores"] for p in c["predictions"]])
        want_scores = np.array([p["scores"] for p in json.loads(expected(rows))["predictions"]])
        np.testing.assert_allclose(got, want_scores, rtol=0, atol=1e-12)
    bad = [*dense[:50], {"x": 1.0, "b": True}, *dense[51:]]
    r = httpx.post(f"{server}{VX}/num:predict", json={"instances": bad})
    assert r.status_code == 400 and "instance 50: missing field 'n'" in r.json()["error"]["message"]
    # every 100-row request was logged, each prediction an object as before
    deadline = time.monotonic() + 10
    while True:
        files = list(deployed.prediction_log_dir.glob("num/*.parquet"))
        logged = sum(pd.read_parquet(f).shape[0] for f in files)
        if logged >= 600:
            break
        assert time.monotonic() < deadline, f"{logged} rows logged"
        time.sleep(0.1)
    first = pd.read_parquet(sorted(files)[0]).iloc[0]
    assert json.loads(first["prediction"]) == json.loads(expected(dense))["predictions"][0]
