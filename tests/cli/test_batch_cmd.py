"""`pmle batch-predict` over a real workspace and a real LightGBM model."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pmle.cli.app import app
from pmle.workspace import Workspace

runner = CliRunner()


@pytest.fixture
def scored_ws(ws: Workspace, tmp_path: Path) -> tuple[Workspace, Path]:
    """A workspace with model `m` and a 1,000-row input file."""
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"a": rng.normal(size=1000), "c": rng.choice(["p", "q"], 1000)})
    X = df.assign(c=df["c"].astype("category"))
    clf = lgb.LGBMClassifier(n_estimators=5, num_threads=1, verbose=-1).fit(X, X["a"] > 0)
    ws.models.register("m", clf, input_example=X)
    src = tmp_path / "in.csv"
    df.to_csv(src, index=False)
    return ws, src


def run(ws: Workspace, *args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["-w", str(ws.root), "batch-predict", *args], env={"COLUMNS": "200"})
    return res.exit_code, res.output


def test_batch_predict_file_and_dataset(scored_ws: tuple[Workspace, Path], tmp_path: Path) -> None:
    ws, src = scored_ws
    out = tmp_path / "out.parquet"
    code, text = run(ws, "m", "--input", str(src), "--output", str(out), "--chunk-rows", "300")
    assert code == 0, text
    assert "predicted 1,000 rows" in text and "m@1" in text and str(out) in text
    table = pq.read_table(out)
    assert table.num_rows == 1000
    assert table.column_names == ["a", "c", "prediction", "probability_False", "probability_True"]
    code, text = run(ws, "m@default", "-i", str(src), "-o", "scored", "--no-resume", "-f", "json")
    assert code == 0, text
    result = json.loads(text)
    assert result["output"] == "scored@1" and result["rows"] == 1000 and result["chunks"] == 1
    assert ws.datasets.get("scored").num_rows == 1000


def test_errors_are_one_line(scored_ws: tuple[Workspace, Path], tmp_path: Path) -> None:
    ws, src = scored_ws
    cases = {
        ("nope", "-i", str(src), "-o", "x"): "no model named 'nope'",
        ("m", "-i", "unknown", "-o", "x"): "no dataset named 'unknown'",
        ("m", "-i", str(tmp_path / "no.csv"), "-o", "x"): "no such file",
        ("m", "-i", str(src), "-o", "x.jsonl"): "unknown output format",
        ("m", "-i", str(src), "-o", "x", "--runner", "spark"): "unknown runner 'spark'",
    }
    for args, message in cases.items():
        code, text = run(ws, *args)
        assert code == 2, (args, text)
        assert text.startswith("error:") and message in text, (args, text)
        assert "Traceback" not in text
