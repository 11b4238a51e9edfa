"""TRANSFORM: every preprocessing function against a plain pandas / NumPy computation, its
statistics taken from the training rows only, and the same transformation at prediction
(ML.PREDICT on raw rows equals a model trained without TRANSFORM on pre-transformed rows)."""

from __future__ import annotations

import re

import duckdb
import numpy as np
import pandas as pd
import pytest

from pmle.errors import InvalidInput
from pmle.sqlml.parse import parse_statement
from pmle.sqlml.transform import Transform, compile_transform
from pmle.workspace import Workspace


def _train(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(50, 10, n)
    x[::17] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "z": rng.uniform(0, 4, n),
            "city": rng.choice(["lisbon", "oslo", "rome"], n, p=[0.5, 0.3, 0.2]),
            "tier": rng.choice(["a", "b"], n),
            "w": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "y": rng.normal(size=n),
        }
    )


def _compile(items: str, frame: pd.DataFrame) -> Transform:
    stmt = parse_statement(
        f"CREATE MODEL m TRANSFORM({items}) OPTIONS(model_type='linear_reg') AS SELECT 1"
    )
    con = duckdb.connect()
    con.register("train", frame)
    try:
        return compile_transform(stmt.transform, con, "train", stmt.source)  # type: ignore[union-attr]
    finally:
        con.close()


def _apply(items: str, train: pd.DataFrame, rows: pd.DataFrame | None = None) -> pd.DataFrame:
    return _compile(items, train).apply(train if rows is None else rows)


def test_scalers() -> None:
    train = _train()
    out = _apply("ML.STANDARD_SCALER(x) OVER () AS s, ML.MIN_MAX_SCALER(z) OVER () AS mm", train)
    x = train["x"]
    assert np.allclose(out["s"], (x - x.mean()) / x.std(ddof=1), equal_nan=True)
    z = train["z"]
    assert np.allclose(out["mm"], (z - z.min()) / (z.max() - z.min()))
    # new rows use the training statistics; min-max caps to [0, 1]
    rows = pd.DataFrame({"x": [x.mean(), x.mean() + x.std()], "z": [-5.0, 100.0]})
    new = _apply(
        "ML.STANDARD_SCALER(x) OVER () AS s, ML.MIN_MAX_SCALER(z) OVER () AS mm", train, rows
    )
    assert np.allclose(new["s"], [0.0, 1.0]) and new["mm"].tolist() == [0.0, 1.0]


def test_bucketize_and_quantile_bucketize() -> None:
    train = _train()
    out = _apply("ML.BUCKETIZE(z, [1, 2, 3]) AS b, ML.QUANTILE_BUCKETIZE(z, 4) OVER () AS q", train)
    expected = "bin_" + (np.searchsorted([1, 2, 3], train["z"], side="right") + 1).astype(str)
    assert out["b"].tolist() == expected.tolist()
    cuts = np.quantile(train["z"], [0.25, 0.5, 0.75])
    quantile = "bin_" + (np.searchsorted(cuts, train["z"], side="right") + 1).astype(str)
    assert out["q"].tolist() == quantile.tolist()
    assert out["q"].value_counts().tolist() == [50, 50, 50, 50]
    rows = pd.DataFrame({"z": [None, -1.0, 9.0]})
    new = _apply("ML.QUANTILE_BUCKETIZE(z, 4) OVER () AS q", train, rows)
    assert new["q"].tolist()[1:] == ["bin_1", "bin_4"] and pd.isna(new["q"][0])


@pytest.mark.parametrize("strategy", ["mean", "median", "most_frequent"])
def test_imputer(strategy: str) -> None:
    train = _train()
    train["whole"] = np.where(np.arange(len(train)) % 9 == 0, np.nan, np.arange(len(train)) % 4)
    column = "whole" if strategy == "most_frequent" else "x"
    out = _apply(f"ML.IMPUTER({column}, '{strategy}') OVER () AS filled", train)
    values = train[column]
    fill = {
        "mean": values.mean(),
        "median": values.median(),
        "most_frequent": values.mode()[0],
    }[strategy]
    assert np.allclose(out["filled"], values.fillna(fill))


def test_label_and_one_hot_encoders() -> None:
    train = _train()
    items = "ML.LABEL_ENCODER(city) OVER () AS code, ML.ONE_HOT_ENCODER(tier) OVER () AS hot"
    out = _apply(items, train)
    assert out["code"].tolist() == train["city"].map({"lisbon": 1, "oslo": 2, "rome": 3}).tolist()
    assert out["hot"].tolist() == train["tier"].tolist()
    rows = pd.DataFrame({"city": ["rome", "paris", None], "tier": ["c", "a", None]})
    new = _apply(items, train, rows)
    assert new["code"].tolist() == [3, 0, 0]  # unseen and NULL: 0
    assert new["hot"].tolist()[1] == "a" and new["hot"][[0, 2]].isna().all()


def test_feature_cross_and_polynomial_expand() -> None:
    train = _train(20)
    out = _apply(
        "ML.FEATURE_CROSS(STRUCT(city, tier)) AS cross, ML.POLYNOMIAL_EXPAND(STRUCT(z, y), 2) AS p",
        train,
    )
    assert out["cross"].tolist() == (train["city"] + "_" + train["tier"]).tolist()
    z, y = train["z"], train["y"]
    expected = {"p_z": z, "p_y": y, "p_z_z": z * z, "p_z_y": z * y, "p_y_y": y * y}
    assert set(expected) <= set(out.columns) and "p" not in out.columns
    for name, values in expected.items():
        assert np.allclose(out[name], values), name


def test_star_except_and_plain_sql() -> None:
    train = _train(10)
    out = _apply("* EXCEPT (x, y), z * 2 AS z2, upper(city) AS big", train)
    assert list(out.columns) == ["z", "city", "tier", "w", "z2", "big"]
    assert np.allclose(out["z2"], train["z"] * 2)
    assert out["big"].tolist() == train["city"].str.upper().tolist()


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ("ML.BUCKETIZE(z) AS b", "split points"),
        ("ML.QUANTILE_BUCKETIZE(z, 1) OVER () AS q", "at least 2"),
        ("ML.IMPUTER(x, 'mode') OVER () AS i", "strategy"),
        ("ML.POLYNOMIAL_EXPAND(STRUCT(z, y), 9) AS p", "degree"),
        ("ML.FEATURE_CROSS(STRUCT(z)) AS c", "two or more"),
        ("z AS a, y AS a", "more than once"),
        ("* EXCEPT (nope)", "unknown column"),
        ("no_such_column + 1 AS w", "not valid SQL"),
    ],
)
def test_bad_transforms(items: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        _compile(items, _train(10))


def _by_hand(frame: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    """The test TRANSFORM computed with pandas, statistics from `train`."""
    x = train["x"]
    cuts = np.quantile(train["z"], [1 / 3, 2 / 3])
    return pd.DataFrame(
        {
            "sx": (frame["x"] - x.mean()) / x.std(ddof=1),
            "iw": frame["w"].fillna(train["w"].median()),
            "qz": "bin_" + (np.searchsorted(cuts, frame["z"], side="right") + 1).astype(str),
            "cross": frame["city"] + "_" + frame["tier"],
            "y": frame["y"],
        },
        index=frame.index,
    )


def test_prediction_applies_the_training_transform(ws: Workspace) -> None:
    train, test = _train(300, seed=1), _train(60, seed=2)
    test["x"] = test["x"] + 25  # the test rows differ: their own statistics would differ
    ws.datasets.import_("raw_train", train)
    ws.datasets.import_("raw_test", test)
    ws.datasets.import_("done_train", _by_hand(train, train))
    ws.datasets.import_("done_test", _by_hand(test, train))
    ws.sql(
        "CREATE MODEL with_transform TRANSFORM("
        "ML.STANDARD_SCALER(x) OVER () AS sx, ML.IMPUTER(w, 'median') OVER () AS iw, "
        "ML.QUANTILE_BUCKETIZE(z, 3) OVER () AS qz, "
        "ML.FEATURE_CROSS(STRUCT(city, tier)) AS cross, y) "
        "OPTIONS(model_type='linear_reg', input_label_cols=['y']) AS SELECT * FROM raw_train"
    )
    ws.sql(
        "CREATE MODEL by_hand OPTIONS(model_type='linear_reg', input_label_cols=['y']) "
        "AS SELECT * FROM done_train"
    )
    raw = ws.sql(
        "SELECT predicted_y FROM ML.PREDICT(MODEL with_transform, (SELECT * EXCLUDE (y) "
        "FROM raw_test))"
    ).to_pandas()
    done = ws.sql("SELECT predicted_y FROM ML.PREDICT(MODEL by_hand, TABLE done_test)").to_pandas()
    assert np.allclose(raw["predicted_y"], done["predicted_y"], rtol=1e-9, atol=1e-9)
    # one row alone predicts as in the batch: no statistics come from the prediction rows
    one = ws.sql(
        "SELECT predicted_y FROM ML.PREDICT(MODEL with_transform, (SELECT * FROM raw_test LIMIT 1))"
    ).to_pandas()
    assert one["predicted_y"][0] == pytest.approx(raw["predicted_y"][0])
    # the saved SQL holds the training statistics as constants
    model = ws.sql_session.model("with_transform")
    sql = dict(model.transform.items)["sx"]
    mean, std = (float(v) for v in re.findall(r"-?\d+\.\d+", sql))
    assert mean == pytest.approx(train["x"].mean()) and std == pytest.approx(train["x"].std())
    assert model.inputs.keys() == {"x", "z", "city", "tier", "w"}


def test_a_transformed_label_is_evaluated_as_trained(ws: Workspace) -> None:
    ws.sql("CREATE TABLE lt AS SELECT i AS x, (i % 2) AS label FROM range(100) r(i)")
    ws.sql(
        "CREATE MODEL shifted TRANSFORM(x, label + 100 AS label) "
        "OPTIONS(model_type='linear_reg', input_label_cols=['label']) AS SELECT * FROM lt"
    )
    stored = ws.sql("SELECT * FROM ML.EVALUATE(MODEL shifted)").to_pandas()
    on_rows = ws.sql("SELECT * FROM ML.EVALUATE(MODEL shifted, TABLE lt)").to_pandas()
    assert on_rows["mean_absolute_error"][0] == pytest.approx(stored["mean_absolute_error"][0])
    assert on_rows["mean_absolute_error"][0] < 1.0  # not 100: the label went through TRANSFORM
    # predicting needs only what the TRANSFORM reads
    predicted = ws.sql("SELECT * FROM ML.PREDICT(MODEL shifted, (SELECT x FROM lt))").to_pandas()
    assert predicted["predicted_label"].between(99, 102).all()


def test_transform_errors_and_sandbox(ws: Workspace) -> None:
    from pmle.errors import InvalidInput
    from pmle.sqlml.transform import Transform

    ws.sql("CREATE TABLE st AS SELECT i AS x, 'a' || i AS s, i * 2.0 AS label FROM range(50) r(i)")
    for bad, where in (
        ("ML.STANDARD_SCALER(nope) OVER ()", "ML.STANDARD_SCALER(nope)"),
        ("ML.IMPUTER(s, 'mean') OVER ()", "ML.IMPUTER(s, 'mean')"),
        ("ML.LABEL_ENCODER(s, 10, 5) OVER ()", "only the column"),
    ):
        with pytest.raises(InvalidInput, match=re.escape(where)):
            ws.sql(
                f"CREATE MODEL bad TRANSFORM({bad} AS f, label) "
                "OPTIONS(model_type='linear_reg') AS SELECT * FROM st"
            )
    with pytest.raises(InvalidInput, match="one expression"):
        Transform.from_dict({"items": [["f", "1 FROM t; COPY (SELECT 1) TO '/tmp/x.csv'"]]})
    sneaky = Transform([("f", "(SELECT content FROM read_text('/etc/hostname'))")])
    with pytest.raises(InvalidInput, match="TRANSFORM failed"):
        sneaky.apply(pd.DataFrame({"x": [1]}))  # a saved TRANSFORM reads no file
