"""`pmle fairness` and the fairness section of `pmle automl card`, over a real workspace and
real LightGBM models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pmle.cli.app import app
from pmle.workspace import Workspace

runner = CliRunner()


@pytest.fixture
def scored(ws: Workspace, make_classifier: Any, tmp_path: Path) -> tuple[Workspace, Path]:
    """Model `m`, which never selects group q, and a holdout CSV with true labels."""
    rng = np.random.default_rng(9)
    n = 1200
    table = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["p", "q"], n, p=[0.6, 0.4])})
    y = pd.Series(np.where(table["x"] > 0, "yes", "no"))
    ws.models.register(
        "m",
        make_classifier(table, y.where(table["c"] == "p", "no")),
        input_example=table.assign(c=table["c"].astype("category")),
    )
    csv = tmp_path / "holdout.csv"
    table.assign(label=y).to_csv(csv, index=False)
    return ws, csv


def run(ws: Workspace, *args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["-w", str(ws.root), *args], env={"COLUMNS": "200"})
    return res.exit_code, res.output


def test_fairness_table_and_json(scored: tuple[Workspace, Path]) -> None:
    ws, csv = scored
    code, out = run(ws, "fairness", "m", "--data", str(csv), "--sensitive", "c", "-l", "label")
    assert code == 0, out
    assert "m@1 on" in out and "favourable yes" in out
    assert "selection rate" in out and "demographic parity difference" in out
    assert "Vertex AI bias metrics: p vs q" in out and "difference in population size" in out
    assert "stored as report 1" in out
    code, out = run(
        ws, "fairness", "m", "-d", str(csv), "-s", "c", "-l", "label", "--slice", "q", "--json"
    )
    assert code == 0, out
    report = json.loads(out)
    assert report["id"] == 2 and report["slices"] == ["q", "(rest)"]
    q = next(g for g in report["groups"] if g["group"] == "q")
    assert q["selection_rate"] == 0 and report["demographic_parity_difference"] > 0.4
    assert report["slice_metrics"]["difference_in_population_size"] < 0
    assert [r.id for r in ws.fairness.list("m")] == [2, 1]


def test_errors_are_one_line(scored: tuple[Workspace, Path]) -> None:
    ws, csv = scored
    for args, message in (
        (["-s", "gender", "-l", "label"], "no sensitive column 'gender'"),
        (["-s", "c"], "does not record its target"),
        (["-s", "c", "-l", "label", "--positive", "maybe"], "'maybe' is not a class"),
        (["-s", "c", "-l", "label", "--slice", "z"], "no group 'z'"),
    ):
        code, out = run(ws, "fairness", "m", "--data", str(csv), *args)
        assert code == 2, (args, out)
        assert out.startswith("error:") and message in out, out
    code, out = run(ws, "fairness", "m", "--sensitive", "c")
    assert code == 2 and "--data" in out


def test_card_shows_fairness(scored: tuple[Workspace, Path]) -> None:
    ws, csv = scored
    code, out = run(ws, "automl", "card", "m")
    assert code == 2 and "has no model card" in out and "pmle fairness" in out
    code, out = run(ws, "fairness", "m", "-d", str(csv), "-s", "c", "-l", "label")
    assert code == 0, out
    code, out = run(ws, "automl", "card", "m")
    assert code == 0, out
    assert "Model card: m@1" in out and "Fairness" in out and "Demographic parity" in out
    code, out = run(ws, "automl", "card", "m@1", "--html")
    assert code == 0 and "<h2>Fairness</h2>" in out and "<td>q</td>" in out


def test_automl_card_has_fairness_section(ws: Workspace, churn_csv: Path) -> None:
    from pmle.automl.job import train

    ws.datasets.import_("churn", churn_csv)
    train(ws, "churn", "churn", model="churn", budget=4, n_jobs=1)
    code, out = run(ws, "automl", "card", "churn")
    assert code == 0 and "Leaderboard" in out and "No fairness report yet" in out
    code, out = run(ws, "fairness", "churn", "--data", "churn", "--sensitive", "female")
    assert code == 0, out
    assert "label churn" in out and "favourable Yes" in out
    code, out = run(ws, "automl", "card", "churn")
    assert code == 0 and "Leaderboard" in out and "Sensitive column female" in out
