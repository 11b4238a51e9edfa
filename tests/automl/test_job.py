"""`pmle.automl.train` and `pmle automl train` on a workspace dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pmle.automl import train
from pmle.cli.app import app
from pmle.errors import InvalidInput
from pmle.workspace import Workspace

pytestmark = pytest.mark.slow


def test_registered_model_reloads_and_predicts_identically(ws: Workspace, churn_csv: Path) -> None:
    dv = ws.datasets.import_("churn", churn_csv)
    result = train(ws, "churn", "churn", model="churn", budget=5, aliases=("champion",))
    mv = result.model_version
    assert mv.ref == "churn@1" and set(mv.aliases) == {"default", "champion"}
    assert mv.flavor == "ensemble" and mv.task == "binary"
    assert 0.8 < result.test_metrics["auc"] <= 1.0
    assert result.latency["latency_1_row_ms"] > 0
    frame = ws.datasets.to_pandas("churn")
    loaded = ws.models.load("churn@champion")
    np.testing.assert_array_equal(
        loaded.predict_proba(frame), result.fit.model.predict_proba(frame)
    )
    np.testing.assert_array_equal(loaded.predict(frame), result.fit.model.predict(frame))
    # metrics, leaderboard and card travel with the model
    assert loaded.metrics["objective"] == "maximize-au-roc"
    folder = ws.models.path("churn@1")
    card = (folder / "model_card.md").read_text()
    assert "## Leaderboard" in card and "contract" in card
    assert (folder / "model_card.html").read_text().startswith("<!doctype html>")
    # lineage: the model was made by an AutoML execution from the dataset
    assert mv.lineage_artifact_id is not None and dv.lineage_artifact_id is not None
    up = ws.lineage.upstream(mv.lineage_artifact_id)
    assert dv.lineage_artifact_id in up.artifacts
    assert {x.type for x in up.executions.values()} >= {"AutoML", "Import"}


def test_explicit_test_dataset(ws: Workspace, churn_csv: Path) -> None:
    ws.datasets.import_("churn", churn_csv)
    parts = ws.datasets.split("churn", fractions=(0.8, 0.2))
    result = train(
        ws, parts["train"].ref, "churn", model="m", budget=4, test_dataset=parts["validation"].ref
    )
    assert result.test_source == parts["validation"].ref
    assert set(result.test_metrics) == {"auc", "log_loss", "auc_pr", "accuracy"}


def test_bad_input(ws: Workspace, churn_csv: Path) -> None:
    ws.datasets.import_("churn", churn_csv)
    with pytest.raises(InvalidInput, match="no column 'nope'"):
        train(ws, "churn", "nope", model="m", budget=5)
    with pytest.raises(InvalidInput, match="too small"):
        train(ws, "churn", "churn", model="m", budget="1s")
    with pytest.raises(InvalidInput, match="must be numeric"):
        train(ws, "churn", "contract", model="m", budget=5, task="regression")


def test_cli_train_and_card(ws: Workspace, churn_csv: Path) -> None:
    ws.datasets.import_("churn", churn_csv)
    runner = CliRunner()
    base = ["-w", str(ws.root), "automl"]
    res = runner.invoke(
        app,
        [*base, "train", "-d", "churn", "-t", "churn", "-m", "c", "-b", "4s", "--format", "json"],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["model"] == "c@1" and summary["leaderboard"]
    res = runner.invoke(app, [*base, "train", "-d", "churn", "-t", "churn", "-m", "c", "-b", "4s"])
    assert res.exit_code == 0, res.output
    assert "registered c@2" in res.output and "feature importance" in res.output
    res = runner.invoke(app, [*base, "card", "c@1"])
    assert res.exit_code == 0 and "Leaderboard" in res.output
    for args, message in (
        (["-d", "churn", "-t", "nope"], "no column 'nope'"),
        (["-d", "churn", "-t", "churn", "-b", "0.5s"], "too small"),
        (["-d", "churn", "-t", "contract", "--task", "binary"], "exactly 2 classes"),
        (["-d", "nosuch", "-t", "churn"], "no dataset named"),
    ):
        res = runner.invoke(app, [*base, "train", *args, "-m", "x"])
        assert res.exit_code == 2, (args, res.output)
        assert res.output.startswith("error:") and message in res.output
