"""CREATE MODEL's training / evaluation splits: BigQuery ML's AUTO_SPLIT thresholds exactly,
deterministic random splits whatever the row order, and CUSTOM / SEQ / RANDOM / NO_SPLIT."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from pmle.errors import InvalidInput
from pmle.sqlml.options import Options
from pmle.sqlml.split import split_mask
from pmle.workspace import Workspace


def _options(**given: Any) -> Options:
    return Options("LINEAR_REG", "linear", {"model_type": "LINEAR_REG", **given})


def _rows(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": np.arange(n), "x": rng.normal(size=n), "y": rng.normal(size=n)})


@pytest.mark.parametrize(
    ("n", "held_out"),
    [(10, None), (499, None), (500, 100), (12_345, 2469), (50_000, 10_000), (50_001, 10_000)],
)
def test_auto_split_thresholds(n: int, held_out: int | None) -> None:
    mask = split_mask(_rows(n), _options())
    if held_out is None:
        assert mask is None
    else:
        assert mask is not None and int(mask.sum()) == held_out


def test_random_split_ignores_row_order() -> None:
    frame = _rows(3000)
    shuffled = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    for options in (_options(), _options(data_split_method="RANDOM")):
        first = set(frame["id"][split_mask(frame, options)])
        second = set(shuffled["id"][split_mask(shuffled, options)])
        assert first == second and len(first) == 600
    # a different table splits differently (the side follows from the row's values)
    other = set(_rows(3000, seed=1)["id"][split_mask(_rows(3000, seed=1), _options())])
    assert other != first


def test_random_fraction() -> None:
    mask = split_mask(
        _rows(1000), _options(data_split_method="RANDOM", data_split_eval_fraction=0.3)
    )
    assert mask is not None and int(mask.sum()) == 300
    with pytest.raises(InvalidInput, match="no training rows"):
        split_mask(_rows(10), _options(data_split_method="RANDOM", data_split_eval_fraction=1.0))


def test_custom_split_takes_the_bool_column() -> None:
    frame = _rows(50)
    frame["is_eval"] = frame["id"] % 5 == 0
    options = _options(data_split_method="CUSTOM", data_split_col="is_eval")
    mask = split_mask(frame, options)
    assert mask is not None and (mask == frame["is_eval"].to_numpy()).all()
    frame["is_eval"] = frame["id"]
    with pytest.raises(InvalidInput, match="must be BOOL"):
        split_mask(frame, options)
    with pytest.raises(InvalidInput, match="not a column"):
        split_mask(_rows(10), options)


def test_seq_split_holds_out_the_last_rows_by_the_column() -> None:
    frame = _rows(100).sample(frac=1.0, random_state=3)  # the order of the rows does not matter
    frame["day"] = frame["id"] * 10
    mask = split_mask(
        frame, _options(data_split_method="SEQ", data_split_col="day", data_split_eval_fraction=0.1)
    )
    assert mask is not None
    assert sorted(frame["id"][mask]) == list(range(90, 100))


def test_no_split() -> None:
    assert split_mask(_rows(60_000), _options(data_split_method="NO_SPLIT")) is None


def test_create_model_splits_and_drops_the_split_column(ws: Workspace) -> None:
    frame = _rows(600)
    frame["y"] = 2 * frame["x"] + 1
    frame["is_eval"] = frame["id"] >= 450
    ws.datasets.import_("rows", frame)
    ws.sql(
        "CREATE MODEL auto OPTIONS(model_type='linear_reg', input_label_cols=['y']) "
        "AS SELECT x, y FROM rows"
    )
    ws.sql(
        "CREATE MODEL custom OPTIONS(model_type='linear_reg', input_label_cols=['y'], "
        "data_split_method='CUSTOM', data_split_col='is_eval') AS SELECT x, y, is_eval FROM rows"
    )
    auto, custom = (ws.sql_session.model(name) for name in ("auto", "custom"))
    assert auto.evaluation["rows"] == 120 and auto.evaluation["split"] == "evaluation"
    assert custom.evaluation["rows"] == 150
    assert custom.features == ["x"] and "is_eval" not in custom.inputs


def test_seq_puts_null_split_values_first() -> None:
    from pmle.sqlml.options import check_options
    from pmle.sqlml.split import split_mask

    ts = [None] * 30 + [f"2024-01-{d:02d}" for d in range(1, 71)]
    frame = pd.DataFrame({"ts": ts, "x": range(100)})
    options = check_options(
        {
            "model_type": "LINEAR_REG",
            "data_split_method": "SEQ",
            "data_split_col": "ts",
            "data_split_eval_fraction": 0.2,
        },
        "",
        {},
    )
    mask = split_mask(frame, options)
    assert mask is not None and mask.sum() == 20
    assert frame["ts"][mask].notna().all()  # the latest 20 dates, no NULL rows
    assert sorted(frame["ts"][mask]) == [f"2024-01-{d:02d}" for d in range(51, 71)]
