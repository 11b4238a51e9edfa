from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes

from pmle.automl import AutoMLClassifier, AutoMLRegressor

pytestmark = pytest.mark.slow


def test_the_scikit_learn_contract() -> None:
    est = AutoMLClassifier(time_budget=3, objective="minimize-log-loss", seed=1, n_jobs=2)
    assert est.get_params() == {
        "time_budget": 3,
        "objective": "minimize-log-loss",
        "seed": 1,
        "n_jobs": 2,
    }
    copy = clone(est)
    assert copy is not est and copy.get_params() == est.get_params()
    copy.set_params(time_budget=4)
    assert copy.time_budget == 4 and est.time_budget == 3
    assert not hasattr(est, "model_")  # no work in __init__


def test_classifier_fit_predict_score() -> None:
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    est = AutoMLClassifier(time_budget=3, n_jobs=2).fit(x, y)
    assert list(est.classes_) == [0, 1]
    assert est.predict_proba(x.head(10)).shape == (10, 2)
    assert est.score(x, y) > 0.95
    assert est.n_features_in_ == x.shape[1]
    assert clone(est).get_params()["time_budget"] == 3


def test_regressor_on_numpy_input() -> None:
    x, y = load_diabetes(return_X_y=True)
    est = AutoMLRegressor(time_budget=3, n_jobs=2).fit(x, y)
    assert est.predict(x).shape == (len(y),)
    assert est.score(x, y) > 0.3
    assert isinstance(est.leaderboard_, list) and est.leaderboard_


def test_sample_weight_is_used() -> None:
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    w = np.where(y == 1, 1.0, 3.0)
    est = AutoMLClassifier(time_budget=3, n_jobs=2).fit(x, y, sample_weight=w)
    assert isinstance(est.predict(pd.DataFrame(x.head(3))), np.ndarray)
