from __future__ import annotations

import numpy as np
import pandas as pd

import pmle.models.transforms as transforms
from pmle.models.transforms import FeatureTransform


def _frame() -> pd.DataFrame:
    n = 400
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "flag": rng.random(n) < 0.5,
            "color": rng.choice(["red", "green", "blue", None], n),
            "zip": [f"z{i % 300}" for i in range(n)],  # high cardinality
            "when": pd.date_range("2024-01-01", periods=n, freq="37h"),
            "review": [
                f"great product {'slow delivery' if i % 3 else 'fast'} item {i}" for i in range(n)
            ],
        }
    )


KINDS = {
    "x": "numeric",
    "flag": "boolean",
    "color": "categorical",
    "zip": "categorical",
    "when": "datetime",
    "review": "text",
}


def test_every_kind_becomes_float_features() -> None:
    frame = _frame()
    t = FeatureTransform.fit(frame, KINDS)
    m = t.transform(frame)
    assert m.dtype == np.float64 and m.shape == (len(frame), len(t.feature_names))
    names = t.feature_names
    assert "zip__frequency" in names  # high cardinality gets a frequency feature
    assert {"when__year", "when__month", "when__dayofweek", "when__hour"} <= set(names)
    assert (
        "review__has_fast" in names and "review__has_slow" not in names and "review__words" in names
    )
    color = m[:, names.index("color")]
    assert np.isnan(color[frame["color"].isna().to_numpy()]).all()  # missing stays missing
    assert set(np.unique(color[~np.isnan(color)])) == {0.0, 1.0, 2.0}
    assert t.categorical_features == [names.index("color"), names.index("zip")]
    assert t.source_column()[names.index("when__month")] == "when"


def test_unseen_categories_share_the_other_code() -> None:
    frame = _frame()
    t = FeatureTransform.fit(frame, {"color": "categorical"})
    out = t.transform(pd.DataFrame({"color": ["purple", "red", None]}))
    assert out[0, 0] == 3.0 and out[1, 0] == t.steps[0].categories.index("red")
    assert np.isnan(out[2, 0])


def test_json_round_trip_and_both_code_paths_agree(monkeypatch: object) -> None:
    frame = _frame()
    t = FeatureTransform.fit(frame, KINDS)
    again = FeatureTransform.from_dict(t.to_dict())
    small = again.transform(frame)
    assert np.array_equal(small, t.transform(frame), equal_nan=True)
    transforms._SMALL = 0  # force the vectorised path used for large batches
    try:
        assert np.array_equal(again.transform(frame), small, equal_nan=True)
    finally:
        transforms._SMALL = 2000
