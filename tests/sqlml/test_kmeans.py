"""KMEANS through SQL on the penguins table, against scikit-learn's k-means from the same
initial centroids; defaults, ML.CENTROIDS / EVALUATE / DETECT_ANOMALIES; bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pmle.errors import InvalidInput
from pmle.workspace import Workspace

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


@pytest.fixture
def pens(penguins_ws: Workspace) -> tuple[Workspace, pd.DataFrame]:
    """Penguins with complete measurements and `init`: TRUE for one row per species."""
    ws = penguins_ws
    frame = ws.datasets.to_pandas("penguins").dropna(subset=NUMERIC).reset_index(drop=True)
    frame["init"] = False
    frame.loc[frame.groupby("species").head(1).index, "init"] = True
    ws.datasets.import_("pens", frame[[*NUMERIC, "init"]])
    return ws, frame


def _standardized(frame: pd.DataFrame) -> np.ndarray:
    x = frame[NUMERIC].astype("float64")
    return ((x - x.mean()) / x.std(ddof=1)).to_numpy()


def test_custom_init_matches_sklearn_lloyd(pens: tuple[Workspace, pd.DataFrame]) -> None:
    from sklearn.cluster import KMeans
    from sklearn.metrics import davies_bouldin_score

    ws, frame = pens
    ws.sql(
        "CREATE MODEL pk OPTIONS(model_type='KMEANS', kmeans_init_method='CUSTOM', "
        "kmeans_init_col='init', early_stop=FALSE, max_iterations=50) AS SELECT * FROM pens"
    )
    x = _standardized(frame)
    start = x[frame["init"].to_numpy()]
    reference = KMeans(3, init=start, n_init=1, max_iter=50, tol=0, algorithm="lloyd").fit(x)

    loaded = ws.models.load("pk@1")
    ids = loaded.predict(frame)
    assert np.array_equal(ids, reference.labels_ + 1)

    centroids = ws.sql("SELECT * FROM ML.CENTROIDS(MODEL pk) ORDER BY centroid_id").to_pandas()
    assert list(centroids.columns) == [
        "centroid_id",
        "feature",
        "numerical_value",
        "categorical_value",
    ]
    raw = frame[NUMERIC].astype("float64")
    expected = reference.cluster_centers_ * raw.std(ddof=1).to_numpy() + raw.mean().to_numpy()
    got = centroids.pivot(index="centroid_id", columns="feature", values="numerical_value")
    assert np.allclose(got[NUMERIC].to_numpy(), expected, rtol=1e-9)
    standardized = ws.sql(
        "SELECT * FROM ML.CENTROIDS(MODEL pk, STRUCT(TRUE AS standardize))"
    ).to_pandas()
    got = standardized.pivot(index="centroid_id", columns="feature", values="numerical_value")
    assert np.allclose(got[NUMERIC].to_numpy(), reference.cluster_centers_, atol=1e-9)

    evaluation = ws.sql("SELECT * FROM ML.EVALUATE(MODEL pk)").to_pandas()
    assert list(evaluation.columns) == ["davies_bouldin_index", "mean_squared_distance"]
    dbi = davies_bouldin_score(x, reference.labels_)
    assert evaluation["davies_bouldin_index"][0] == pytest.approx(dbi, rel=1e-9)
    msd = reference.inertia_ / len(x)
    assert evaluation["mean_squared_distance"][0] == pytest.approx(msd, rel=1e-9)

    predicted = ws.sql("SELECT * FROM ML.PREDICT(MODEL pk, TABLE pens)").to_pandas()
    assert list(predicted.columns[:3]) == ["centroid_id", "nearest_centroids_distance", NUMERIC[0]]
    first = predicted["nearest_centroids_distance"][0]
    assert first[0]["centroid_id"] == predicted["centroid_id"][0]
    assert sorted(d["distance"] for d in first) == [d["distance"] for d in first]
    assert len(first) == 3


def test_default_options_reach_a_lloyd_fixed_point(pens: tuple[Workspace, pd.DataFrame]) -> None:
    from sklearn.cluster import KMeans

    ws, frame = pens
    ws.sql(
        f"CREATE MODEL pd_km OPTIONS(model_type='KMEANS') AS SELECT {', '.join(NUMERIC)} FROM pens"
    )
    ws.sql(
        "CREATE MODEL pp_km OPTIONS(model_type='KMEANS', kmeans_init_method='KMEANS++', "
        "early_stop=FALSE) AS "
        f"SELECT {', '.join(NUMERIC)} FROM pens"
    )
    x = _standardized(frame)
    best = KMeans(3, n_init=10, random_state=0).fit(x).inertia_ / len(x)
    for name in ("pd_km", "pp_km"):
        # log10(342 rows) rounds to 3 clusters
        ids = ws.models.load(f"{name}@1").predict(frame) - 1
        assert sorted(set(ids)) == [0, 1, 2]
        msd = ws.sql(f"SELECT * FROM ML.EVALUATE(MODEL {name})").to_pandas()
        assert msd["mean_squared_distance"][0] >= best * (1 - 1e-9)
        info = ws.sql(f"SELECT * FROM ML.TRAINING_INFO(MODEL {name})").to_pandas()
        assert np.all(np.diff(info["loss"]) <= 1e-12)  # Lloyd never increases the loss
    # KMEANS++ (seeded) run to convergence: scikit-learn's Lloyd from the same k-means++
    # start ends in the same clusters, and every centroid is its members' mean
    from sklearn.cluster import kmeans_plusplus

    start, _ = kmeans_plusplus(np.unique(x, axis=0), 3, random_state=0)
    reference = KMeans(3, init=start, n_init=1, max_iter=100, tol=0, algorithm="lloyd").fit(x)
    ids = ws.models.load("pp_km@1").predict(frame) - 1
    assert np.array_equal(ids, reference.labels_)
    centers = np.vstack([x[ids == j].mean(axis=0) for j in range(3)])
    d = ((x[:, None, :] - centers[None]) ** 2).sum(axis=2)
    assert np.array_equal(np.argmin(d, axis=1), ids)


def test_detect_anomalies_flags_the_contamination_share(
    pens: tuple[Workspace, pd.DataFrame],
) -> None:
    ws, _ = pens
    ws.sql(
        "CREATE MODEL an OPTIONS(model_type='KMEANS', num_clusters=3, distance_type='COSINE') "
        f"AS SELECT {', '.join(NUMERIC)} FROM pens"
    )
    out = ws.sql(
        "SELECT * FROM ML.DETECT_ANOMALIES(MODEL an, STRUCT(0.05 AS contamination), TABLE pens)"
    ).to_pandas()
    assert list(out.columns[:4]) == ["is_anomaly", "normalized_distance", "centroid_id", NUMERIC[0]]
    share = out["is_anomaly"].mean()
    assert 0.03 <= share <= 0.07
    flagged = out.loc[out["is_anomaly"], "normalized_distance"].min()
    assert flagged > out.loc[~out["is_anomaly"], "normalized_distance"].max()
    with pytest.raises(InvalidInput, match="contamination"):
        ws.sql("SELECT * FROM ML.DETECT_ANOMALIES(MODEL an, TABLE pens)")


def test_bad_options(pens: tuple[Workspace, pd.DataFrame]) -> None:
    ws, _ = pens
    with pytest.raises(InvalidInput, match="kmeans_init_col"):
        ws.sql(
            "CREATE MODEL bad OPTIONS(model_type='KMEANS', kmeans_init_method='CUSTOM') "
            "AS SELECT * FROM pens"
        )
    with pytest.raises(InvalidInput, match="TRUE in 3 rows, but num_clusters is 4"):
        ws.sql(
            "CREATE MODEL bad OPTIONS(model_type='KMEANS', kmeans_init_method='CUSTOM', "
            "kmeans_init_col='init', num_clusters=4) AS SELECT * FROM pens"
        )
    with pytest.raises(InvalidInput, match="num_clusters is 5"):
        ws.sql(
            "CREATE MODEL bad OPTIONS(model_type='KMEANS', num_clusters=5) AS "
            "SELECT * FROM pens LIMIT 4"
        )
