from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from pmle.errors import InvalidInput
from pmle.models.lgbm_merge import merge_boosters


def _boosters(objective: str, y: np.ndarray, x: np.ndarray, **extra: object) -> list[lgb.Booster]:
    out = []
    for seed in range(3):
        params = {
            "objective": objective,
            "verbosity": -1,
            "seed": seed,
            "num_leaves": 7,
            "bagging_fraction": 0.7,
            "bagging_freq": 1,
            "learning_rate": 0.1,
            **extra,
        }
        rows = np.random.default_rng(seed).random(len(y)) < 0.8
        data = lgb.Dataset(x[rows], y[rows], categorical_feature=[2])
        out.append(lgb.train(params, data, num_boost_round=20 + 5 * seed))
    return out


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_merged_booster_scores_are_the_weighted_sum(task: str) -> None:
    rng = np.random.default_rng(1)
    x = np.column_stack(
        [rng.normal(size=600), rng.normal(size=600), rng.integers(0, 6, 600).astype(float)]
    )
    if task == "binary":
        boosters = _boosters("binary", (x[:, 0] + x[:, 2] > 2).astype(int), x)
    elif task == "multiclass":
        boosters = _boosters("multiclass", rng.integers(0, 3, 600), x, num_class=3)
    else:
        boosters = _boosters("regression", x[:, 0] * 3 + x[:, 2], x)
    weights = [0.5, 0.3, 0.2]
    merged = merge_boosters(boosters, weights)
    expected = sum(w * b.predict(x, raw_score=True) for b, w in zip(boosters, weights, strict=True))
    np.testing.assert_allclose(merged.predict(x, raw_score=True), expected, rtol=0, atol=1e-10)
    assert merged.num_trees() == sum(b.num_trees() for b in boosters)


def test_boosters_of_different_kinds_are_not_merged() -> None:
    rng = np.random.default_rng(2)
    x = np.column_stack(
        [rng.normal(size=300), rng.normal(size=300), rng.integers(0, 4, 300).astype(float)]
    )
    a = _boosters("binary", (x[:, 0] > 0).astype(int), x)[0]
    b = _boosters("regression", x[:, 0], x)[0]
    with pytest.raises(InvalidInput, match="objective"):
        merge_boosters([a, b], [0.5, 0.5])
