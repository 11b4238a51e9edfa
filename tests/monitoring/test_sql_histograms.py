"""DuckDB's histograms equal the in-memory ones; errors name missing features."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from pmle.errors import InvalidInput
from pmle.monitoring import sql_histograms
from pmle.monitoring.distances import CategoricalHistogram, NumericHistogram


@pytest.fixture
def parquet(tmp_path: Path) -> str:
    rng = np.random.default_rng(5)
    n = 5000
    x = rng.normal(size=n)
    x[::17] = np.nan
    frame = pd.DataFrame(
        {
            "x": x,
            "k": rng.integers(0, 4, size=n),  # ties: fewer than 10 distinct quantiles
            "c": rng.choice(["a", "b", "it's", None], p=[0.5, 0.3, 0.15, 0.05], size=n),
        }
    )
    path = tmp_path / "data.parquet"
    frame.to_parquet(path)
    return str(path)


def test_same_histograms_as_in_memory(parquet: str) -> None:
    frame = pd.read_parquet(parquet)
    con = duckdb.connect()
    relation = f"SELECT * FROM read_parquet('{parquet}')"
    got = sql_histograms.fit(
        con, relation, {"x": "numeric", "k": "numeric", "c": "categorical"}, max_categories=2
    )
    for name in ("x", "k"):
        want = NumericHistogram.fit(frame[name])
        assert isinstance(got[name], NumericHistogram)
        np.testing.assert_allclose(got[name].edges, want.edges, rtol=0, atol=1e-12)
        assert got[name].counts == want.counts
    want_c = CategoricalHistogram.fit(frame["c"], max_categories=2)
    assert got["c"] == want_c
    shifted = f"SELECT x + 1 AS x, k, c FROM read_parquet('{parquet}')"
    counts = sql_histograms.count(con, shifted, "x", got["x"])
    assert list(counts) == list(got["x"].count(frame["x"] + 1))


def test_missing_feature_and_bad_kind(parquet: str) -> None:
    con = duckdb.connect()
    relation = f"SELECT * FROM read_parquet('{parquet}')"
    with pytest.raises(InvalidInput, match="missing from the data: tenure"):
        sql_histograms.fit(con, relation, {"tenure": "numeric"})
    with pytest.raises(InvalidInput, match="unknown feature kind"):
        sql_histograms.fit(con, relation, {"x": "text"})
    with pytest.raises(InvalidInput, match="cannot read the data"):
        sql_histograms.fit(con, "SELECT * FROM nowhere", {"x": "numeric"})
