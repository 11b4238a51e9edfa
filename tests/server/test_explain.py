"""Vertex AI `:explain` on the real server: attributions that add up, the outputs asked for,
the deployed model chosen, errors."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest

from pmle.workspace import Workspace

VX = "/v1/projects/demo/locations/local/endpoints"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return list(frame.astype(object).where(pd.notna(frame), None).to_dict(orient="records"))


def _adds_up(attribution: dict[str, Any], atol: float = 1e-9) -> None:
    total = sum(attribution["featureAttributions"].values())
    gap = attribution["instanceOutputValue"] - attribution["baselineOutputValue"]
    assert total == pytest.approx(gap, abs=atol)


def test_explain_a_classifier_with_tree_shap(
    server: str, deployed: Workspace, table: pd.DataFrame
) -> None:
    rows = table.head(6)
    r = httpx.post(f"{server}{VX}/churn:explain", json={"instances": _records(rows)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"explanations", "predictions", "deployedModelId"}
    assert body["deployedModelId"] == "1" and r.headers["x-vertex-ai-deployed-model-id"] == "1"
    model = deployed.models.load("churn")
    np.testing.assert_allclose(
        [p["scores"] for p in body["predictions"]], model.predict_proba(rows), atol=1e-12
    )
    labels = list(model.predict(rows))
    assert len(body["explanations"]) == 6
    for explanation, label in zip(body["explanations"], labels, strict=True):
        (a,) = explanation["attributions"]
        assert a["outputName"] == "logit" and a["outputDisplayName"] == label
        assert a["outputIndex"] == [["no", "yes"].index(label)]
        assert list(a["featureAttributions"]) == ["x", "n", "c", "b"]
        assert "approximationError" not in a
        _adds_up(a)


def test_explain_a_regression_ensemble(server: str, table: pd.DataFrame) -> None:
    r = httpx.post(f"{server}{VX}/value:explain", json={"instances": _records(table.head(3))})
    assert r.status_code == 200, r.text
    body = r.json()
    for explanation, prediction in zip(body["explanations"], body["predictions"], strict=True):
        (a,) = explanation["attributions"]
        assert "outputIndex" not in a and a["outputName"] == "value"
        assert a["instanceOutputValue"] == pytest.approx(prediction["value"], abs=1e-9)
        _adds_up(a)


def test_sampled_shapley_against_the_stored_baseline(
    server: str, deployed: Workspace, table: pd.DataFrame
) -> None:
    body: dict[str, Any] = {
        "instances": _records(table.head(4)),
        "explanationSpecOverride": {"parameters": {"sampledShapleyAttribution": {"pathCount": 6}}},
    }
    r = httpx.post(f"{server}{VX}/churn:explain", json=body)
    assert r.status_code == 400 and "no training dataset" in r.json()["error"]["message"]
    deployed.explanations.baseline("churn@1", method="sampled_shapley", data=table)
    r = httpx.post(f"{server}{VX}/churn:explain", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    for explanation, prediction in zip(out["explanations"], out["predictions"], strict=True):
        (a,) = explanation["attributions"]
        assert a["outputName"] == "scores" and a["approximationError"] >= 0
        k = a["outputIndex"][0]
        assert a["instanceOutputValue"] == pytest.approx(prediction["scores"][k], abs=1e-12)
        _adds_up(a, atol=1e-12)


def test_output_indices_and_top_k(server: str, table: pd.DataFrame) -> None:
    instances = _records(table.head(2))
    params: dict[str, Any] = {"outputIndices": [1, 0]}
    r = httpx.post(
        f"{server}{VX}/churn:explain",
        json={"instances": instances, "explanationSpecOverride": {"parameters": params}},
    )
    assert r.status_code == 200, r.text
    for explanation in r.json()["explanations"]:
        a, b = explanation["attributions"]
        assert (a["outputIndex"], b["outputIndex"]) == ([1], [0])
        assert a["instanceOutputValue"] == pytest.approx(-b["instanceOutputValue"])
    params = {"topK": 2, "treeShapAttribution": {}}
    r = httpx.post(
        f"{server}{VX}/churn:explain",
        json={"instances": instances, "explanationSpecOverride": {"parameters": params}},
    )
    for explanation in r.json()["explanations"]:
        a, b = explanation["attributions"]
        assert a["instanceOutputValue"] >= b["instanceOutputValue"]


def test_deployed_model_id_overrides_the_split(
    server: str, app: Any, deployed: Workspace, table: pd.DataFrame, make_classifier: Any
) -> None:
    labels = pd.Series(np.where(table["n"] > 4, "yes", "no"))
    deployed.models.register("churn", make_classifier(table, labels), input_example=table.head())
    dm = deployed.endpoints.deploy("churn", "churn@2", traffic_percent=0)
    app.state.refresh()
    rows = table.head(3)
    r = httpx.post(
        f"{server}{VX}/churn:explain",
        json={"instances": _records(rows), "deployedModelId": dm.id},
    )
    assert r.status_code == 200, r.text
    assert r.json()["deployedModelId"] == dm.id
    want = deployed.explanations.explain("churn@2", rows)
    got = [e["attributions"][0]["featureAttributions"] for e in r.json()["explanations"]]
    assert got == [e.feature_attributions for e in want]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "has no 'instances'"),
        ({"instances": [{"x": 1.0}]}, 400, "missing field 'n'"),
        ({"instances": [[1.0]]}, 400, "list of 4 values"),
        ({"instances": [{"x": 1}], "deployedModelId": "9"}, 404, "no deployed model '9'"),
        ({"instances": [{"x": 1}], "deployedModelId": 1}, 400, "must be a string"),
        ({"explanationSpecOverride": []}, 400, "must be an object"),
        ({"explanationSpecOverride": {"parameters": {"xraiAttribution": {}}}}, 400, "xrai"),
        (
            {"explanationSpecOverride": {"parameters": {"topK": 0}}},
            400,
            "topK must be at least 1",
        ),
        (
            {"explanationSpecOverride": {"parameters": {"outputIndices": [2]}}},
            400,
            "out of range",
        ),
        (
            {
                "explanationSpecOverride": {
                    "parameters": {"sampledShapleyAttribution": {"pathCount": 51}}
                }
            },
            400,
            "path_count must be an integer from 1 to 50",
        ),
    ],
)
def test_bad_explain_requests(
    server: str, table: pd.DataFrame, body: dict[str, Any], status: int, message: str
) -> None:
    if body and "instances" not in body:
        body = {"instances": _records(table.head(1)), **body}
    r = httpx.post(f"{server}{VX}/churn:explain", json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == status and message in error["message"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (b'{"topK": NaN}', "topK must be an integer, got nan"),
        (b'{"topK": Infinity}', "topK must be an integer, got inf"),
        (b'{"topK": 1.5}', "topK must be an integer"),
        (b'{"sampledShapleyAttribution": {"pathCount": 1e400}}', "pathCount must be an integer"),
        (b'{"sampledShapleyAttribution": {"pathCount": -Infinity}}', "pathCount must be"),
        (b'{"outputIndices": [NaN]}', "an output index must be an integer"),
        (b'{"outputIndices": [1e400]}', "an output index must be an integer"),
        (b'{"sampledShapleyAttribution": []}', "'sampledShapleyAttribution' must be an object"),
        (b'{"treeShapAttribution": [1]}', "'treeShapAttribution' must be an object"),
        (b"[]", "'explanationSpecOverride.parameters' must be an object"),
    ],
)
def test_non_finite_or_malformed_parameters_are_400(
    server: str, table: pd.DataFrame, params: bytes, message: str
) -> None:
    instance = orjson.dumps(_records(table.head(1))[0])
    body = b'{"instances": [%s], "explanationSpecOverride": {"parameters": %s}}' % (
        instance,
        params,
    )
    r = httpx.post(
        f"{server}{VX}/churn:explain", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and message in error["message"]
    # An integral float is an integer; null objects are empty ones.
    params_ok = {"topK": 2.0, "outputIndices": [1.0], "treeShapAttribution": None}
    ok = {
        "instances": _records(table.head(1)),
        "explanationSpecOverride": {"parameters": params_ok},
    }
    assert httpx.post(f"{server}{VX}/churn:explain", json=ok).status_code == 200


def test_a_request_over_the_evaluation_limit_is_400(
    server: str, deployed: Workspace, table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pmle.monitoring import attributions

    deployed.explanations.baseline("churn@1", data=table)
    monkeypatch.setattr(attributions, "MAX_EVALUATIONS", 3 * 10 * 5)
    body: dict[str, Any] = {
        "instances": _records(table.head(6)),
        "explanationSpecOverride": {"parameters": {"sampledShapleyAttribution": {}}},
    }
    r = httpx.post(f"{server}{VX}/churn:explain", json=body)
    assert r.status_code == 400, r.text
    assert "fewer instances or a smaller pathCount" in r.json()["error"]["message"]
    body["instances"] = body["instances"][:5]
    assert httpx.post(f"{server}{VX}/churn:explain", json=body).status_code == 200


def test_explanations_run_on_their_own_threads(
    server: str, app: Any, table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pmle.server import explain_route

    threads: list[str] = []
    to_json = explain_route.attributions_json

    def spy(found: Any, options: Any) -> Any:
        threads.append(threading.current_thread().name)
        return to_json(found, options)

    monkeypatch.setattr(explain_route, "attributions_json", spy)
    for _ in range(3):
        r = httpx.post(f"{server}{VX}/churn:explain", json={"instances": _records(table.head(2))})
        assert r.status_code == 200, r.text
    # The response JSON too is built off the event loop, on the explain pool (not the default
    # pool that refreshes the server's state).
    assert len(threads) == 3 and all(t.startswith("pmle-explain") for t in threads), threads
    assert explain_route._EXPLAINERS[app].admitted == 0


def test_a_full_explain_queue_answers_503(
    server: str, app: Any, deployed: Workspace, table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pmle.server import explain_route

    monkeypatch.setattr(explain_route, "WORKERS", 1)
    monkeypatch.setattr(explain_route, "MAX_WAITING", 1)
    started, release = threading.Event(), threading.Event()
    attribute = deployed.explanations.attribute

    def blocked(*args: Any, **kwargs: Any) -> Any:
        started.set()
        assert release.wait(30)
        return attribute(*args, **kwargs)

    monkeypatch.setattr(deployed.explanations, "attribute", blocked)
    body = {"instances": _records(table.head(1))}
    answers: list[int] = []

    def call() -> None:
        answers.append(httpx.post(f"{server}{VX}/churn:explain", json=body, timeout=60).status_code)

    running = threading.Thread(target=call)
    running.start()
    assert started.wait(30)
    waiting = threading.Thread(target=call)
    waiting.start()
    deadline = time.monotonic() + 30
    while explain_route._EXPLAINERS[app].admitted < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    r = httpx.post(f"{server}{VX}/churn:explain", json=body)
    assert r.status_code == 503, r.text
    error = r.json()["error"]
    assert error["status"] == "UNAVAILABLE" and "busy explaining" in error["message"]
    assert r.headers["retry-after"] == "1"
    # Predictions are still served meanwhile.
    assert httpx.post(f"{server}{VX}/churn:predict", json=body).status_code == 200
    release.set()
    running.join()
    waiting.join()
    assert answers == [200, 200]
    assert explain_route._EXPLAINERS[app].admitted == 0
    assert httpx.post(f"{server}{VX}/churn:explain", json=body).status_code == 200


def test_the_explain_threads_stop_with_the_server(
    run_app: Any, app: Any, table: pd.DataFrame
) -> None:
    from pmle.server import explain_route

    with run_app(app) as url:
        r = httpx.post(f"{url}{VX}/churn:explain", json={"instances": _records(table.head(1))})
        assert r.status_code == 200, r.text
        pool = explain_route._EXPLAINERS[app].pool
        assert pool is not None
    assert app not in explain_route._EXPLAINERS
    with pytest.raises(RuntimeError, match="shutdown"):
        pool.submit(print)


def test_predictions_are_served_while_explaining(
    server: str, deployed: Workspace, table: pd.DataFrame
) -> None:
    deployed.explanations.baseline("value", method="sampled_shapley", data=table)
    many = _records(pd.concat([table] * 4, ignore_index=True))
    done: list[int] = []

    def explain() -> None:
        body = {
            "instances": many,
            "explanationSpecOverride": {
                "parameters": {"sampledShapleyAttribution": {"pathCount": 50}}
            },
        }
        r = httpx.post(f"{server}{VX}/value:explain", json=body, timeout=120)
        done.append(r.status_code)

    worker = threading.Thread(target=explain)
    worker.start()
    answered_meanwhile = 0
    while worker.is_alive():
        r = httpx.post(f"{server}{VX}/churn:predict", json={"instances": many[:2]})
        assert r.status_code == 200
        answered_meanwhile += worker.is_alive()
    worker.join()
    assert done == [200]
    assert answered_meanwhile >= 2  # the attributions were computed off the event loop
