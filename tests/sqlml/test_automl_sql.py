"""AUTOML_CLASSIFIER / AUTOML_REGRESSOR through SQL on pmle's AutoML, with a tiny budget."""

from __future__ import annotations

import numpy as np
import pytest

from pmle.errors import InvalidInput
from pmle.sqlml.families.automl import budget_seconds, objective_name
from pmle.sqlml.options import check_options
from pmle.workspace import Workspace


def _options(**given: object):  # type: ignore[no-untyped-def]
    return check_options({"model_type": "AUTOML_REGRESSOR", **given}, "", {})


def test_budget_and_objective_mapping() -> None:
    assert budget_seconds(_options()) == 60.0  # not BigQuery ML's 1 hour
    assert budget_seconds(_options(budget_hours=0.01)) == pytest.approx(36.0)
    assert budget_seconds(_options(budget_hours=0.0005)) == 3.0  # AutoML's working floor
    assert objective_name(_options()) is None
    assert objective_name(_options(optimization_objective="minimize_mae")) == "minimize-mae"
    with pytest.raises(InvalidInput, match=r"MAXIMIZE_PRECISION_AT_RECALL.*not supported"):
        objective_name(_options(optimization_objective="MAXIMIZE_PRECISION_AT_RECALL"))


def test_automl_classifier_on_penguins(penguins_ws: Workspace) -> None:
    from sklearn.metrics import accuracy_score

    ws = penguins_ws
    ws.sql(
        "CREATE MODEL auto OPTIONS(model_type='AUTOML_CLASSIFIER', input_label_cols=['species'], "
        "budget_hours=0.0005, optimization_objective='MINIMIZE_LOG_LOSS') AS "
        "SELECT * FROM penguins"
    )
    out = ws.sql("SELECT * FROM ML.PREDICT(MODEL auto, TABLE penguins)").to_pandas()
    assert list(out.columns[:2]) == ["predicted_species", "predicted_species_probs"]
    accuracy = accuracy_score(out["species"], out["predicted_species"])
    assert accuracy > 0.9
    evaluation = ws.sql("SELECT * FROM ML.EVALUATE(MODEL auto, TABLE penguins)").to_pandas()
    assert evaluation["accuracy"][0] == pytest.approx(accuracy)
    loaded = ws.models.load("auto")
    assert loaded.native.extra["objective"] == "minimize-log-loss"
    frame = ws.datasets.to_pandas("penguins")
    assert (loaded.predict(frame) == out["predicted_species"].to_numpy()).all()
    probs = np.array([max(p["prob"] for p in row) for row in out["predicted_species_probs"]])
    assert np.allclose(loaded.predict_proba(frame).max(axis=1), probs)
    info = ws.sql("SELECT * FROM ML.TRAINING_INFO(MODEL auto)").to_pandas()
    assert len(info) == 1 and info["loss"][0] > 0
    with pytest.raises(InvalidInput, match=r"ML\.FEATURE_IMPORTANCE applies to boosted tree"):
        ws.sql("SELECT * FROM ML.FEATURE_IMPORTANCE(MODEL auto)")
    with pytest.raises(Exception, match="does not apply to AUTOML_CLASSIFIER"):
        ws.sql(
            "CREATE MODEL m OPTIONS(model_type='AUTOML_CLASSIFIER', data_split_method='RANDOM', "
            "input_label_cols=['species']) AS SELECT * FROM penguins"
        )
