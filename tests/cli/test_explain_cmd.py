"""`pmle explain`: attributions of instances, of rows of a file, and global importance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from pmle.cli.app import app
from pmle.workspace import Workspace

runner = CliRunner()


def _run(ws: Workspace, *args: str) -> Any:
    return runner.invoke(app, ["-w", str(ws.root), *args], catch_exceptions=False)


def test_explain_one_instance(deployed: Workspace) -> None:
    instance = {"x": 1.5, "n": 3, "c": "red", "b": True}
    res = _run(deployed, "explain", "churn", "--instance", json.dumps(instance))
    assert res.exit_code == 0, res.output
    assert "instance 0 for 'yes'" in res.output and "logit" in res.output
    assert "tree shap" in res.output and "█" in res.output
    for name in instance:
        assert name in res.output


def test_explain_rows_of_a_file_as_json(
    deployed: Workspace, table: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "rows.csv"
    table.to_csv(path, index=False)
    res = _run(deployed, "explain", "churn", "--data", str(path), "--rows", "3", "--json")
    assert res.exit_code == 0, res.output
    found = json.loads(res.output)
    assert len(found) == 3
    for e in found:
        total = sum(e["feature_attributions"].values()) + e["baseline_output"]
        assert total == pytest.approx(e["instance_output"], abs=1e-9)
    want = deployed.explanations.explain("churn", table.head(3))
    for got, w in zip(found, want, strict=True):
        assert got["feature_attributions"] == pytest.approx(w.feature_attributions)


def test_sampled_shapley_and_global_importance(
    deployed: Workspace, table: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "train.parquet"
    table.to_parquet(path)
    res = _run(deployed, "explain", "churn", "--global", "--method", "sampled_shapley")
    assert res.exit_code == 2 and "no training dataset" in res.output
    res = _run(
        deployed, "explain", "churn", "--global", "-m", "sampled_shapley", "--data", str(path)
    )
    assert res.exit_code == 0, res.output
    assert "global importance" in res.output and "400 of 400 rows" in res.output
    res = _run(deployed, "explain", "churn", "--global", "-m", "sampled_shapley", "--json")
    stored = json.loads(res.output)
    assert stored["method"] == "sampled_shapley" and set(stored["global_importance"]) == {
        "x",
        "n",
        "c",
        "b",
    }
    res = _run(
        deployed,
        "explain",
        "churn",
        "-d",
        str(path),
        "-n",
        "2",
        "-m",
        "sampled_shapley",
        "--path-count",
        "4",
    )
    assert res.exit_code == 0, res.output
    assert "sampled shapley" in res.output and "approximation error" in res.output


def test_global_from_a_dataset_names_it_and_serves_every_method(
    deployed: Workspace, table: pd.DataFrame
) -> None:
    deployed.datasets.import_("churn_rows", table)
    res = _run(deployed, "explain", "churn", "--global", "--data", "churn_rows", "--json")
    assert res.exit_code == 0, res.output
    stored = json.loads(res.output)
    assert stored["method"] == "tree_shap"
    assert stored["source"] == "dataset churn_rows@1: 400 of 400 rows"
    # The other method's baseline came from the same rows: no second --data needed.
    res = _run(deployed, "explain", "churn", "--global", "-m", "sampled_shapley", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["source"] == stored["source"]


def test_global_from_a_file_samples_across_it(
    deployed: Workspace, table: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pmle.cli import explain_cmd
    from pmle.monitoring import explanations

    rows = table.assign(x=[0.0] * 200 + [1.0] * 200)  # the file's two halves differ
    path = tmp_path / "train.csv"
    rows.to_csv(path, index=False)
    seen: list[pd.DataFrame] = []
    compute = explanations.Explanations._compute

    def spy(self: Any, mv: Any, model: Any, method: str, frame: pd.DataFrame, *rest: Any) -> Any:
        seen.append(frame)
        return compute(self, mv, model, method, frame, *rest)

    monkeypatch.setattr(explanations.Explanations, "_compute", spy)
    monkeypatch.setattr(explanations, "BASELINE_ROWS", 100)
    monkeypatch.setattr(explain_cmd, "_CHUNK_ROWS", 64)
    res = _run(deployed, "explain", "churn", "--global", "--data", str(path), "--json")
    assert res.exit_code == 0, res.output
    source = json.loads(res.output)["source"]
    assert source == f"file {path} (100 of its 400 rows sampled): 100 of 100 rows"
    frame = seen[0]
    assert len(frame) == 100 and set(frame["x"]) == {0.0, 1.0}
    assert 25 < (frame["x"] == 1.0).sum() < 75


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "either --instance JSON or --data"),
        (["--instance", "{bad"], "not JSON"),
        (["--instance", "[1, 2]"], "JSON object keyed by column"),
        (["--instance", '{"x": 1}'], "missing column"),
        (["--instance", '{"x": 1}', "--global"], "--global takes no --instance"),
        (["--data", "nosuch"], "nosuch"),
        (["-i", '{"x": 1, "n": 1, "c": "red", "b": true}', "-m", "lime"], "unknown explanation"),
        (["-i", '{"x": 1, "n": 1, "c": "red", "b": true}', "--path-count", "0"], "path_count"),
    ],
)
def test_bad_input_exits_2(deployed: Workspace, args: list[str], message: str) -> None:
    res = _run(deployed, "explain", "churn", *args)
    assert res.exit_code == 2
    assert message in " ".join(res.output.split())
