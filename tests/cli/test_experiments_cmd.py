"""`pmle experiments …` from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from pmle.cli.app import app
from pmle.workspace import Workspace

runner = CliRunner()


def _run(ws: Workspace, *args: str) -> Any:
    return runner.invoke(app, ["-w", str(ws.root), *args], env={"COLUMNS": "200"})


def _runs(ws: Workspace) -> None:
    for lr in (0.1, 0.3):
        with ws.tracking.start_run("churn", f"lr-{lr}", params={"lr": lr}) as run:
            for step in range(4):
                run.log_metric("loss", 1 - lr * step / 2)
            run.log_metric("auc", 0.8 + lr / 10)
            with run.child(f"fold-{lr}") as fold:
                fold.log_metric("auc", 0.7)


def test_list_show_run(ws: Workspace) -> None:
    _runs(ws)
    listed = _run(ws, "experiments", "list")
    assert listed.exit_code == 0, listed.output
    assert "churn" in listed.output and "4" in listed.output
    shown = _run(ws, "experiments", "show", "churn", "--filter", "metrics.auc > 0.75")
    assert shown.exit_code == 0, shown.output
    assert "lr-0.1" in shown.output and "lr-0.3" in shown.output
    assert "fold-0.1" not in shown.output  # auc 0.7
    best = _run(
        ws,
        "experiments",
        "show",
        "churn",
        "--order-by",
        "metrics.auc DESC",
        "--max",
        "1",
        "--format",
        "json",
    )
    assert [r["name"] for r in json.loads(best.output)] == ["lr-0.3"]
    csv = _run(ws, "experiments", "show", "churn", "--format", "csv")
    assert csv.output.splitlines()[0].startswith("run_id,experiment,run,status")
    one = _run(ws, "experiments", "run", "churn/lr-0.1")
    assert one.exit_code == 0, one.output
    assert "FINISHED" in one.output and "nested runs: fold-0.1" in one.output
    assert "0.81" in one.output


def test_compare_with_plot(ws: Workspace, tmp_path: Path) -> None:
    _runs(ws)
    plot = tmp_path / "curves.png"
    result = _run(ws, "experiments", "compare", "churn/lr-0.1", "churn/lr-0.3", "--plot", str(plot))
    assert result.exit_code == 0, result.output
    assert "params.lr" in result.output and "metrics.auc" in result.output
    assert plot.read_bytes().startswith(b"\x89PNG")
    page = tmp_path / "curves.html"
    as_json = _run(
        ws,
        "experiments",
        "compare",
        "churn/lr-0.1",
        "churn/lr-0.3",
        "-m",
        "loss",
        "--plot",
        str(page),
        "--json",
    )
    data = json.loads(as_json.stdout)  # the "drawn to" line goes to stderr
    assert data["churn/lr-0.3"]["params.lr"] == "0.3"
    assert "<svg" in page.read_text()


def test_errors_are_one_line(ws: Workspace) -> None:
    _runs(ws)
    for args, message in (
        (("show", "nope"), "no experiment named 'nope'"),
        (("show", "churn", "--filter", "metrics.auc >"), "ends too early"),
        (("run", "churn/none"), "no run 'churn/none'"),
        (("compare", "churn/lr-0.1", "--plot", "x.gif"), "unknown format"),
        (("show", "churn", "--format", "xml"), "unknown format 'xml'"),
    ):
        result = _run(ws, "experiments", *args)
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output


def test_export_to_mlflow(ws: Workspace, tmp_path: Path, monkeypatch) -> None:
    import pytest

    mlflow = pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)
    _runs(ws)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = _run(ws, "experiments", "export-mlflow", "churn", "--to", uri, "--artifacts", "arts")
    assert done.exit_code == 0, done.output
    assert "exported 4 run(s)" in done.output
    client = mlflow.tracking.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("churn").experiment_id])
    assert len(runs) == 4
    missing = _run(ws, "experiments", "export-mlflow", "churn")
    assert missing.exit_code == 2 and "say where to" in missing.output
