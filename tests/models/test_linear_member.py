from __future__ import annotations

import time

import numpy as np
import pytest

from pmle.automl.trainer import FitSetup, FoldData, _fit_linear
from pmle.models.ensemble import link


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_stored_linear_model_predicts_like_the_scikit_learn_pipeline(task: str) -> None:
    rng = np.random.default_rng(0)
    n = 1200
    x = np.column_stack(
        [rng.normal(size=n), rng.integers(0, 5, n).astype(float), rng.normal(size=n)]
    )
    x[::7, 0] = np.nan
    x[::11, 1] = np.nan  # missing category codes are a category of their own
    y = {
        "binary": (x[:, 2] > 0).astype(int),
        "multiclass": rng.integers(0, 3, n),
        "regression": x[:, 2] * 2 + 1,
    }[task]
    k = {"binary": 2, "multiclass": 3, "regression": 1}[task]
    member, pred, _, _ = _fit_linear(
        {"C": 1.0},
        FoldData(x[:900], y[:900], x[900:], y[900:]),
        FitSetup(task, k, [1], time.monotonic() + 60, threads=1, seed=0),
    )
    scores = member.decision(x[900:])
    np.testing.assert_allclose(link(scores, task), pred, atol=1e-10)
