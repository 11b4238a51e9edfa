"""Vertex AI predictions written as JSON text are byte for byte what the objects give."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from pmle.server.protocols import SPLICE_ROWS, vertex_predictions, vertex_predictions_json
from pmle.serving.runtime import Prediction, ServedModel
from pmle.workspace import Workspace

OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS  # the app's response options


def _body(predictions: Any) -> bytes:
    return orjson.dumps({"predictions": predictions, "deployedModelId": "1"}, option=OPTIONS)


def _same(model: Any, pred: Prediction) -> Any:
    fast = vertex_predictions_json(model, pred)
    assert _body(fast) == _body(vertex_predictions(model, pred))
    return fast


def _numbers(n: int, k: int, seed: int) -> np.ndarray:
    """Doubles of every kind: random bit patterns, probabilities, tiny and huge ones."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2**64, size=n * k, dtype=np.uint64).view(np.float64)
    x[::3] = rng.random(len(x[::3]))
    x[1::7] = rng.random(len(x[1::7])) * 1e-300
    return x.reshape(n, k)


@pytest.mark.parametrize("n", [1, SPLICE_ROWS - 1, SPLICE_ROWS, 100, 1000])
@pytest.mark.parametrize("classes", [["no", "yes"], [0, 1, 2], [False, True], [0.5, 1.5, 2.5]])
def test_class_scores(n: int, classes: list[Any]) -> None:
    model = SimpleNamespace(classes=classes)
    proba = _numbers(n, len(classes), seed=n)
    fast = _same(model, Prediction(np.zeros(n, dtype=np.int64), proba))
    assert isinstance(fast, orjson.Fragment) == (n >= SPLICE_ROWS)
    # a batch's share of rows (a view), NaN and infinities (null in JSON)
    proba[n // 2] = [np.nan, np.inf, -np.inf][: len(classes)] + [0.0] * (len(classes) - 3)
    batch = Prediction(np.zeros(3 * n, dtype=np.int64), np.concatenate([proba] * 3))
    _same(model, batch.slice(n, 2 * n))


@pytest.mark.parametrize("n", [SPLICE_ROWS, 257])
def test_values(n: int) -> None:
    model = SimpleNamespace(classes=None)
    values = _numbers(n, 1, seed=n).ravel()
    values[[0, n // 2, n - 1]] = [np.nan, np.inf, -0.0]
    assert isinstance(_same(model, Prediction(values)), orjson.Fragment)
    _same(model, Prediction(values[::2]))  # not contiguous
    with np.errstate(over="ignore"):
        _same(model, Prediction(values.astype(np.float32)))  # other dtypes: the objects
    _same(model, Prediction(np.arange(n)))
    _same(model, Prediction(np.array(["a"] * n, dtype=object)))


def test_other_arrays_give_the_objects() -> None:
    n = 40
    proba = np.random.default_rng(1).random((n, 2))
    model = SimpleNamespace(classes=["no", "yes"])
    for odd in (proba.astype(np.float32), np.asfortranarray(proba), proba[:, ::-1]):
        assert isinstance(_same(model, Prediction(np.zeros(n), odd)), list)


@pytest.mark.parametrize("name", ["churn", "value"])
def test_served_models(deployed: Workspace, table: pd.DataFrame, name: str) -> None:
    served = ServedModel(deployed.models.load(name))
    rows = table.head(100).astype(object).where(pd.notna(table.head(100)), None)
    pred = served.predict(served.columns_from_instances(rows.to_dict(orient="records")))
    assert isinstance(_same(served, pred), orjson.Fragment)
