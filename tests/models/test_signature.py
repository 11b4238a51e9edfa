"""Signatures: inference from a frame, JSON form, and checking inputs against it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pmle.errors import InvalidInput
from pmle.models import ColumnSpec, Signature, infer_signature


def test_infer_types_in_order() -> None:
    frame = pd.DataFrame(
        {
            "f": [1.5, 2.0],
            "i": [1, 2],
            "ni": pd.array([1, None], dtype="Int64"),
            "s": ["a", "b"],
            "o": pd.Series(["a", None], dtype=object),
            "k": pd.Categorical(["y", "x"]),
            "b": [True, False],
            "t": pd.to_datetime(["2024-01-01", "2024-02-01"]),
        }
    )
    sig = infer_signature(frame)
    assert [(c.name, c.type) for c in sig.inputs] == [
        ("f", "float"),
        ("i", "integer"),
        ("ni", "integer"),
        ("s", "string"),
        ("o", "string"),
        ("k", "string"),
        ("b", "boolean"),
        ("t", "datetime"),
    ]
    assert sig.inputs[5].categories == ("x", "y")
    assert sig.inputs[3].categories is None  # plain strings keep no category list


def test_integer_categories_keep_their_type() -> None:
    sig = infer_signature(pd.DataFrame({"k": pd.Categorical([3, 1, 2])}))
    assert sig.inputs[0] == ColumnSpec("k", "integer", (1, 2, 3))


def test_json_round_trip() -> None:
    sig = Signature(
        (ColumnSpec("a", "float"), ColumnSpec("c", "string", ("x", "y"))),
        (ColumnSpec("prediction", "integer"),),
    )
    assert Signature.from_dict(sig.to_dict()) == sig


@pytest.mark.parametrize(
    "data, message",
    [
        ({"inputs": [{"name": "a", "type": "complex"}]}, "invalid type"),
        ({"inputs": [{"name": "a"}]}, "needs a name and a type"),
        ({"inputs": []}, "at least one input"),
        ({"inputs": [{"name": "a", "type": "float"}] * 2}, "duplicate input"),
        ({"outputs": []}, "malformed signature"),
    ],
)
def test_malformed_signatures(data: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Signature.from_dict(data)


def test_prepare_orders_checks_and_recodes() -> None:
    sig = Signature((ColumnSpec("x", "float"), ColumnSpec("c", "string", ("a", "b"))))
    out = sig.prepare(
        pd.DataFrame({"c": ["b", "z", None], "x": [1, 2, 3], "y": 0}), categorical=True
    )
    assert list(out.columns) == ["x", "c"]
    assert list(out["c"].cat.categories) == ["a", "b"]
    assert out["c"].cat.codes.tolist() == [1, -1, -1]  # unseen and missing: NaN
    plain = sig.prepare(pd.DataFrame({"c": ["b"], "x": [1.0]}), categorical=False)
    assert plain["c"].tolist() == ["b"]


def test_prepare_converts_loose_values() -> None:
    sig = Signature((ColumnSpec("x", "float"), ColumnSpec("b", "boolean")))
    out = sig.prepare(
        {"x": pd.Series(["1.5", "2"], dtype=object), "b": pd.Series([True, None], dtype=object)},
        categorical=True,
    )
    assert out["x"].tolist() == [1.5, 2.0]
    assert out["b"].iloc[0] == 1.0 and np.isnan(out["b"].iloc[1])
    with pytest.raises(InvalidInput, match="'b' must hold booleans"):
        sig.prepare({"x": [1.0], "b": ["yes"]}, categorical=True)


def test_infer_needs_a_frame() -> None:
    with pytest.raises(InvalidInput, match="must be a pandas DataFrame"):
        infer_signature([[1, 2]])  # type: ignore[arg-type]
