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


@pytest.fixture
def wide(tmp_path: Path) -> tuple[str, pd.DataFrame]:
    """Numeric features with ties, NaN, ±inf and continuous values; categorical features with
    few and with many (> 8) categories, quotes, an empty string and non-ASCII."""
    rng = np.random.default_rng(11)
    n = 3000
    cont = rng.normal(size=n) * 1e3
    cont[::13] = np.nan
    cont[::101] = np.inf
    cont[1::97] = -np.inf
    many = np.array([f"v{i}" for i in range(40)] + ["", "it's", "é", "a,b"], dtype=object)
    frame = pd.DataFrame(
        {
            "cont": cont,
            "ints": rng.integers(0, 7, size=n),
            "ties": rng.choice([0.1, 0.2, 1 / 3, -0.0, 0.0], size=n),
            "few": rng.choice(np.array(["a", "b", "it's", None], dtype=object), size=n),
            "many": rng.choice(np.append(many, None), size=n),
            "code": rng.integers(0, 30, size=n),  # a number used as a category
        }
    )
    path = tmp_path / "wide.parquet"
    frame.to_parquet(path)
    return f"SELECT * FROM read_parquet('{path}')", frame


KINDS = {
    "cont": "numeric",
    "ints": "numeric",
    "ties": "numeric",
    "few": "categorical",
    "many": "categorical",
    "code": "categorical",
}


def test_count_all_equals_per_feature_and_in_memory_counts(wide: tuple[str, pd.DataFrame]) -> None:
    relation, _ = wide
    con = duckdb.connect()
    baseline = sql_histograms.fit(con, relation, KINDS, max_categories=30)
    assert len(baseline["many"].categories) == 30  # past 8: counted through a MAP
    window = (
        f"SELECT cont * 1.5 + 3 AS cont, ints + 1 AS ints, ties, few, "
        f"CASE WHEN code % 3 = 0 THEN 'new' ELSE many END AS many, code "
        f"FROM ({relation}) WHERE ints < 5"
    )
    got = sql_histograms.count_all(con, window, baseline)
    assert list(got) == list(KINDS)
    shifted = con.execute(window).df()
    for name, hist in baseline.items():
        one = sql_histograms.count(con, window, name, hist)
        assert list(got[name]) == list(one)
        values = shifted[name].astype(object).where(shifted[name].notna(), None)
        assert list(got[name]) == list(hist.count(values)), name
    # the baseline's own counts are what count_all finds on the baseline's rows
    again = sql_histograms.count_all(con, relation, baseline)
    assert {n: tuple(int(c) for c in v) for n, v in again.items()} == {
        n: h.counts for n, h in baseline.items()
    }


def test_count_all_of_an_empty_window(wide: tuple[str, pd.DataFrame]) -> None:
    relation, _ = wide
    con = duckdb.connect()
    baseline = sql_histograms.fit(con, relation, KINDS)
    got = sql_histograms.count_all(con, relation + " WHERE false", baseline)
    assert all(not c.any() and len(c) == len(baseline[n].counts) for n, c in got.items())
    assert sql_histograms.count_all(con, relation, {}) == {}


def test_cut_points_are_duckdbs_quantiles_on_both_paths(
    wide: tuple[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted value by value (the default here) or through quantile_cont (a sample that
    looks continuous), the histograms are the same, and the cut points are bit for bit
    DuckDB's quantile_cont."""
    relation, _ = wide
    con = duckdb.connect()
    numeric = {n: k for n, k in KINDS.items() if k == "numeric"}
    for buckets in (3, 7, 10, 20):
        grouped = sql_histograms.fit(con, relation, KINDS, buckets=buckets)
        monkeypatch.setattr(sql_histograms, "_SAMPLE_ROWS", 10)
        assert sql_histograms._spread_out(con, relation, list(numeric)) == set(numeric)
        sorted_ = sql_histograms.fit(con, relation, KINDS, buckets=buckets)
        monkeypatch.undo()
        assert grouped == sorted_
        qs = [i / buckets for i in range(1, buckets)]
        for name in numeric:
            x = f"TRY_CAST({name} AS DOUBLE)"
            ((want,),) = con.execute(
                f"SELECT quantile_cont({x}, {qs}) FROM ({relation}) "
                f"WHERE {x} IS NOT NULL AND NOT isnan({x})"
            ).fetchall()
            edges = grouped[name].edges  # type: ignore[union-attr]
            assert edges == tuple(sorted({float(v) for v in want}))


def test_fit_of_no_rows_and_all_missing(wide: tuple[str, pd.DataFrame]) -> None:
    relation, _ = wide
    con = duckdb.connect()
    empty = sql_histograms.fit(con, relation + " WHERE false", KINDS)
    assert empty["cont"] == NumericHistogram((), (0, 0))
    assert empty["few"] == CategoricalHistogram((), (0, 0))
    nulls = sql_histograms.fit(
        con,
        f"SELECT NULL::DOUBLE AS cont, NULL::VARCHAR AS few FROM ({relation})",
        {"cont": "numeric", "few": "categorical"},
    )
    assert nulls["cont"] == NumericHistogram((), (0, 3000))
    assert nulls["few"] == CategoricalHistogram((), (0, 3000))


def test_counts_not_settled_by_the_fetched_rows_are_counted(
    wide: tuple[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    relation, _ = wide
    con = duckdb.connect()
    want = sql_histograms.fit(con, relation, KINDS)
    monkeypatch.setattr(sql_histograms, "_numeric_counts", lambda *a: None)
    assert sql_histograms.fit(con, relation, KINDS) == want


def test_a_csv_window_counts_like_parquet(tmp_path: Path) -> None:
    """DuckDB may push a cast into read_csv (parse the raw text as the target type): booleans
    written as "False" / "True" still count as the Parquet baseline's 'false' / 'true', and
    text in a numeric column is missing, not an error."""
    frame = pd.DataFrame(
        {
            "b": [True, False, False, None] * 50,
            "x": ["1.5", "2", "n/a", None] * 50,
            "k": [1, 2, 3, 4] * 50,
        }
    )
    frame.to_parquet(tmp_path / "d.parquet")
    frame.to_csv(tmp_path / "d.csv", index=False)
    con = duckdb.connect()
    kinds = {"b": "categorical", "x": "numeric", "k": "numeric"}
    parquet = f"SELECT * FROM read_parquet('{tmp_path / 'd.parquet'}')"
    csv = f"SELECT * FROM read_csv_auto('{tmp_path / 'd.csv'}')"
    baseline = sql_histograms.fit(con, parquet, kinds)
    assert baseline["b"] == CategoricalHistogram(("false", "true"), (100, 50, 0, 50))
    assert baseline["x"].counts[-1] == 100  # "n/a" and the empty cells: missing
    got = sql_histograms.count_all(con, csv, baseline)
    assert {n: tuple(int(c) for c in v) for n, v in got.items()} == {
        n: h.counts for n, h in baseline.items()
    }
    assert sql_histograms.fit(con, csv, kinds) == baseline
