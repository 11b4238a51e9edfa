from __future__ import annotations

import numpy as np

from pmle.automl.ensemble_selection import select
from pmle.automl.objectives import resolve


def test_weights_sum_to_one_and_never_lose_to_the_best_single_model() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    preds = [y + rng.normal(scale=s, size=500) for s in (0.5, 0.6, 0.7, 3.0)]
    rmse = resolve("rmse", "regression")
    weights = select(preds, y, rmse)
    assert abs(sum(weights) - 1) < 1e-12
    blend = sum(w * p for w, p in zip(weights, preds, strict=True))
    assert rmse.score(y, blend) <= min(rmse.score(y, p) for p in preds)
    assert weights[3] < 0.1  # the noisy one is (almost) never picked
    assert select(preds[:1], y, rmse) == [1.0]
