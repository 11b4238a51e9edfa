"""Runs exported to an MLflow tracking store, read back with MLflow's own client."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmle.errors import InvalidInput
from pmle.tracking.mlflow_export import export_runs
from pmle.workspace import Workspace

mlflow = pytest.importorskip("mlflow")


@pytest.fixture(autouse=True)
def _mlflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # MLflow makes ./mlruns for its default store when models load: keep it in the test's folder
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


def test_runs_with_curves_nesting_and_artifacts(ws: Workspace, tmp_path: Path) -> None:
    with ws.tracking.start_run("churn", "parent", params={"lr": 0.1}) as run:
        for step in range(4):
            run.log_metric("loss", 1 / (step + 1))
        run.log_text("all good", "reports/summary.txt")
        run.set_tag("team", "risk")
        run.note("first try")
        with run.child("fold-1") as child:
            child.log_metric("auc", 0.7)
    with pytest.raises(ZeroDivisionError), ws.tracking.start_run("churn", "broken"):
        1 / 0  # noqa: B018
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    exported = export_runs(ws, uri, ["churn"], artifact_location=str(tmp_path / "artifacts"))
    assert len(exported) == 3
    client = mlflow.tracking.MlflowClient(uri)
    experiment = client.get_experiment_by_name("churn")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"parent", "fold-1", "broken"}
    parent = runs["parent"]
    assert parent.info.status == "FINISHED" and runs["broken"].info.status == "FAILED"
    assert parent.data.params == {"lr": "0.1"} and parent.data.tags["team"] == "risk"
    assert parent.data.tags["mlflow.note.content"] == "first try"
    assert parent.data.tags["pmle.run_id"] == str(run.id)
    history = client.get_metric_history(parent.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, 1 / (s + 1)) for s in range(4)]
    assert runs["fold-1"].data.tags["mlflow.parentRunId"] == parent.info.run_id
    files = [a.path for a in client.list_artifacts(parent.info.run_id, "reports")]
    assert files == ["reports/summary.txt"]
    local = client.download_artifacts(parent.info.run_id, "reports/summary.txt", str(tmp_path))
    assert Path(local).read_text() == "all good"
    assert parent.info.start_time == int(ws.tracking.run(run.id).started_at.timestamp() * 1000)


def test_bad_store(ws: Workspace, tmp_path: Path) -> None:
    with ws.tracking.start_run("e", "r"):
        pass
    with pytest.raises(InvalidInput, match="refused the export"):
        export_runs(ws, "nosuchscheme://store", ["e"])  # not a store MLflow knows
