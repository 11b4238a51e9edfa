"""Deploying a registered model on an endpoint, and batch prediction, as pipeline steps."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pmle.serving.batch import BatchPredictionResult
    from pmle.serving.endpoints import DeployedModel
    from pmle.workspace import Workspace

__all__ = ["PREDICTIONS_FILE", "batch_lineage_inputs", "batch_predict_step", "deploy_step"]

#: The file inside a predictions artifact's folder.
PREDICTIONS_FILE = "predictions.parquet"


def deploy_step(
    ws: Workspace, model_ref: str, endpoint: str, *, traffic_percent: int = 100
) -> DeployedModel:
    """Deploy `model_ref` on `endpoint` (created when missing) with `traffic_percent` of the
    traffic, the models already there keeping their proportions of the rest (a canary when
    under 100). The first model on an endpoint takes all traffic: a canary needs an
    incumbent."""
    if endpoint not in {e.name for e in ws.endpoints.list()}:
        ws.endpoints.create(endpoint, description="created by a pmle pipeline")
    share = traffic_percent if ws.endpoints.get(endpoint).deployed_models else 100
    return ws.endpoints.deploy(endpoint, model_ref, traffic_percent=share)


def batch_predict_step(
    ws: Workspace, model_ref: str, source: str, out_dir: str | os.PathLike[str]
) -> BatchPredictionResult:
    """Predict `model_ref` over `source` (a dataset reference or a .parquet / .csv / .jsonl
    file) into `out_dir/predictions.parquet` (`out_dir` is the artifact's folder)."""
    from pmle.serving.batch import batch_predict

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return batch_predict(ws, model_ref, source, folder / PREDICTIONS_FILE)


def batch_lineage_inputs(ws: Workspace, result: BatchPredictionResult) -> list[int]:
    """Lineage ids of what a batch prediction read: the model version, and the dataset
    version when the input was one (a file has no node of its own)."""
    ids = [ws.models.get(result.model).lineage_artifact_id]
    if not os.path.exists(result.input):
        ids.append(ws.datasets.get(result.input).lineage_artifact_id)
    return [i for i in ids if i is not None]
