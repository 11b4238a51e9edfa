"""The distributed data-parallel example (examples/ddp_train.py) as a training job: two
processes on CPU (gloo) train one network, in sync, logged to the job's run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pmle.workspace import Workspace

torch = pytest.importorskip("torch")
EXAMPLE = Path(__file__).parents[2] / "examples" / "ddp_train.py"


def test_ddp_across_two_processes(ws: Workspace, churn_csv) -> None:
    ws.datasets.import_("churn", churn_csv)
    lines: list[str] = []
    job = ws.jobs.run(
        str(EXAMPLE), ["--workers", "2", "--epochs", "3"], data="churn", on_output=lines.append
    )
    assert job.state == "SUCCEEDED", job.error
    summary = json.loads((job.model_dir / "summary.json").read_text())
    assert summary["workers"] == 2 and summary["replicas_in_sync"] is True
    assert summary["losses"][-1] < summary["losses"][0]  # it learns
    info = ws.tracking.run(job.run_id)
    assert info.params["workers"] == "2" and info.params["backend"] == "gloo"
    curve = ws.tracking.metric_history(job.run_id, "train_loss")
    assert [p.value for p in curve] == pytest.approx(summary["losses"])
    assert info.tags["replicas_in_sync"] == "True"
    net = torch.jit.load(str(job.model_dir / "model.pt"))
    width = ws.datasets.to_pandas("churn").drop(columns=["churn"]).select_dtypes("number").shape[1]
    assert net(torch.zeros(4, width)).shape == (4, 1)
    assert any(line.startswith("DDP ") for line in lines)
