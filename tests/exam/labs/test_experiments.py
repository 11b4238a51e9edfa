"""Lab experiments: the raw and the cleaned dataset versions, then tracked runs that vary a
hyperparameter, log val_rmse and read the cleaned version."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pmle.exam import labs
from pmle.exam.labs import experiments
from pmle.exam.labs.folder import read_marker
from pmle.workspace import Workspace


def _train(ws: Workspace, ref: str, leaves: int, *, dataset: bool = True) -> None:
    import lightgbm as lgb

    frame = ws.datasets.to_pandas(ref).astype({"district": "category"})
    x = frame.drop(columns=["price", "listing_id"])
    cut = int(len(frame) * 0.8)
    with ws.tracking.start_run("rentals-price", params={"num_leaves": leaves}) as run:
        if dataset:
            run.log_dataset(ref)
        model = lgb.LGBMRegressor(num_leaves=leaves, n_estimators=50, num_threads=1, verbose=-1)
        model.fit(x.iloc[:cut], frame["price"].iloc[:cut])
        error = model.predict(x.iloc[cut:]) - frame["price"].iloc[cut:]
        run.log_metric("val_rmse", float(np.sqrt(np.mean(error**2))))


def test_experiments_lab(tmp_path: Path) -> None:
    folder = tmp_path / "lab"
    ws = labs.start("experiments", folder)
    priced = read_marker(folder)["facts"]["priced"]  # type: ignore[index]
    assert 1300 < priced < experiments.ROWS  # some prices are missing
    fresh = labs.check("experiments", folder)
    assert [c.passed for c in fresh] == [False] * 4
    assert f"pmle data import rentals {experiments.FILE}" in fresh[0].detail

    raw = ws.datasets.import_("rentals", folder / experiments.FILE)
    _train(ws, raw.ref, 7)  # on the raw version: does not count
    half = labs.check("experiments", folder)
    assert [c.passed for c in half] == [True, False, False, False]
    assert f"{priced:,} rows" in half[1].detail
    assert "0 of 1 finished run(s) qualify" in half[2].detail

    # dropping more than the rows without a price is not the cleaned version asked for
    ws.datasets.import_sql("rentals", "SELECT * FROM rentals WHERE price > 1000")
    clean = ws.datasets.import_sql("rentals", 'SELECT * FROM "rentals@1" WHERE price IS NOT NULL')
    assert clean.ref == "rentals@3"
    _train(ws, clean.ref, 15)
    _train(ws, clean.ref, 15)
    _train(ws, clean.ref, 31, dataset=False)  # no lineage: does not count
    runs = labs.check("experiments", folder)
    assert [c.passed for c in runs] == [True, True, False, False]
    assert "did not record rentals@3 as input" in runs[2].detail
    assert "num_leaves (1 value)" in runs[3].detail

    _train(ws, clean.ref, 4)
    _train(ws, clean.ref, 63)
    solved = labs.check("experiments", folder)
    assert all(c.passed for c in solved), solved
    assert solved[1].detail == "rentals@3" and solved[3].detail == "num_leaves: 4, 15, 63"
    ws.close()
