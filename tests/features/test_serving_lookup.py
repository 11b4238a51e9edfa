"""A deployment that names feature views: the endpoint takes entity ids, looks the features
up in the online store and predicts — the same prediction as the model called with the same
features directly — and the request log keeps the looked-up values."""

from __future__ import annotations

import time
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from pmle.errors import InvalidInput
from pmle.workspace import Workspace


@pytest.fixture
def shop(ws: Workspace) -> Workspace:
    """Customers' features in a view, a model trained on them, materialized online."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    n = 300
    features = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "ts": pd.Timestamp("2026-02-01") + pd.to_timedelta(rng.integers(0, 86400, n), "s"),
            "spend": rng.gamma(2.0, 50.0, n),
            "visits": rng.integers(0, 30, n),
        }
    )
    ws.datasets.import_("customers", features)
    ws.features.apply(
        {
            "entities": [{"name": "customer", "join_keys": ["customer_id"]}],
            "feature_views": [
                {
                    "name": "profile",
                    "entities": ["customer"],
                    "source": {"dataset": "customers"},
                    "timestamp": "ts",
                    "features": [
                        {"name": "spend", "dtype": "float64"},
                        {"name": "visits", "dtype": "int64"},
                    ],
                }
            ],
        }
    )
    x = features[["spend", "visits"]].assign(discount=rng.uniform(0, 0.3, n))
    y = (x["spend"] * (1 + x["discount"]) + rng.normal(0, 20, n) > 100).astype(int)
    ws.models.register("churn", LogisticRegression().fit(x, y), input_example=x.head())
    ws.features.materialize()
    ws.endpoints.create("shop", log_sampling=1.0)
    ws.endpoints.deploy("shop", "churn", features=["profile"])
    return ws


def test_lookup_predicts_like_the_model_with_the_same_features(shop: Workspace) -> None:
    from pmle.server.app import PmleApp

    ids = [3, 17, 250]
    discounts = [0.1, 0.0, 0.25]
    instances = [{"customer_id": i, "discount": d} for i, d in zip(ids, discounts, strict=True)]
    with _running(PmleApp(shop, poll_s=0.1)) as url:
        vertex = httpx.post(
            f"{url}/v1/projects/p/locations/l/endpoints/shop:predict",
            json={"instances": instances},
        )
        kserve = httpx.post(f"{url}/v1/models/shop:predict", json={"instances": instances})
        missing = httpx.post(f"{url}/v1/models/shop:predict", json={"instances": [{"id": 1}]})
        spoofed = httpx.post(
            f"{url}/v1/models/shop:predict",
            json={"instances": [{"customer_id": 3, "discount": 0.1, "spend": 1e6}]},
        )
        v2 = httpx.post(f"{url}/v2/models/shop/infer", json={"inputs": []})
    assert vertex.status_code == 200, vertex.text
    served = vertex.json()["predictions"]
    # the same model, called directly with the features from the offline source
    frame = shop.datasets.to_pandas("customers").set_index("customer_id").loc[ids]
    direct_x = frame[["spend", "visits"]].assign(discount=discounts)
    model = shop.models.load("churn")
    direct = model.predict_proba(direct_x)
    got = [p["scores"] if isinstance(p, dict) else p for p in served]
    probabilities = [g[1] if isinstance(g, list) else g for g in got]
    assert probabilities == pytest.approx(direct[:, 1].tolist(), abs=1e-9)
    assert kserve.status_code == 200
    assert missing.status_code == 400 and "lacks join key 'customer_id'" in missing.text
    assert spoofed.status_code == 400 and "looks up in the feature store" in spoofed.text
    assert v2.status_code == 400 and "feature store" in v2.text
    # the request log holds the looked-up values
    logged = _wait_for_log(shop)
    row = logged[logged["customer_id"] == 3].iloc[0]
    assert row["spend"] == pytest.approx(frame.loc[3, "spend"])


def test_deploy_checks_the_features(shop: Workspace) -> None:
    with pytest.raises(InvalidInput, match="unknown feature view 'nope'"):
        shop.endpoints.deploy("shop", "churn", features=["nope"])
    shop.features.apply(
        {
            "feature_views": [
                {
                    "name": "extra",
                    "entities": ["customer"],
                    "source": {"sql": "SELECT customer_id, ts, spend AS other FROM customers"},
                    "timestamp": "ts",
                    "features": [{"name": "other", "dtype": "float64"}],
                }
            ]
        }
    )
    with pytest.raises(InvalidInput, match="not an input of churn@1"):
        shop.endpoints.deploy("shop", "churn", features=["extra"])


def _running(app: Any) -> Any:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "pmle_tests_conftest_for_features", Path(__file__).parents[1] / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.running(app)


def _wait_for_log(ws: Workspace) -> pd.DataFrame:
    """The logged instances, as columns (the server flushes its log on shutdown)."""
    deadline = time.monotonic() + 10
    while True:
        table = ws.warehouse.query_arrow("SELECT instance FROM prediction_log").to_pandas()
        if len(table) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    import json

    return pd.DataFrame([json.loads(v) for v in table["instance"]])
