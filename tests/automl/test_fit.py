"""AutoML end to end on real data (the shipped churn table, scikit-learn's bundled data)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine

from pmle.automl.fit import fit_automl, parse_budget
from pmle.errors import InvalidInput

pytestmark = pytest.mark.slow


def _wine() -> pd.DataFrame:
    data = load_wine(as_frame=True)
    return data.frame.assign(target=data.target.map(dict(enumerate(data.target_names))))


def _diabetes() -> pd.DataFrame:
    return load_diabetes(as_frame=True).frame


@pytest.mark.parametrize("objective", ["maximize-au-roc", "minimize-log-loss", "maximize-au-prc"])
def test_binary_objectives_on_churn(churn: pd.DataFrame, objective: str) -> None:
    fit = fit_automl(churn, "churn", objective=objective, budget=4, n_jobs=2)
    assert fit.problem.task == "binary" and fit.objective.name == objective
    proba = fit.model.predict_proba(churn.head(200))
    assert proba.shape == (200, 2) and np.allclose(proba.sum(axis=1), 1)
    labels = fit.model.predict(churn.head(200))
    assert set(labels) <= {"No", "Yes"}
    if objective == "maximize-au-roc":
        assert fit.search.ensemble_score > 0.82  # churn is learnable: AUC well above chance
    scores = [e["score"] for e in fit.leaderboard]
    best_first = sorted(scores, reverse=fit.objective.greater_is_better)
    assert scores == best_first


def test_multiclass_on_wine() -> None:
    frame = _wine()
    fit = fit_automl(frame, "target", budget=4, n_jobs=2)
    assert fit.problem.task == "multiclass" and fit.objective.name == "minimize-log-loss"
    proba = fit.model.predict_proba(frame)
    assert proba.shape == (len(frame), 3)
    accuracy = float(np.mean(fit.model.predict(frame) == frame["target"].to_numpy()))
    assert accuracy > 0.9


@pytest.mark.parametrize("objective", ["minimize-rmse", "minimize-mae", "minimize-rmsle"])
def test_regression_objectives_on_diabetes(objective: str) -> None:
    frame = _diabetes()
    fit = fit_automl(frame, "target", budget=4, objective=objective, n_jobs=2)
    assert fit.problem.task == "regression"
    pred = fit.model.predict(frame)
    baseline = float(np.sqrt(np.mean((frame["target"] - frame["target"].mean()) ** 2)))
    rmse = float(np.sqrt(np.mean((frame["target"] - pred) ** 2)))
    assert rmse < 0.9 * baseline  # better than predicting the mean
    if objective == "minimize-rmsle":
        assert fit.model.target_transform == "log1p" and (pred > 0).all()


def test_budget_is_honoured_on_a_real_dataset(churn: pd.DataFrame) -> None:
    start = time.monotonic()
    fit = fit_automl(churn, "churn", budget=8, n_jobs=2)
    wall = time.monotonic() - start
    assert wall <= 8 * 1.10
    assert len(fit.leaderboard) >= 2


def test_messy_columns(churn: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    n = len(churn)
    frame = churn.assign(
        signup=pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D"),
        city=[f"city_{i}" for i in rng.integers(0, 1500, n)],  # high cardinality
        comment=[
            ("please cancel my plan" if c == "Yes" else "happy with the service") + f" ticket {i}"
            for i, c in enumerate(churn["churn"])
        ],
        customer_id=[f"C{i:06d}" for i in range(n)],
    )
    frame.loc[frame.index % 9 == 0, "monthly_charges"] = np.nan
    frame.loc[frame.index % 13 == 0, "contract"] = None
    fit = fit_automl(frame, "churn", budget=5, n_jobs=2)
    assert fit.problem.kinds["signup"] == "datetime"
    assert fit.problem.kinds["comment"] == "text"
    assert fit.problem.kinds["city"] == "categorical"
    assert "customer_id" not in fit.problem.kinds
    # the text column gives the answer away, so the model must have found it
    assert fit.feature_importance["comment"] > 0.3
    assert fit.model.predict_proba(frame.head(50)).shape == (50, 2)


def test_class_weights_and_imbalance(churn: pd.DataFrame) -> None:
    rare = pd.concat([churn[churn["churn"] == "No"], churn[churn["churn"] == "Yes"].head(150)])
    rare = rare.assign(w=np.where(rare["churn"] == "Yes", 5.0, 1.0))
    fit = fit_automl(rare, "churn", budget=4, weight_column="w", n_jobs=2)
    assert "w" not in fit.problem.kinds
    assert fit.search.ensemble_score > 0.75


def test_budget_parsing() -> None:
    assert parse_budget("90s") == 90 and parse_budget("5m") == 300 and parse_budget(60) == 60
    with pytest.raises(InvalidInput, match="too small"):
        parse_budget("1s")
    with pytest.raises(InvalidInput, match="bad budget"):
        parse_budget("soon")


def test_catboost_members_round_trip(tmp_path: object) -> None:
    import time as _time
    from pathlib import Path

    from pmle.automl import catboost_family
    from pmle.automl.trainer import FitSetup, FoldData
    from pmle.models import load_model, save_model
    from pmle.models.ensemble import EnsembleModel, Member
    from pmle.models.signature import infer_signature
    from pmle.models.transforms import FeatureTransform

    assert catboost_family.available(), "catboost is part of the dev extra"
    frame = _wine().assign(band=lambda f: np.where(f["alcohol"] > 13, "high", "low"))
    features = frame.drop(columns=["target"])
    kinds = {c: "numeric" for c in features.columns} | {"band": "categorical"}
    transform = FeatureTransform.fit(features, kinds)
    x = transform.transform(features)
    classes = sorted(frame["target"].unique())
    y = frame["target"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    model, pred, rounds, cut = catboost_family.fit(
        {"learning_rate": 0.2, "depth": 4},
        FoldData(x, y, x, y),
        FitSetup("multiclass", 3, transform.categorical_features, _time.monotonic() + 120, 2, 0),
    )
    assert rounds >= 1 and not cut
    ensemble = EnsembleModel(
        transform,
        [Member("catboost", model, 1.0)],
        task="multiclass",
        classes=classes,
        input_signature=infer_signature(features),
    )
    np.testing.assert_allclose(ensemble.predict_proba(features), pred, atol=1e-9)
    folder = save_model(ensemble, Path(str(tmp_path)) / "m", signature=ensemble.input_signature)
    assert (folder / "members" / "m0.cbm").is_file()
    loaded = load_model(folder)
    np.testing.assert_array_equal(loaded.predict_proba(features), ensemble.predict_proba(features))


def test_a_busy_machine_still_gets_one_model(churn: pd.DataFrame) -> None:
    """When the budget is gone before the first model finishes (here: spent before the search
    starts, as on a loaded machine), the first model may overrun it instead of failing."""
    fit = fit_automl(churn, "churn", budget=3, n_jobs=2, started=time.monotonic() - 30)
    assert len(fit.leaderboard) >= 1
    assert fit.model.predict(churn.head(5)).shape == (5,)
