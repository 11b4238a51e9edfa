"""ML.VALIDATE_DATA_SKEW and ML.VALIDATE_DATA_DRIFT: BigQuery ML's output and settings, with
the distances checked against independent computations (SciPy's Jensen–Shannon distance,
plain frequency differences)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon

from pmle.errors import InvalidInput
from pmle.sqlml.validate import STATS_KEY
from pmle.workspace import Workspace

COLUMNS = ["input", "metric", "threshold", "value", "is_anomaly"]


def _table(n: int, seed: int, shift: float = 0.0, plan_share: float = 0.5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "usage": rng.normal(10 + shift, 2, n),
            "plan": np.where(rng.random(n) < plan_share, "basic", "pro"),
            "active": rng.random(n) < 0.7,
            "label": rng.integers(0, 2, n),
        }
    )


@pytest.fixture
def drift_ws(ws: Workspace) -> Workspace:
    ws.datasets.import_("train_rows", _table(2000, 1))
    ws.datasets.import_("same_rows", _table(1000, 2))
    ws.datasets.import_("moved_rows", _table(1000, 3, shift=3.0, plan_share=0.1))
    ws.sql(
        "CREATE MODEL m OPTIONS(model_type='logistic_reg', input_label_cols=['label']) "
        "AS SELECT * FROM train_rows"
    )
    return ws


def _by_input(frame: pd.DataFrame) -> dict[str, dict]:
    return {row["input"]: row for row in frame.to_dict(orient="records")}


def test_skew_compares_with_training_statistics(drift_ws: Workspace) -> None:
    ws = drift_ws
    quiet = ws.sql("SELECT * FROM ML.VALIDATE_DATA_SKEW(MODEL m, TABLE same_rows)").to_pandas()
    assert list(quiet.columns) == COLUMNS
    rows = _by_input(quiet)
    assert set(rows) == {"usage", "plan", "active"}  # the label is not a feature
    assert rows["usage"]["metric"] == "JENSEN_SHANNON_DIVERGENCE"
    assert rows["plan"]["metric"] == rows["active"]["metric"] == "L_INFTY"
    assert not quiet["is_anomaly"].any() and (quiet["threshold"] == 0.3).all()

    moved = ws.sql(
        "SELECT * FROM ML.VALIDATE_DATA_SKEW(MODEL m, (SELECT * FROM moved_rows))"
    ).to_pandas()
    rows = _by_input(moved)
    assert rows["usage"]["is_anomaly"] and rows["plan"]["is_anomaly"]
    assert not rows["active"]["is_anomaly"]

    # the values, computed independently from the training rows
    train = ws.datasets.to_pandas("train_rows")
    serving = ws.datasets.to_pandas("moved_rows")
    p = train["plan"].value_counts(normalize=True)
    q = serving["plan"].value_counts(normalize=True).reindex(p.index, fill_value=0)
    assert rows["plan"]["value"] == pytest.approx(float((p - q).abs().max()))
    edges = np.quantile(train["usage"], np.linspace(0, 1, 11)[1:-1])
    bins = np.concatenate([[-np.inf], edges, [np.inf]])
    base = np.histogram(train["usage"], bins)[0]
    now = np.histogram(serving["usage"], bins)[0]
    assert rows["usage"]["value"] == pytest.approx(jensenshannon(base, now, base=2) ** 2)


def test_skew_settings(drift_ws: Workspace) -> None:
    ws = drift_ws
    out = ws.sql(
        "SELECT * FROM ML.VALIDATE_DATA_SKEW(MODEL m, TABLE same_rows, STRUCT("
        "0.001 AS categorical_default_threshold, 0.9 AS numerical_default_threshold, "
        "'JENSEN_SHANNON_DIVERGENCE' AS categorical_metric_type, "
        "[STRUCT('active', 0.5)] AS thresholds))"
    ).to_pandas()
    rows = _by_input(out)
    assert rows["plan"]["metric"] == "JENSEN_SHANNON_DIVERGENCE"
    assert rows["plan"]["threshold"] == 0.001 and rows["usage"]["threshold"] == 0.9
    assert rows["active"]["threshold"] == 0.5
    assert rows["plan"]["is_anomaly"] == (rows["plan"]["value"] > 0.001)
    # the result is a table like any other
    flagged = ws.sql(
        "SELECT input FROM ML.VALIDATE_DATA_SKEW(MODEL m, TABLE moved_rows) "
        "WHERE is_anomaly ORDER BY input"
    ).to_pandas()
    assert flagged["input"].tolist() == ["plan", "usage"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("STRUCT(0.2 AS categorical_threshold)", "no setting 'categorical_threshold'"),
        ("STRUCT(1.5 AS numerical_default_threshold)", "must be a number in [0, 1]"),
        ("STRUCT('L_INFTY' AS numerical_metric_type)", "JENSEN_SHANNON_DIVERGENCE"),
        ("STRUCT([STRUCT('nope', 0.2)] AS thresholds)", "'nope', which is not"),
        ("STRUCT(['usage'] AS thresholds)", "ARRAY of STRUCT"),
    ],
)
def test_skew_bad_settings(drift_ws: Workspace, settings: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[")):
        drift_ws.sql(f"SELECT * FROM ML.VALIDATE_DATA_SKEW(MODEL m, TABLE same_rows, {settings})")


def test_skew_statistics_stored_with_the_model(drift_ws: Workspace) -> None:
    model = drift_ws.sql_session.model("m")
    stats = model.extra[STATS_KEY]
    assert stats["rows"] == 2000
    assert set(stats["histograms"]) == {"usage", "plan", "active"}
    assert sum(stats["histograms"]["plan"]["counts"]) == 2000
    with pytest.raises(InvalidInput, match="share no feature"):
        drift_ws.sql("SELECT * FROM ML.VALIDATE_DATA_SKEW(MODEL m, (SELECT 1 AS other))")


def test_skew_of_a_model_with_transform_uses_raw_inputs(ws: Workspace) -> None:
    ws.datasets.import_("rows", _table(600, 4))
    ws.sql(
        "CREATE MODEL t TRANSFORM(ML.STANDARD_SCALER(usage) OVER () AS scaled, plan, label) "
        "OPTIONS(model_type='logistic_reg', input_label_cols=['label']) AS SELECT * FROM rows"
    )
    out = ws.sql("SELECT * FROM ML.VALIDATE_DATA_SKEW(MODEL t, TABLE rows)").to_pandas()
    assert set(out["input"]) == {"usage", "plan", "active"}
    assert (out["value"] == 0).all()


def test_skew_of_a_registry_model_uses_its_training_dataset(ws: Workspace, churn_csv: Path) -> None:
    import lightgbm as lgb

    ws.datasets.import_("churn", churn_csv)
    frame = ws.datasets.to_pandas("churn")[["tenure", "monthly_charges", "churn"]]
    model = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(
        frame[["tenure", "monthly_charges"]], frame["churn"]
    )
    version = ws.datasets.get("churn")
    ws.models.register(
        "gbm",
        model,
        input_example=frame[["tenure", "monthly_charges"]].head(),
        inputs=[version.lineage_artifact_id or 0],
        execution="Train",
    )
    out = ws.sql(
        "SELECT * FROM ML.VALIDATE_DATA_SKEW(MODEL gbm, "
        "(SELECT tenure, monthly_charges * 2 AS monthly_charges FROM churn))"
    ).to_pandas()
    rows = _by_input(out)
    assert rows["tenure"]["value"] == 0 and not rows["tenure"]["is_anomaly"]
    assert rows["monthly_charges"]["is_anomaly"]


def test_drift_between_two_tables(drift_ws: Workspace) -> None:
    ws = drift_ws
    out = ws.sql(
        "SELECT * FROM ML.VALIDATE_DATA_DRIFT(TABLE same_rows, TABLE moved_rows, "
        "STRUCT(5 AS num_quantiles_histogram_buckets, 0.05 AS categorical_default_threshold, "
        "0.2 AS numerical_default_threshold))"
    ).to_pandas()
    assert list(out.columns) == COLUMNS
    rows = _by_input(out)
    assert set(rows) == {"usage", "plan", "active", "label"}  # every shared column
    assert rows["usage"]["is_anomaly"] and rows["plan"]["is_anomaly"]
    assert rows["plan"]["threshold"] == 0.05 and rows["usage"]["threshold"] == 0.2
    base = ws.datasets.to_pandas("same_rows")["usage"]
    study = ws.datasets.to_pandas("moved_rows")["usage"]
    bins = np.concatenate([[-np.inf], np.quantile(base, [0.2, 0.4, 0.6, 0.8]), [np.inf]])
    expected = jensenshannon(np.histogram(base, bins)[0], np.histogram(study, bins)[0], base=2)
    assert rows["usage"]["value"] == pytest.approx(expected**2)
    # a table against itself does not drift; only shared columns are compared
    same = ws.sql(
        "SELECT * FROM ML.VALIDATE_DATA_DRIFT((SELECT usage, plan FROM same_rows), "
        "(SELECT plan, usage, 1 AS extra FROM same_rows))"
    ).to_pandas()
    assert set(same["input"]) == {"usage", "plan"} and (same["value"] == 0).all()


def test_drift_errors(drift_ws: Workspace) -> None:
    ws = drift_ws
    with pytest.raises(InvalidInput, match="compares two tables"):
        ws.sql("SELECT * FROM ML.VALIDATE_DATA_DRIFT(TABLE same_rows)")
    with pytest.raises(InvalidInput, match="num_quantiles_histogram_buckets"):
        ws.sql(
            "SELECT * FROM ML.VALIDATE_DATA_DRIFT(TABLE same_rows, TABLE moved_rows, "
            "STRUCT(1 AS num_quantiles_histogram_buckets))"
        )
    with pytest.raises(InvalidInput, match="share no"):
        ws.sql("SELECT * FROM ML.VALIDATE_DATA_DRIFT((SELECT 1 AS a), (SELECT 'x' AS b))")
    with pytest.raises(InvalidInput, match="empty"):
        ws.sql(
            "SELECT * FROM ML.VALIDATE_DATA_DRIFT(TABLE same_rows, "
            "(SELECT * FROM moved_rows WHERE false))"
        )


def test_training_statistics_sample_large_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    import pandas as pd

    from pmle.sqlml import validate

    frame = pd.DataFrame({"x": np.arange(1000, dtype="float64"), "s": ["a", "b"] * 500})
    types = {"x": "DOUBLE", "s": "VARCHAR"}
    full = validate.training_statistics(frame, types)
    monkeypatch.setattr(validate, "STATS_MAX_ROWS", 100)
    sampled = validate.training_statistics(frame, types)
    assert sampled["rows"] == full["rows"] == 1000
    assert sampled["histograms"].keys() == full["histograms"].keys()
    assert sampled != full  # built from the 100 evenly spaced rows, not all 1000
