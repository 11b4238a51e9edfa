"""PCA through SQL on the penguins table, against scikit-learn's PCA of the same encoded
matrix; the component functions, explained-variance selection, anomalies; bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pmle.errors import InvalidInput
from pmle.workspace import Workspace

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
QUERY = f"SELECT {', '.join(NUMERIC)}, island FROM penguins WHERE body_mass_g IS NOT NULL"


def _encoded(frame: pd.DataFrame) -> np.ndarray:
    """Standardised numerics and one-hot islands, built independently with pandas."""
    x = frame[NUMERIC].astype("float64")
    x = (x - x.mean()) / x.std(ddof=1)
    dummies = pd.get_dummies(frame["island"].astype("string")).to_numpy(dtype="float64")
    return np.hstack([x.to_numpy(), dummies])


def test_penguins_pca_matches_sklearn(penguins_ws: Workspace) -> None:
    from sklearn.decomposition import PCA

    ws = penguins_ws
    ws.sql(f"CREATE MODEL pc OPTIONS(model_type='PCA', num_principal_components=3) AS {QUERY}")
    frame = ws.datasets.to_pandas("penguins").dropna(subset=["body_mass_g"])
    x = _encoded(frame)
    reference = PCA(3, svd_solver="full").fit(x)
    expected = reference.transform(x)

    scores = ws.models.load("pc@1").native.predict_output(frame)
    assert list(scores.columns) == [f"principal_component_{i}" for i in (1, 2, 3)]
    signs = np.sign(np.sum(scores.to_numpy() * expected, axis=0))
    assert np.allclose(scores.to_numpy(), expected * signs, atol=1e-8)

    predicted = ws.sql(f"SELECT * FROM ML.PREDICT(MODEL pc, ({QUERY}))").to_pandas()
    assert list(predicted.columns[:4]) == [
        "principal_component_1",
        "principal_component_2",
        "principal_component_3",
        NUMERIC[0],
    ]

    info = ws.sql("SELECT * FROM ML.PRINCIPAL_COMPONENT_INFO(MODEL pc)").to_pandas()
    assert list(info.columns) == [
        "principal_component_id",
        "eigenvalue",
        "explained_variance_ratio",
        "cumulative_explained_variance_ratio",
    ]
    assert np.allclose(info["eigenvalue"], reference.explained_variance_, rtol=1e-9)
    ratios = reference.explained_variance_ratio_
    assert np.allclose(info["explained_variance_ratio"], ratios, rtol=1e-9)
    assert np.allclose(info["cumulative_explained_variance_ratio"], np.cumsum(ratios))
    total = ws.sql("SELECT * FROM ML.EVALUATE(MODEL pc)").to_pandas()
    assert total["total_explained_variance_ratio"][0] == pytest.approx(ratios.sum(), rel=1e-9)

    loadings = ws.sql(
        "SELECT * FROM ML.PRINCIPAL_COMPONENTS(MODEL pc) ORDER BY principal_component_id"
    ).to_pandas()
    assert list(loadings.columns) == [
        "principal_component_id",
        "feature",
        "numerical_value",
        "categorical_value",
    ]
    first = loadings[loadings["principal_component_id"] == 1].set_index("feature")
    vector = [first.loc[c, "numerical_value"] for c in NUMERIC] + [
        d["value"] for d in first.loc["island", "categorical_value"]
    ]
    assert np.allclose(np.abs(vector), np.abs(reference.components_[0]), atol=1e-9)
    assert np.max(vector) == pytest.approx(np.max(np.abs(vector)))  # largest loading positive


def test_explained_variance_ratio_picks_the_fewest_components(penguins_ws: Workspace) -> None:
    from sklearn.decomposition import PCA

    ws = penguins_ws
    ws.sql(
        "CREATE MODEL pv OPTIONS(model_type='PCA', pca_explained_variance_ratio=0.9, "
        f"pca_solver='FULL') AS {QUERY}"
    )
    frame = ws.datasets.to_pandas("penguins").dropna(subset=["body_mass_g"])
    wanted = PCA(0.9, svd_solver="full").fit(_encoded(frame)).n_components_
    info = ws.sql("SELECT * FROM ML.PRINCIPAL_COMPONENT_INFO(MODEL pv)").to_pandas()
    assert len(info) == wanted
    assert info["cumulative_explained_variance_ratio"].iloc[-1] >= 0.9
    assert info["cumulative_explained_variance_ratio"].iloc[-2] < 0.9


def test_detect_anomalies_by_reconstruction_error(penguins_ws: Workspace) -> None:
    ws = penguins_ws
    ws.sql(f"CREATE MODEL pa OPTIONS(model_type='PCA', num_principal_components=2) AS {QUERY}")
    out = ws.sql(
        f"SELECT * FROM ML.DETECT_ANOMALIES(MODEL pa, STRUCT(0.1 AS contamination), ({QUERY}))"
    ).to_pandas()
    assert list(out.columns[:3]) == ["is_anomaly", "mean_squared_error", NUMERIC[0]]
    assert 0.08 <= out["is_anomaly"].mean() <= 0.12
    assert out.loc[out["is_anomaly"], "mean_squared_error"].min() > (
        out.loc[~out["is_anomaly"], "mean_squared_error"].max()
    )


def test_bad_options(penguins_ws: Workspace) -> None:
    ws = penguins_ws
    with pytest.raises(InvalidInput, match="not both"):
        ws.sql(
            "CREATE MODEL bad OPTIONS(model_type='PCA', num_principal_components=2, "
            f"pca_explained_variance_ratio=0.8) AS {QUERY}"
        )
    with pytest.raises(InvalidInput, match="at most 7"):
        ws.sql(f"CREATE MODEL bad OPTIONS(model_type='PCA', num_principal_components=9) AS {QUERY}")
