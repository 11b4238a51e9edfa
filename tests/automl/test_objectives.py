from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from pmle.automl.objectives import DEFAULTS, resolve
from pmle.errors import InvalidInput


def test_defaults_and_names_follow_vertex() -> None:
    assert {t: resolve(None, t).name for t in DEFAULTS} == {
        "binary": "maximize-au-roc",
        "multiclass": "minimize-log-loss",
        "regression": "minimize-rmse",
    }
    assert resolve("aucpr", "binary").name == "maximize-au-prc"
    assert resolve("minimize-rmsle", "regression").target_transform == "log1p"
    with pytest.raises(InvalidInput, match="does not apply"):
        resolve("minimize-rmse", "binary")
    with pytest.raises(InvalidInput, match="maximize-au-roc"):
        resolve("accuracy", "binary")


def test_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = np.clip(y * 0.6 + rng.random(300) * 0.4, 0, 1)
    proba = np.column_stack([1 - p, p])
    assert resolve("auc", "binary").score(y, proba) == pytest.approx(metrics.roc_auc_score(y, p))
    assert resolve("logloss", "binary").score(y, proba) == pytest.approx(metrics.log_loss(y, proba))
    assert resolve("aucpr", "binary").score(y, proba) == pytest.approx(
        metrics.average_precision_score(y, p)
    )
    v = rng.random(300) * 10
    w = v + rng.normal(size=300)
    assert resolve("rmse", "regression").score(v, w) == pytest.approx(
        metrics.root_mean_squared_error(v, w)
    )
    assert resolve("mae", "regression").score(v, w) == pytest.approx(
        metrics.mean_absolute_error(v, w)
    )
    assert resolve("rmsle", "regression").score(v, np.abs(w)) == pytest.approx(
        metrics.root_mean_squared_log_error(v, np.abs(w))
    )
    # losses are minimised: a better AUC is a lower loss
    auc = resolve("auc", "binary")
    assert auc.loss(y, proba) < auc.loss(y, proba[:, ::-1])
