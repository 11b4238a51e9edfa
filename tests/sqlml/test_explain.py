"""ML.EXPLAIN_PREDICT, ML.GLOBAL_EXPLAIN and ML.FEATURE_IMPORTANCE: column names, additivity,
exact linear attributions against an independent fit, TreeSHAP's baseline, TRANSFORM features."""

from __future__ import annotations

import numpy as np
import pytest

from pmle.errors import InvalidInput
from pmle.workspace import Workspace

COLUMNS = [
    "top_feature_attributions",
    "baseline_prediction_value",
    "prediction_value",
    "approximation_error",
]


def _total(row: dict) -> float:  # type: ignore[type-arg]
    return sum(a["attribution"] for a in row)


def test_boosted_tree_tree_shap(penguins_ws: Workspace) -> None:
    ws = penguins_ws
    ws.sql(
        "CREATE MODEL bt OPTIONS(model_type='BOOSTED_TREE_CLASSIFIER', "
        "input_label_cols=['species'], enable_global_explain=TRUE) AS "
        "SELECT species, island, bill_length_mm, bill_depth_mm, flipper_length_mm FROM penguins"
    )
    out = ws.sql(
        "SELECT * FROM ML.EXPLAIN_PREDICT(MODEL bt, TABLE penguins, STRUCT(4 AS top_k_features))"
    ).to_pandas()
    assert list(out.columns[:6]) == ["predicted_species", "probability", *COLUMNS]
    assert "species" in out.columns  # input columns pass through
    predicted = ws.sql("SELECT * FROM ML.PREDICT(MODEL bt, TABLE penguins)").to_pandas()
    assert (out["predicted_species"] == predicted["predicted_species"]).all()
    # exact: the four features' attributions add up to the predicted class's raw score
    totals = out["top_feature_attributions"].map(_total)
    assert np.allclose(out["baseline_prediction_value"] + totals, out["prediction_value"])
    assert (out["approximation_error"] == 0).all()
    # the baseline is the expected raw score of the class, the same for every row
    for _, group in out.groupby("predicted_species"):
        assert group["baseline_prediction_value"].nunique() == 1
    # the raw scores are the logits of the softmax probabilities
    booster = ws.models.load("bt").native.estimator.booster
    frame = ws.datasets.to_pandas("penguins")
    codes = {"Biscoe": 0.0, "Dream": 1.0, "Torgersen": 2.0}
    x = np.column_stack(
        [
            frame["island"].map(codes),
            frame[["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]].to_numpy(),
        ]
    )
    raw = booster.predict(x, raw_score=True)
    pick = raw.argmax(axis=1)
    assert np.allclose(out["prediction_value"], raw[np.arange(len(raw)), pick])
    top = out["top_feature_attributions"][0]
    assert len(top) == 4 and list(top[0]) == ["feature", "attribution"]
    magnitudes = [abs(a["attribution"]) for a in top]
    assert magnitudes == sorted(magnitudes, reverse=True)

    overall = ws.sql("SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL bt)").to_pandas()
    assert list(overall.columns) == ["feature", "attribution"]
    assert set(overall["feature"]) == {
        "island",
        "bill_length_mm",
        "bill_depth_mm",
        "flipper_length_mm",
    }
    assert overall["attribution"].is_monotonic_decreasing
    by_class = ws.sql(
        "SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL bt, STRUCT(TRUE AS class_level_explain))"
    ).to_pandas()
    assert list(by_class.columns) == ["class_label", "feature", "attribution"]
    assert set(by_class["class_label"]) == {"Adelie", "Chinstrap", "Gentoo"}


def test_linear_attributions_are_exact(penguins_ws: Workspace) -> None:
    from sklearn.linear_model import LinearRegression

    ws = penguins_ws
    numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]
    query = f"SELECT body_mass_g, {', '.join(numeric)} FROM penguins WHERE body_mass_g IS NOT NULL"
    ws.sql(
        "CREATE MODEL lin OPTIONS(model_type='LINEAR_REG', input_label_cols=['body_mass_g']) "
        f"AS {query}"
    )
    out = ws.sql(
        f"SELECT * FROM ML.EXPLAIN_PREDICT(MODEL lin, ({query}), STRUCT(3 AS top_k_features))"
    ).to_pandas()
    assert list(out.columns[:5]) == ["predicted_body_mass_g", *COLUMNS]
    frame = ws.datasets.to_pandas("penguins").dropna(subset=["body_mass_g"])
    x = frame[numeric].to_numpy()
    fit = LinearRegression().fit(x, frame["body_mass_g"])
    expected = fit.coef_ * (x - x.mean(axis=0))  # w · (x − training mean)
    for i in (0, 50, 200):
        got = {a["feature"]: a["attribution"] for a in out["top_feature_attributions"][i]}
        assert np.allclose([got[c] for c in numeric], expected[i], rtol=1e-6, atol=1e-6)
    # the baseline is the prediction at the mean: the mean body mass
    assert np.allclose(out["baseline_prediction_value"], frame["body_mass_g"].mean())
    assert np.allclose(out["prediction_value"], out["predicted_body_mass_g"])
    # global explanations need the option, or rows
    with pytest.raises(InvalidInput, match="enable_global_explain=TRUE"):
        ws.sql("SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL lin)")
    on_rows = ws.sql(f"SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL lin, ({query}))").to_pandas()
    assert on_rows["attribution"][0] == pytest.approx(np.abs(expected).mean(axis=0).max(), rel=1e-6)
    with pytest.raises(InvalidInput, match="boosted tree and random forest"):
        ws.sql("SELECT * FROM ML.FEATURE_IMPORTANCE(MODEL lin)")
    with pytest.raises(InvalidInput, match="top_k_features"):
        ws.sql(
            f"SELECT * FROM ML.EXPLAIN_PREDICT(MODEL lin, ({query}), STRUCT(0 AS top_k_features))"
        )


def test_dnn_sampled_shapley_with_transform(penguins_ws: Workspace) -> None:
    ws = penguins_ws
    ws.sql(
        "CREATE MODEL net TRANSFORM(bill_length_mm / 10 AS bill_cm, ML.STANDARD_SCALER("
        "flipper_length_mm) OVER() AS flipper, island, sex, is_male) "
        "OPTIONS(model_type='DNN_CLASSIFIER', input_label_cols=['is_male'], hidden_units=[8], "
        "learn_rate=0.01, batch_size=32, max_iterations=30, enable_global_explain=TRUE) AS "
        "SELECT sex = 'male' AS is_male, * FROM penguins WHERE sex IS NOT NULL"
    )
    rows = "(SELECT * FROM penguins WHERE sex IS NOT NULL LIMIT 40)"
    out = ws.sql(
        f"SELECT * FROM ML.EXPLAIN_PREDICT(MODEL net, {rows}, STRUCT(10 AS top_k_features))"
    ).to_pandas()
    assert list(out.columns[:6]) == ["predicted_is_male", "probability", *COLUMNS]
    # attributions are for the TRANSFORM's outputs
    features = {a["feature"] for a in out["top_feature_attributions"][0]}
    assert features == {"bill_cm", "flipper", "island", "sex"}
    # sampled Shapley on the predicted class's probability adds up exactly
    totals = out["top_feature_attributions"].map(_total)
    assert np.allclose(out["baseline_prediction_value"] + totals, out["prediction_value"])
    assert np.allclose(out["prediction_value"], out["probability"])
    assert (out["approximation_error"] >= 0).all()
    threshold = ws.sql(
        f"SELECT * FROM ML.EXPLAIN_PREDICT(MODEL net, {rows}, STRUCT(0.99 AS threshold))"
    ).to_pandas()
    assert (~threshold["predicted_is_male"]).sum() >= (~out["predicted_is_male"]).sum()
    overall = ws.sql("SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL net)").to_pandas()
    assert set(overall["feature"]) == {"bill_cm", "flipper", "island", "sex"}
    # the reloaded model explains the same way (baseline saved with it)
    ws.sql_session._models.clear()
    again = ws.sql(
        f"SELECT * FROM ML.EXPLAIN_PREDICT(MODEL net, {rows}, STRUCT(10 AS top_k_features))"
    ).to_pandas()
    assert np.allclose(again["prediction_value"], out["prediction_value"])
