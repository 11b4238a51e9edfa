"""Encodings of SQL models: text columns coded the same whether they arrive as Arrow text or
as the categoricals CREATE MODEL makes of them before the split."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pmle.sqlml.encoding import LabelCodes, OneHot, as_categories, category_codes


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "plan": pd.array(["gold", None, "basic", "gold", "trial", "basic"], dtype="str"),
            "n": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0],
        }
    ).astype({"plan": pd.StringDtype("pyarrow")})


def test_as_categories_keeps_values_and_codes() -> None:
    frame = _frame()
    coded = as_categories(frame, ["plan", "n"])
    assert isinstance(coded["plan"].dtype, pd.CategoricalDtype)
    assert coded["n"].dtype == frame["n"].dtype  # numbers untouched
    assert frame["plan"].dtype == pd.StringDtype("pyarrow")  # the input is not changed
    assert coded["plan"].astype(object).tolist() == frame["plan"].astype(object).tolist()
    # "trial" is unseen (not a category), None is NULL: both -1, as for Arrow text
    categories = ["basic", "gold", "premium"]
    assert category_codes(coded["plan"], categories).tolist() == [1, -1, 0, 1, -1, 0]
    assert np.array_equal(
        category_codes(coded["plan"], categories), category_codes(frame["plan"], categories)
    )
    # rows selected after the encoding keep their codes
    rows = np.array([True, False, True, False, True, True])
    assert category_codes(coded["plan"][rows], categories).tolist() == [1, 0, -1, 0]


def test_encoders_agree_on_categoricals_and_text() -> None:
    frame = _frame()
    coded = as_categories(frame, ["plan"])
    train = slice(0, 4)
    for encoder in (OneHot, LabelCodes):
        from_text = encoder.fit(frame.iloc[train], ["plan", "n"])
        from_codes = encoder.fit(coded.iloc[train], ["plan", "n"])
        assert from_text.to_dict() == from_codes.to_dict()
        assert np.array_equal(from_text.matrix(frame), from_codes.matrix(coded), equal_nan=True)
