"""Drift over real DuckDB relations: planted shifts flagged, thresholds respected, bad input."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from pmle.errors import InvalidInput
from pmle.monitoring import sql_histograms
from pmle.monitoring.drift import detect, thresholds_for


def _write(path: Path, n: int, seed: int, shift: bool) -> str:
    rng = np.random.default_rng(seed)
    pd.DataFrame(
        {
            "tenure": rng.gamma(2.0, 10.0, size=n) + (25.0 if shift else 0.0),
            "charges": rng.normal(70, 20, size=n),
            "contract": rng.choice(
                ["monthly", "yearly", "two-year"],
                p=[0.2, 0.3, 0.5] if shift else [0.6, 0.25, 0.15],
                size=n,
            ),
        }
    ).to_parquet(path)
    return f"SELECT * FROM read_parquet('{path}')"


@pytest.fixture
def setup(tmp_path: Path) -> tuple[duckdb.DuckDBPyConnection, dict, str, str]:
    con = duckdb.connect()
    train = _write(tmp_path / "train.parquet", 20_000, 1, shift=False)
    same = _write(tmp_path / "same.parquet", 5_000, 2, shift=False)
    shifted = _write(tmp_path / "shifted.parquet", 5_000, 3, shift=True)
    kinds = {"tenure": "numeric", "charges": "numeric", "contract": "categorical"}
    return con, sql_histograms.fit(con, train, kinds), same, shifted


def test_planted_shift_flags_exactly_the_shifted_features(setup: tuple) -> None:
    con, baseline, same, shifted = setup
    quiet = detect(con, baseline, same)
    assert not any(d.anomalous for d in quiet) and all(d.rows == 5_000 for d in quiet)
    found = {d.feature for d in detect(con, baseline, shifted) if d.anomalous}
    assert found == {"tenure", "contract"}
    metrics = {d.feature: d.metric for d in quiet}
    assert metrics == {
        "tenure": "jensen_shannon_divergence",
        "charges": "jensen_shannon_divergence",
        "contract": "l_infinity",
    }


def test_per_feature_thresholds(setup: tuple) -> None:
    con, baseline, _, shifted = setup
    values = {d.feature: d.value for d in detect(con, baseline, shifted)}
    loose = detect(con, baseline, shifted, thresholds={"tenure": 0.99})
    assert {d.feature for d in loose if d.anomalous} == {"contract"}
    strict = detect(con, baseline, shifted, default_threshold=values["charges"] / 2)
    assert {d.feature for d in strict if d.anomalous} == {"tenure", "contract", "charges"}


@pytest.mark.parametrize(
    ("overrides", "default", "message"),
    [
        ({"tenure": 1.0}, 0.3, r"in \[0, 1\)"),
        ({"tenure": -0.1}, 0.3, r"in \[0, 1\)"),
        ({}, 1.5, "the default threshold"),
        ({"ghost": 0.2}, 0.3, "unmonitored feature"),
    ],
)
def test_bad_thresholds(overrides: dict, default: float, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        thresholds_for(["tenure"], overrides, default)


def test_a_feature_missing_from_the_window(setup: tuple, tmp_path: Path) -> None:
    con, baseline, _, _ = setup
    pd.DataFrame({"tenure": [1.0], "contract": ["monthly"]}).to_parquet(tmp_path / "w.parquet")
    with pytest.raises(InvalidInput, match="missing from the data: charges"):
        detect(con, baseline, f"SELECT * FROM read_parquet('{tmp_path / 'w.parquet'}')")
    empty = setup[2] + " WHERE false"
    with pytest.raises(InvalidInput, match="no rows"):
        detect(con, baseline, empty)
