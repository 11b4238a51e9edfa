"""The serving fast path gives exactly LoadedModel's predictions, and names bad fields."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmle.errors import InvalidInput
from pmle.serving.runtime import Columns, ServedModel
from pmle.workspace import Workspace


def _records(frame: pd.DataFrame) -> list[dict]:
    return list(frame.astype(object).where(pd.notna(frame), None).to_dict(orient="records"))


@pytest.mark.parametrize("name", ["churn", "value"])
def test_fast_path_matches_loaded_model(
    deployed: Workspace, table: pd.DataFrame, name: str
) -> None:
    loaded = deployed.models.load(name)
    served = ServedModel(loaded)
    assert served.fast
    rows = table.head(60)
    pred = served.predict(served.columns_from_instances(_records(rows)))
    if loaded.task == "binary":
        np.testing.assert_allclose(pred.proba, loaded.predict_proba(rows), rtol=0, atol=1e-12)
        assert list(pred.values) == list(loaded.predict(rows))
    else:
        np.testing.assert_allclose(pred.values, loaded.predict(rows), rtol=0, atol=1e-12)


def test_list_instances_in_signature_order(deployed: Workspace, table: pd.DataFrame) -> None:
    served = ServedModel(deployed.models.load("churn"))
    rows = _records(table.head(3))
    as_lists = [[r[c] for c in served.input_names] for r in rows]
    a = served.predict(served.columns_from_instances(rows))
    b = served.predict(served.columns_from_instances(as_lists))
    np.testing.assert_array_equal(a.proba, b.proba)


def test_unknown_category_and_missing_values_predict(
    deployed: Workspace, table: pd.DataFrame
) -> None:
    loaded = deployed.models.load("churn")
    served = ServedModel(loaded)
    odd = pd.DataFrame({"x": [None, 0.5], "n": [3, None], "c": ["purple", None], "b": [True, None]})
    pred = served.predict(served.columns_from_instances(_records(odd)))
    want = loaded.predict_proba(odd.assign(x=odd.x.astype(float), n=odd.n.astype(float)))
    np.testing.assert_allclose(pred.proba, want, atol=1e-12)


def test_generic_flavor_goes_through_the_frame(
    ws: Workspace, table: pd.DataFrame, values: pd.Series
) -> None:
    from sklearn.linear_model import Ridge

    numeric = table[["x", "n"]].fillna(0.0)
    ws.models.register("ridge", Ridge().fit(numeric, values), input_example=numeric.head())
    loaded = ws.models.load("ridge")
    served = ServedModel(loaded)
    assert not served.fast
    pred = served.predict(served.columns_from_instances(_records(numeric.head(5))))
    np.testing.assert_allclose(pred.values, loaded.predict(numeric.head(5)))


@pytest.mark.parametrize(
    ("instances", "message"),
    [
        ([{"x": "abc", "n": 1, "c": "red", "b": True}], "instance 0: field 'x' must be a number"),
        (
            [{"x": 1.0, "n": 1, "c": "red", "b": True}, {"x": 1.0, "c": "red", "b": True}],
            "instance 1: missing field 'n'",
        ),
        ([{"x": 1.0, "n": 1, "c": {"a": 1}, "b": True}], "field 'c' must be a string"),
        ([{"x": 1.0, "n": 1, "c": "red", "b": "maybe"}], "field 'b' must be true, false or null"),
        ([[1.0, 2]], "instance 0 must be a list of 4 values"),
        ([3], "each instance must be an object"),
        ([], "non-empty"),
        ([{"x": 1.0, "n": 1, "c": "red", "b": True}, 5], "instance 1 is not an object"),
    ],
)
def test_bad_instances_name_the_field(deployed: Workspace, instances: list, message: str) -> None:
    served = ServedModel(deployed.models.load("churn"))
    with pytest.raises(InvalidInput, match=message):
        served.columns_from_instances(instances)


def test_concat_keeps_row_order(deployed: Workspace, table: pd.DataFrame) -> None:
    served = ServedModel(deployed.models.load("value"))
    rows = _records(table.head(9))
    parts = [served.columns_from_instances(rows[i : i + 3]) for i in range(0, 9, 3)]
    merged = served.predict(Columns.concat(parts))
    whole = served.predict(served.columns_from_instances(rows))
    np.testing.assert_array_equal(merged.values, whole.values)
    np.testing.assert_array_equal(merged.slice(3, 6).values, whole.values[3:6])


def test_all_numeric_models_read_instances_as_one_matrix(
    ws: Workspace, table: pd.DataFrame, labels: pd.Series
) -> None:
    import lightgbm as lgb

    numeric = table[["x", "n", "b"]]
    model = lgb.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1, num_threads=1)
    ws.models.register("num", model.fit(numeric, labels), input_example=numeric.head())
    loaded = ws.models.load("num")
    served = ServedModel(loaded)
    rows = _records(numeric.head(40))
    cols = served.columns_from_instances(rows)
    assert cols.matrix is not None and cols.matrix.shape == (40, 3)
    want = loaded.predict_proba(numeric.head(40))
    np.testing.assert_array_equal(served.predict(cols).proba, want)
    halves = Columns.concat(
        [served.columns_from_instances(rows[:15]), served.columns_from_instances(rows[15:])]
    )
    assert halves.matrix is not None
    np.testing.assert_array_equal(served.predict(halves).proba, want)
    np.testing.assert_array_equal(halves.data["n"], numeric["n"].head(40).to_numpy(dtype=float))
    # Values the matrix cannot hold fall back to the column checks, which name the field.
    with pytest.raises(InvalidInput, match="field 'b' must be true, false or null"):
        served.columns_from_instances([{"x": 1.0, "n": 2, "b": 0.5}])
    with pytest.raises(InvalidInput, match="instance 1: field 'n' must be a number"):
        served.columns_from_instances(
            [{"x": 1.0, "n": 2, "b": True}, {"x": 1.0, "n": "two", "b": True}]
        )


@pytest.mark.parametrize("name", ["churn", "value"])
def test_compiled_deployment_predicts_the_same(
    deployed: Workspace, table: pd.DataFrame, name: str, tmp_path: Path
) -> None:
    loaded = deployed.models.load(name)
    served = ServedModel(loaded, compile_dir=tmp_path)
    assert served.compiled
    rows = table.head(50)
    pred = served.predict(served.columns_from_instances(_records(rows)))
    if loaded.task == "binary":
        np.testing.assert_allclose(pred.proba, loaded.predict_proba(rows), rtol=0, atol=1e-12)
    else:
        np.testing.assert_allclose(pred.values, loaded.predict(rows), rtol=0, atol=1e-12)


def _numeric_model(ws: Workspace, table: pd.DataFrame, labels: pd.Series) -> ServedModel:
    """A LightGBM classifier on a float (x), an integer (n) and a boolean (b) column."""
    import lightgbm as lgb

    numeric = table[["x", "n", "b"]]
    model = lgb.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1, num_threads=1)
    ws.models.register("num", model.fit(numeric, labels), input_example=numeric.head())
    served = ServedModel(ws.models.load("num"))
    assert [c.type for c in served.signature.inputs] == ["float", "integer", "boolean"]
    return served


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


# Integers around the edges of double precision and of int64, and floats of every kind.
_INTS = [0, 1, -1, 7, 2**53 + 1, -(2**53) - 1, 2**62 + 3, 2**63 - 1, -(2**63), True, False]
_FLOATS = [0.5, -0.0, 5e-324, 1.7976931348623157e308, 0.1, -2.5e-310, 1e16 + 2, True, 3]


@pytest.mark.parametrize("n", [1, 3, 4, 15, 16, 100])
def test_rows_read_as_a_matrix_hold_numpys_numbers(
    ws: Workspace, table: pd.DataFrame, labels: pd.Series, n: int
) -> None:
    import orjson

    from pmle.serving import runtime

    served = _numeric_model(ws, table, labels)
    assert runtime.PACK_ROWS <= 4 and runtime.INT_PACK_ROWS <= 16  # every path below runs
    rows = [
        {"x": _FLOATS[i % len(_FLOATS)], "n": _INTS[i % len(_INTS)], "b": i % 2 == 0}
        for i in range(n)
    ]
    want = np.array([[r["x"], r["n"], r["b"]] for r in rows], dtype="float64")
    # Parsed by orjson (the server's key objects), by the standard library (fresh key
    # objects each time), in another key order, with extra keys, as lists.
    parsed = orjson.loads(orjson.dumps(rows))
    shuffled = [{"b": r["b"], "junk": "?", "n": r["n"], "x": r["x"]} for r in rows]
    as_lists = [[r["x"], r["n"], r["b"]] for r in rows]
    for instances in (rows, parsed, json.loads(json.dumps(rows)), shuffled, as_lists, parsed):
        cols = served.columns_from_instances(instances)
        assert cols.matrix is not None and cols.matrix.flags.writeable
        np.testing.assert_array_equal(_bits(cols.matrix), _bits(want))


@pytest.mark.parametrize("n", [3, 20])
@pytest.mark.parametrize(
    "odd",
    [
        {"n": 2.0},  # a float in an integer column
        {"n": 2**64 + 1},  # beyond int64
        {"n": 10**300},
        {"x": None},  # null: NaN
        {"n": "12"},  # a number in a string, as numpy reads it
        {"x": "1e-3"},
    ],
)
def test_rows_numpy_reads_differently_give_numpys_numbers(
    ws: Workspace, table: pd.DataFrame, labels: pd.Series, n: int, odd: dict
) -> None:
    served = _numeric_model(ws, table, labels)
    rows = [{"x": 0.25 * i, "n": i, "b": False} for i in range(n)]
    rows[n // 2] = {**rows[n // 2], **odd}  # one odd value in the middle of the batch
    want = np.array([[r["x"], r["n"], r["b"]] for r in rows], dtype="float64")
    cols = served.columns_from_instances(rows)
    assert cols.matrix is not None
    np.testing.assert_array_equal(_bits(cols.matrix), _bits(want))


@pytest.mark.parametrize(
    ("instances", "message"),
    [
        ([{"x": 1.0, "n": 1, "b": True}] * 30 + [{"x": 1.0, "b": True}], "instance 30: missing"),
        ([{"x": 1.0, "n": 1, "b": True}] * 30 + [[1.0, 1, True]], "instance 30 is not an object"),
        ([{"x": 1.0, "n": [1], "b": True}] * 20, "instance 0: field 'n' must be a number"),
        ([{"x": 1.0, "n": 1, "b": 2}] * 20, "instance 0: field 'b' must be true, false or null"),
        ([[1.0, 1, True]] * 19 + [[1.0, 1]], "instance 19 must be a list of 3 values"),
        ([{"n": 1, "b": True}] * 20, "instance 0: missing field 'x'"),
    ],
)
def test_bad_rows_of_many_still_name_the_field(
    ws: Workspace, table: pd.DataFrame, labels: pd.Series, instances: list, message: str
) -> None:
    served = _numeric_model(ws, table, labels)
    with pytest.raises(InvalidInput, match=message):
        served.columns_from_instances(instances)
