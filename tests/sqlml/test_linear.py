"""LINEAR_REG and LOGISTIC_REG through SQL, against independent scikit-learn fits; the penguins
tutorial; registry integration; bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pmle.errors import AlreadyExists, InvalidInput, NotFound
from pmle.sqlml.lexer import SqlSyntaxError
from pmle.workspace import Workspace

TUTORIAL = """
CREATE OR REPLACE MODEL `bqml_tutorial.penguins_model`
OPTIONS (model_type='linear_reg', input_label_cols=['body_mass_g']) AS
SELECT * FROM penguins WHERE body_mass_g IS NOT NULL
"""


def _design(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> np.ndarray:
    """The same encoding BigQuery ML uses, built independently with pandas."""
    x = frame[numeric].astype("float64")
    x = x.fillna(x.mean())
    parts = [x.to_numpy()]
    for column in categorical:
        parts.append(pd.get_dummies(frame[column].astype("string")).to_numpy(dtype="float64"))
    return np.hstack(parts)


def test_penguins_tutorial_matches_least_squares(penguins_ws: Workspace) -> None:
    from sklearn.linear_model import LinearRegression

    ws = penguins_ws
    (created,) = ws.sql_session.execute(TUTORIAL)
    assert created.kind == "model" and created.model is not None
    assert created.model.ref == "penguins_model@1"
    evaluation = ws.sql(
        "SELECT * FROM ML.EVALUATE(MODEL `bqml_tutorial.penguins_model`, "
        "(SELECT * FROM penguins WHERE body_mass_g IS NOT NULL))"
    ).to_pandas()
    predicted = ws.sql(
        "SELECT * FROM ML.PREDICT(MODEL `bqml_tutorial.penguins_model`, "
        "(SELECT * FROM penguins WHERE body_mass_g IS NOT NULL))"
    ).to_pandas()
    assert list(predicted.columns[:2]) == ["predicted_body_mass_g", "species"]

    frame = ws.datasets.to_pandas("penguins").dropna(subset=["body_mass_g"])
    numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "year"]
    x = _design(frame, numeric, ["species", "island", "sex"])
    reference = LinearRegression().fit(x, frame["body_mass_g"]).predict(x)
    assert np.allclose(predicted["predicted_body_mass_g"], reference, rtol=1e-6, atol=1e-3)
    r2 = 1 - np.sum((frame["body_mass_g"] - reference) ** 2) / np.sum(
        (frame["body_mass_g"] - frame["body_mass_g"].mean()) ** 2
    )
    assert evaluation["r2_score"][0] == pytest.approx(r2, rel=1e-6)
    # fewer than 500 rows: no split, the stored evaluation is on the training rows
    stored = ws.sql("SELECT * FROM ML.EVALUATE(MODEL penguins_model)").to_pandas()
    assert stored["r2_score"][0] == pytest.approx(r2, rel=1e-6)
    info = ws.sql("SELECT * FROM ML.TRAINING_INFO(MODEL penguins_model)").to_pandas()
    assert list(info.columns) == [
        "training_run",
        "iteration",
        "loss",
        "eval_loss",
        "learning_rate",
        "duration_ms",
    ]

    # a registry model like any other: versions, lineage to the dataset, loadable
    version = ws.models.get("penguins_model")
    assert version.task == "regression"
    loaded = ws.models.load("penguins_model@1")
    assert np.allclose(loaded.predict(frame.head(5)), reference[:5], atol=1e-3)
    graph = ws.lineage.upstream(version.lineage_artifact_id or 0)
    assert "penguins@1" in {a.name for a in graph.artifacts.values()}
    again = ws.sql_session.execute(TUTORIAL)[0]
    assert again.model is not None and again.model.version == 2


def test_logistic_matches_unpenalised_sklearn(penguins_ws: Workspace) -> None:
    from sklearn.linear_model import LogisticRegression

    ws = penguins_ws
    ws.sql(
        "CREATE MODEL species_model OPTIONS(model_type='LOGISTIC_REG', "
        "input_label_cols=['species']) AS "
        "SELECT species, bill_length_mm, bill_depth_mm, flipper_length_mm FROM penguins "
        "WHERE bill_length_mm IS NOT NULL"
    )
    out = ws.sql(
        "SELECT * FROM ML.PREDICT(MODEL species_model, (SELECT * FROM penguins "
        "WHERE bill_length_mm IS NOT NULL))"
    ).to_pandas()
    frame = ws.datasets.to_pandas("penguins").dropna(subset=["bill_length_mm"])
    cols = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]
    x = frame[cols].to_numpy()
    x = (x - x.mean(0)) / x.std(0, ddof=1)
    ref = LogisticRegression(C=np.inf, max_iter=5000).fit(x, frame["species"])  # no penalty
    agree = np.mean(out["predicted_species"].to_numpy() == ref.predict(x))
    assert agree > 0.99
    first = out["predicted_species_probs"][0]
    assert {p["label"] for p in first} == {"Adelie", "Chinstrap", "Gentoo"}
    assert sum(p["prob"] for p in first) == pytest.approx(1.0)
    cm = ws.sql("SELECT * FROM ML.CONFUSION_MATRIX(MODEL species_model)").to_pandas()
    assert list(cm.columns) == ["expected_label", "Adelie", "Chinstrap", "Gentoo"]
    weights = ws.sql("SELECT * FROM ML.WEIGHTS(MODEL species_model)").to_pandas()
    assert set(weights["class_label"]) == {"Adelie", "Chinstrap", "Gentoo"}


def test_binary_threshold_roc_and_composition(penguins_ws: Workspace) -> None:
    ws = penguins_ws
    ws.sql(
        "CREATE MODEL is_male OPTIONS(model_type='logistic_reg', input_label_cols=['male'], "
        "l2_reg=1.0) AS SELECT sex = 'male' AS male, bill_length_mm, bill_depth_mm, "
        "body_mass_g, species FROM penguins WHERE sex IS NOT NULL"
    )
    roc = ws.sql("SELECT * FROM ML.ROC_CURVE(MODEL is_male)").to_pandas()
    assert {"threshold", "recall", "false_positive_rate"} <= set(roc.columns)
    # composable: CTEs, joins and two ML functions in one query
    joined = ws.sql(
        """WITH rows AS (SELECT *, sex = 'male' AS male FROM penguins WHERE sex IS NOT NULL)
        SELECT e.accuracy AS strict_accuracy, d.accuracy AS default_accuracy,
               (SELECT count(*) FROM ML.PREDICT(MODEL is_male, (SELECT * FROM rows),
                                                STRUCT(0.9 AS threshold))
                WHERE predicted_male) AS confident_males
        FROM ML.EVALUATE(MODEL is_male, (SELECT * FROM rows), STRUCT(0.9 AS threshold)) e,
             ML.EVALUATE(MODEL is_male, (SELECT * FROM rows)) d"""
    ).to_pandas()
    row = joined.iloc[0]
    all_males = ws.sql(
        "SELECT count(*) n FROM ML.PREDICT(MODEL is_male, (SELECT * FROM penguins "
        "WHERE sex IS NOT NULL)) WHERE predicted_male"
    ).to_pandas()["n"][0]
    assert 0 < row["confident_males"] < all_males
    assert 0.5 < row["default_accuracy"] <= 1.0


def test_bad_input(penguins_ws: Workspace) -> None:
    ws = penguins_ws
    with pytest.raises(SqlSyntaxError, match=r"unknown option 'l2_regg'.*did you mean l2_reg"):
        ws.sql(
            "CREATE MODEL m OPTIONS(model_type='linear_reg', l2_regg=1, "
            "input_label_cols=['body_mass_g']) AS SELECT * FROM penguins"
        )
    with pytest.raises(SqlSyntaxError, match="unknown model_type 'linear_regression'"):
        ws.sql("CREATE MODEL m OPTIONS(model_type='linear_regression') AS SELECT 1")
    with pytest.raises(SqlSyntaxError, match="does not apply to KMEANS"):
        ws.sql("CREATE MODEL m OPTIONS(model_type='kmeans', l1_reg=1) AS SELECT 1")
    with pytest.raises(InvalidInput, match="label column 'label' is missing"):
        ws.sql("CREATE MODEL m OPTIONS(model_type='linear_reg') AS SELECT * FROM penguins")
    with pytest.raises(NotFound, match="no model named 'nope'"):
        ws.sql("SELECT * FROM ML.PREDICT(MODEL nope, TABLE penguins)")
    ws.sql(TUTORIAL)
    with pytest.raises(InvalidInput, match=r"lacks column.*flipper_length_mm"):
        ws.sql(
            "SELECT * FROM ML.PREDICT(MODEL penguins_model, "
            "(SELECT * EXCLUDE (flipper_length_mm) FROM penguins))"
        )
    with pytest.raises(AlreadyExists):
        ws.sql(TUTORIAL.replace("CREATE OR REPLACE", "CREATE"))
    skipped = ws.sql_session.execute(TUTORIAL.replace("OR REPLACE MODEL", "MODEL IF NOT EXISTS"))
    assert skipped[0].kind == "skipped"
    # CREATE OR REPLACE replaces: `MODEL name` reads the new version, the old one is kept
    replaced = ws.sql_session.execute(TUTORIAL)[0].model
    assert replaced is not None and replaced.version == 2
    assert ws.models.get("penguins_model").version == 2
    assert [v.version for v in ws.models.versions("penguins_model")] == [1, 2]
    assert ws.sql_session.execute("DROP MODEL bqml_tutorial.penguins_model")[0].kind == "dropped"
    with pytest.raises(NotFound):
        ws.models.get("penguins_model")
    assert ws.sql_session.execute("DROP MODEL IF EXISTS penguins_model")[0].kind == "skipped"


def test_l2_logistic_matches_sklearn_and_unsupported_options(penguins_ws: Workspace) -> None:
    from sklearn.linear_model import LogisticRegression

    ws = penguins_ws
    ws.sql(
        "CREATE MODEL ridge_species OPTIONS(model_type='LOGISTIC_REG', l2_reg=5.0, "
        "input_label_cols=['species'], vertex_ai_model_version_aliases=['candidate']) AS "
        "SELECT species, bill_length_mm, bill_depth_mm FROM penguins "
        "WHERE bill_length_mm IS NOT NULL"
    )
    out = ws.sql(
        "SELECT * FROM ML.PREDICT(MODEL ridge_species, (SELECT * FROM penguins "
        "WHERE bill_length_mm IS NOT NULL))"
    ).to_pandas()
    frame = ws.datasets.to_pandas("penguins").dropna(subset=["bill_length_mm"])
    x = frame[["bill_length_mm", "bill_depth_mm"]].to_numpy()
    x = (x - x.mean(0)) / x.std(0, ddof=1)
    # Σ log loss + l2·|w|²  ⇔  scikit-learn's C = 1 / (2·l2)
    ref = LogisticRegression(C=1 / 10.0, max_iter=5000).fit(x, frame["species"])
    probs = [max(p["prob"] for p in row) for row in out["predicted_species_probs"]]
    assert np.allclose(probs, ref.predict_proba(x).max(axis=1), atol=1e-4)
    assert ws.models.get("ridge_species@candidate").version == 1
    for option in ("warm_start=TRUE", "category_encoding_method='DUMMY_ENCODING'"):
        with pytest.raises(InvalidInput, match="does not support"):
            ws.sql(
                f"CREATE MODEL bad OPTIONS(model_type='LOGISTIC_REG', {option}, "
                "input_label_cols=['species']) AS SELECT species, bill_length_mm FROM penguins"
            )


def test_label_checks_on_evaluation_rows(penguins_ws: Workspace) -> None:
    ws = penguins_ws
    ws.sql(
        "CREATE MODEL heavy OPTIONS(model_type='logistic_reg', input_label_cols=['heavy']) AS "
        "SELECT CAST(body_mass_g > 4000 AS INTEGER) AS heavy, flipper_length_mm FROM penguins "
        "WHERE body_mass_g IS NOT NULL"
    )
    rows = "(SELECT flipper_length_mm FROM penguins WHERE body_mass_g IS NOT NULL)"
    with pytest.raises(InvalidInput, match="lack the label column 'heavy'"):
        ws.sql(f"SELECT * FROM ML.ROC_CURVE(MODEL heavy, {rows}, [0.3, 0.5])")
    # a DOUBLE label column matches the integer classes by value
    as_double = ws.sql(
        "SELECT * FROM ML.EVALUATE(MODEL heavy, (SELECT CAST(body_mass_g > 4000 AS DOUBLE) "
        "AS heavy, flipper_length_mm FROM penguins WHERE body_mass_g IS NOT NULL))"
    ).to_pandas()
    assert as_double["accuracy"][0] > 0.7
    with pytest.raises(InvalidInput, match="no evaluation row has one of the model's labels"):
        ws.sql(
            "SELECT * FROM ML.EVALUATE(MODEL heavy, (SELECT 7 AS heavy, flipper_length_mm "
            "FROM penguins WHERE body_mass_g IS NOT NULL))"
        )
    with pytest.raises(InvalidInput, match="predicts a number"):
        ws.sql(
            "CREATE MODEL wrong OPTIONS(model_type='linear_reg', input_label_cols=['species']) "
            "AS SELECT species, flipper_length_mm FROM penguins"
        )
