"""BOOSTED_TREE_* and RANDOM_FOREST_* through SQL, against LightGBM trained directly with the
mapped parameters; early stopping, feature importance, TRANSFORM, the registry, bad options."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from pmle.errors import InvalidInput
from pmle.sqlml.lexer import SqlSyntaxError
from pmle.workspace import Workspace

FEATURES = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "sex", "year"]


def _label_encoded(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """BigQuery ML's label encoding, built independently: strings → index of the sorted
    categories, NULL → missing."""
    out = []
    for column in columns:
        series = frame[column]
        if series.dtype == object or pd.api.types.is_string_dtype(series):
            cats = sorted(series.dropna().unique())
            out.append(series.map({c: float(i) for i, c in enumerate(cats)}).astype(float))
        else:
            out.append(series.astype(float))
    return np.column_stack(out)


def _base(depth: int, rows: int) -> dict[str, object]:
    return {
        "max_depth": depth,
        "num_leaves": min(2**depth, rows),
        "lambda_l1": 0.0,
        "lambda_l2": 1.0,
        "min_sum_hessian_in_leaf": 1.0,
        "min_data_in_leaf": 1,
        "min_gain_to_split": 0.0,
        "verbose": -1,
        "seed": 0,
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": 1,
    }


def test_boosted_classifier_matches_lightgbm(penguins_ws: Workspace) -> None:
    ws = penguins_ws
    ws.sql(
        "CREATE MODEL bt OPTIONS(model_type='BOOSTED_TREE_CLASSIFIER', "
        "input_label_cols=['species'], early_stop=FALSE) AS "
        f"SELECT species, {', '.join(FEATURES)} FROM penguins"
    )
    out = ws.sql("SELECT * FROM ML.PREDICT(MODEL bt, TABLE penguins)").to_pandas()
    assert list(out.columns[:3]) == ["predicted_species", "predicted_species_probs", "species"]

    frame = ws.datasets.to_pandas("penguins")
    x = _label_encoded(frame, FEATURES)
    y = frame["species"].map({"Adelie": 0, "Chinstrap": 1, "Gentoo": 2}).to_numpy()
    params = {
        **_base(6, len(frame)),
        "objective": "multiclass",
        "num_class": 3,
        "learning_rate": 0.3,
        "bagging_fraction": 1.0,
        "bagging_freq": 0,
        "feature_fraction": 1.0,
        "feature_fraction_bynode": 1.0,
        "boosting": "gbdt",
    }
    booster = lgb.train(params, lgb.Dataset(x, y), num_boost_round=20)
    expected = booster.predict(x)
    got = np.array(
        [
            [{p["label"]: p["prob"] for p in row}[c] for c in ("Adelie", "Chinstrap", "Gentoo")]
            for row in out["predicted_species_probs"]
        ]
    )
    assert np.allclose(got, expected, atol=1e-12)
    assert (
        out["predicted_species"] == np.array(["Adelie", "Chinstrap", "Gentoo"])[expected.argmax(1)]
    ).all()

    info = ws.sql("SELECT * FROM ML.TRAINING_INFO(MODEL bt)").to_pandas()
    assert len(info) == 20 and list(info["iteration"]) == list(range(20))
    assert info["loss"].is_monotonic_decreasing and info["eval_loss"].isna().all()
    assert info["learning_rate"].eq(0.3).all()

    importance = ws.sql("SELECT * FROM ML.FEATURE_IMPORTANCE(MODEL bt)").to_pandas()
    assert list(importance.columns) == [
        "feature",
        "importance_weight",
        "importance_gain",
        "importance_cover",
    ]
    by_feature = importance.set_index("feature")
    splits = dict(zip(FEATURES, booster.feature_importance("split"), strict=True))
    gains = dict(zip(FEATURES, booster.feature_importance("gain"), strict=True))
    for feature in FEATURES:
        assert by_feature.loc[feature, "importance_weight"] == splits[feature]
        if splits[feature]:
            mean_gain = gains[feature] / 2 / splits[feature]  # XGBoost's gain is half
            assert by_feature.loc[feature, "importance_gain"] == pytest.approx(mean_gain)
    assert importance["importance_gain"].is_monotonic_decreasing

    # saved and read back through the registry: the same predictions
    loaded = ws.models.load("bt")
    assert np.allclose(loaded.predict_proba(frame.head(20)), expected[:20], atol=1e-12)


def test_boosted_early_stop_on_churn(ws: Workspace, churn_csv: Path) -> None:
    ws.datasets.import_("churn", churn_csv)
    ws.sql(
        "CREATE MODEL churn_bt OPTIONS(model_type='BOOSTED_TREE_CLASSIFIER', "
        "input_label_cols=['churn'], learn_rate=0.1, max_tree_depth=4, subsample=0.9, "
        "auto_class_weights=TRUE) AS SELECT * FROM churn"
    )
    info = ws.sql("SELECT * FROM ML.TRAINING_INFO(MODEL churn_bt)").to_pandas()
    # 7,043 rows: 20 % are held out and early stopping watches their loss
    assert info["eval_loss"].notna().all()
    progress = -np.diff(info["eval_loss"]) / info["eval_loss"].to_numpy()[:-1]
    assert (progress[:-1] >= 0.01).all()
    assert len(info) == 20 or progress[-1] < 0.01
    evaluation = ws.sql("SELECT * FROM ML.EVALUATE(MODEL churn_bt)").to_pandas()
    assert 0.8 < evaluation["roc_auc"][0] <= 1.0
    roc = ws.sql("SELECT * FROM ML.ROC_CURVE(MODEL churn_bt)").to_pandas()
    assert {"threshold", "recall", "false_positive_rate"} <= set(roc.columns)
    # balanced class weights: both classes weigh the same in total, so churners are
    # predicted far more often than their 27 % share
    predicted = ws.sql(
        "SELECT avg(CASE WHEN predicted_churn = 'Yes' THEN 1 ELSE 0 END) AS share "
        "FROM ML.PREDICT(MODEL churn_bt, TABLE churn)"
    ).to_pandas()["share"][0]
    assert predicted > 0.35


def test_random_forest_matches_lightgbm_rf(penguins_ws: Workspace) -> None:
    ws = penguins_ws
    query = f"SELECT body_mass_g, {', '.join(FEATURES)} FROM penguins WHERE body_mass_g IS NOT NULL"
    ws.sql(
        "CREATE MODEL rf OPTIONS(model_type='RANDOM_FOREST_REGRESSOR', "
        f"input_label_cols=['body_mass_g']) AS {query}"
    )
    frame = ws.datasets.to_pandas("penguins").dropna(subset=["body_mass_g"])
    out = ws.sql(f"SELECT * FROM ML.PREDICT(MODEL rf, ({query}))").to_pandas()
    x = _label_encoded(frame, FEATURES)
    params = {
        **_base(15, len(frame)),  # BigQuery ML's max_tree_depth for forests
        "objective": "regression",
        "boosting": "rf",
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "feature_fraction": 1.0,
        "feature_fraction_bynode": 0.8,
    }
    booster = lgb.train(params, lgb.Dataset(x, frame["body_mass_g"].to_numpy()), 100)
    expected = booster.predict(x)
    assert np.allclose(out["predicted_body_mass_g"], expected, rtol=1e-9)
    info = ws.sql("SELECT * FROM ML.TRAINING_INFO(MODEL rf)").to_pandas()
    assert len(info) == 1  # one BigQuery ML iteration of 100 parallel trees
    assert info["loss"][0] == pytest.approx(np.mean((expected - frame["body_mass_g"]) ** 2))
    evaluation = ws.sql("SELECT * FROM ML.EVALUATE(MODEL rf)").to_pandas()
    assert evaluation["r2_score"][0] > 0.85
    loaded = ws.models.load("rf")
    assert np.allclose(loaded.predict(frame.head(10)), expected[:10], rtol=1e-9)


def test_random_forest_classifier_with_transform(penguins_ws: Workspace) -> None:
    ws = penguins_ws
    ws.sql(
        "CREATE MODEL rfc TRANSFORM(ML.STANDARD_SCALER(bill_length_mm) OVER() AS bill, "
        "bill_depth_mm / 10 AS depth_cm, island, sex = 'male' AS male, species) "
        "OPTIONS(model_type='RANDOM_FOREST_CLASSIFIER', input_label_cols=['species'], "
        "num_parallel_tree=30) AS SELECT * FROM penguins"
    )
    out = ws.sql("SELECT * FROM ML.PREDICT(MODEL rfc, TABLE penguins)").to_pandas()
    assert (out["predicted_species"] == out["species"]).mean() > 0.95
    importance = ws.sql("SELECT * FROM ML.FEATURE_IMPORTANCE(MODEL rfc)").to_pandas()
    # the features are the TRANSFORM's outputs
    assert set(importance["feature"]) == {"bill", "depth_cm", "island", "male"}
    assert importance["importance_weight"].sum() > 30
    loaded = ws.models.load("rfc")
    frame = ws.datasets.to_pandas("penguins")
    assert (loaded.predict(frame) == out["predicted_species"].to_numpy()).all()


def test_dart_and_bad_options(penguins_ws: Workspace) -> None:
    ws = penguins_ws
    ws.sql(
        "CREATE MODEL dart OPTIONS(model_type='BOOSTED_TREE_REGRESSOR', booster_type='dart', "
        "dropout=0.1, max_iterations=5, input_label_cols=['body_mass_g']) AS "
        "SELECT * FROM penguins WHERE body_mass_g IS NOT NULL"
    )
    assert len(ws.sql("SELECT * FROM ML.TRAINING_INFO(MODEL dart)").to_pandas()) == 5
    with pytest.raises(SqlSyntaxError, match="'max_tree_depth' must be at least 1"):
        ws.sql(
            "CREATE MODEL m OPTIONS(model_type='BOOSTED_TREE_CLASSIFIER', max_tree_depth=0, "
            "input_label_cols=['species']) AS SELECT * FROM penguins"
        )
    with pytest.raises(SqlSyntaxError, match="'subsample' must be at most 1"):
        ws.sql(
            "CREATE MODEL m OPTIONS(model_type='RANDOM_FOREST_CLASSIFIER', subsample=1.5, "
            "input_label_cols=['species']) AS SELECT * FROM penguins"
        )
    with pytest.raises(InvalidInput, match="num_parallel_tree"):
        ws.sql(
            "CREATE MODEL m OPTIONS(model_type='BOOSTED_TREE_CLASSIFIER', num_parallel_tree=4, "
            "input_label_cols=['species']) AS SELECT * FROM penguins"
        )
    with pytest.raises(InvalidInput, match="num_parallel_tree is at least 2"):
        ws.sql(
            "CREATE MODEL m OPTIONS(model_type='RANDOM_FOREST_CLASSIFIER', num_parallel_tree=1, "
            "input_label_cols=['species']) AS SELECT * FROM penguins"
        )
    with pytest.raises(SqlSyntaxError, match="max_iterations"):  # not a forest's option
        ws.sql(
            "CREATE MODEL m OPTIONS(model_type='RANDOM_FOREST_CLASSIFIER', max_iterations=5, "
            "input_label_cols=['species']) AS SELECT * FROM penguins"
        )
    with pytest.raises(InvalidInput, match="class_weights names 'Emperor'"):
        ws.sql(
            "CREATE MODEL m OPTIONS(model_type='BOOSTED_TREE_CLASSIFIER', "
            "class_weights=[STRUCT('Emperor', 2.0)], input_label_cols=['species']) AS "
            "SELECT * FROM penguins"
        )
    with pytest.raises(InvalidInput, match="at least two distinct labels"):
        ws.sql(
            "CREATE MODEL m OPTIONS(model_type='RANDOM_FOREST_CLASSIFIER', "
            "input_label_cols=['species']) AS SELECT * FROM penguins WHERE species = 'Adelie'"
        )
