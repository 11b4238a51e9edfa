"""Small synthetic tables and fitted models shared by the model tests (fitted once per session)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

N = 500


@pytest.fixture(scope="session")
def frame() -> pd.DataFrame:
    """500 rows: a float, an integer, a categorical string and a boolean column."""
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "x": rng.normal(size=N),
            "n": rng.integers(0, 10, size=N),
            "c": rng.choice(["red", "green", "blue"], size=N),
            "b": rng.random(N) > 0.5,
        }
    )


@pytest.fixture(scope="session")
def frame_cat(frame: pd.DataFrame) -> pd.DataFrame:
    """The same table with `c` as a pandas category (what LightGBM trains on)."""
    return frame.assign(c=frame["c"].astype("category"))


@pytest.fixture(scope="session")
def y_binary(frame: pd.DataFrame) -> pd.Series:
    """A binary label that depends on every column."""
    score = frame["x"] + (frame["c"] == "red") - 0.5 * frame["b"] + 0.1 * frame["n"]
    return (score > 0.4).astype(int)


@pytest.fixture(scope="session")
def y_multi(frame: pd.DataFrame) -> pd.Series:
    """Three string classes."""
    score = frame["x"] + (frame["c"] == "red") + 0.1 * frame["n"]
    return pd.Series(np.where(score < 0, "low", np.where(score < 1, "mid", "high")), name="y")


@pytest.fixture(scope="session")
def y_value(frame: pd.DataFrame) -> pd.Series:
    """A regression target."""
    return 2 * frame["x"] + (frame["c"] == "blue") + 0.3 * frame["n"] - frame["b"]


LGBM_KW: dict[str, Any] = {"n_estimators": 20, "num_leaves": 7, "num_threads": 1, "verbose": -1}


@pytest.fixture(scope="session")
def lgbm_kw() -> dict[str, Any]:
    """Fast, deterministic LightGBM settings for tests."""
    return dict(LGBM_KW)


@pytest.fixture(scope="session")
def lgbm_binary(frame_cat: pd.DataFrame, y_binary: pd.Series) -> Any:
    """A fitted LGBMClassifier (binary)."""
    import lightgbm as lgb

    return lgb.LGBMClassifier(**LGBM_KW).fit(frame_cat, y_binary)
