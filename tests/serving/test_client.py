"""`pmle.Endpoint`: the Python client against a real server."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pmle
from pmle.errors import InvalidInput, NotFound, ServerUnavailable, Unauthenticated
from pmle.workspace import Workspace


def test_predict_from_a_dataframe(server: str, deployed: Workspace, table: pd.DataFrame) -> None:
    rows = table.head(6)  # NaNs become nulls on the way
    res = pmle.Endpoint("churn", server).predict(rows)
    assert res.deployed_model_id == "1" and res.model_version_id == "1"
    got = np.array([p["scores"] for p in res.predictions])
    np.testing.assert_allclose(got, deployed.models.load("churn").predict_proba(rows), atol=1e-12)
    one = (
        pmle.Endpoint("value", server)
        .predict({"x": 0.5, "n": 3, "c": "blue", "b": False})
        .predictions
    )
    assert len(one) == 1 and isinstance(one[0]["value"], float)
    assert pmle.Endpoint("churn", server).describe()["trafficSplit"] == {"1": 100}


def test_errors_are_pmle_errors(server: str, deployed: Workspace) -> None:
    with pytest.raises(InvalidInput, match="missing field 'n'"):
        pmle.Endpoint("churn", server).predict([{"x": 1.0}])
    with pytest.raises(NotFound, match="no endpoint named 'nope'"):
        pmle.Endpoint("nope", server).predict([{"x": 1.0}])
    with pytest.raises(InvalidInput, match="cannot send"):
        pmle.Endpoint("churn", server).predict("x=1")


def test_token_and_unreachable_server(
    deployed: Workspace, table: pd.DataFrame, run_app: object
) -> None:
    from pmle.server.app import PmleApp

    secret = deployed.tokens.create("client")
    with run_app(PmleApp(deployed, require_token=True)) as url:  # type: ignore[operator]
        with pytest.raises(Unauthenticated):
            pmle.Endpoint("churn", url).predict(table.head(1))
        assert pmle.Endpoint("churn", url, token=secret).predict(table.head(1)).predictions
    with pytest.raises(ServerUnavailable, match="pmle serve"):
        pmle.Endpoint("churn", url, timeout=2).predict(table.head(1))
