"""Runs exported to an MLflow tracking store (needs the `mlflow` extra): a file store
(`file:///path/mlruns`), an SQLite or other database URI, or a tracking server
(`http://mlflow:5000`) — through MLflow's own client, so MLflow reads them as its own.

Each pmle experiment becomes (or joins) the MLflow experiment of the same name; each run
keeps its name, start and end times, status, parameters, tags, every point of every metric
curve (step and time), its artifacts, and its parent (`mlflow.parentRunId`). The pmle run id
is kept as the tag `pmle.run_id`.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    from pmle.tracking.records import RunInfo
    from pmle.workspace import Workspace

__all__ = ["export_runs"]

_STATUS = {"RUNNING": "RUNNING", "FINISHED": "FINISHED", "FAILED": "FAILED", "KILLED": "KILLED"}
#: MLflow's log_batch limits per call
_BATCH_METRICS = 1000
_BATCH_PARAMS = 100


def _ms(value: Any) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def export_runs(
    ws: Workspace,
    tracking_uri: str,
    experiments: Sequence[str] | None = None,
    *,
    runs: Sequence[int | str] | None = None,
    artifact_location: str | None = None,
) -> dict[int, str]:
    """Export the runs of `experiments` (all when None), or just `runs`; {pmle run id: MLflow
    run id}. Experiments MLflow does not have yet are created with `artifact_location` (a
    folder or URI for their artifacts; MLflow's default is `./mlruns` under the current folder
    for a database store)."""
    try:
        from mlflow.entities import Metric, Param
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise InvalidInput(
            "exporting runs to MLflow needs MLflow, which is not installed",
            hint="pip install 'pmle[mlflow]'",
        ) from None
    tracking = ws.tracking
    if runs is not None:
        infos = [tracking.run(r) for r in runs]
    else:
        infos = [tracking.run(i.id) for i in tracking.runs(experiments, max_results=None)]
    infos.sort(key=lambda r: r.id)  # parents before their children
    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        return _export(ws, client, infos, Metric, Param, artifact_location)
    except MlflowException as exc:
        raise InvalidInput(f"MLflow ({tracking_uri}) refused the export: {exc.message}") from None


def _export(
    ws: Workspace,
    client: Any,
    infos: list[RunInfo],
    metric_type: Any,
    param_type: Any,
    artifact_location: str | None,
) -> dict[int, str]:
    experiment_ids: dict[str, str] = {}
    exported: dict[int, str] = {}
    for info in infos:
        if info.experiment not in experiment_ids:
            found = client.get_experiment_by_name(info.experiment)
            experiment_ids[info.experiment] = (
                found.experiment_id
                if found
                else client.create_experiment(
                    info.experiment, artifact_location=_location(artifact_location, info.experiment)
                )
            )
        tags = {**info.tags, "pmle.run_id": str(info.id), "mlflow.runName": info.name}
        if info.notes:
            tags["mlflow.note.content"] = info.notes
        if info.parent_id is not None and info.parent_id in exported:
            tags["mlflow.parentRunId"] = exported[info.parent_id]
        created = client.create_run(
            experiment_ids[info.experiment],
            start_time=_ms(info.started_at),
            tags=tags,
            run_name=info.name,
        )
        run_id = created.info.run_id
        params = [param_type(k, v) for k, v in info.params.items()]
        for start in range(0, len(params), _BATCH_PARAMS):
            client.log_batch(run_id, params=params[start : start + _BATCH_PARAMS])
        metrics = _metrics(ws, info, metric_type)
        for start in range(0, len(metrics), _BATCH_METRICS):
            client.log_batch(run_id, metrics=metrics[start : start + _BATCH_METRICS])
        _artifacts(ws, client, run_id, info)
        client.set_terminated(run_id, status=_STATUS[info.status], end_time=_ms(info.ended_at))
        exported[info.id] = run_id
    return exported


def _location(base: str | None, experiment: str) -> str | None:
    if base is None:
        return None
    if "://" in base:
        return f"{base.rstrip('/')}/{experiment}"
    return (Path(base).resolve() / experiment).as_uri()


def _metrics(ws: Workspace, info: RunInfo, metric_type: Any) -> list[Any]:
    out = []
    for key in info.metrics:
        for point in ws.tracking.metric_history(info.id, key):
            value = point.value
            out.append(
                metric_type(
                    key,
                    float("nan") if math.isnan(value) else value,
                    int(point.timestamp * 1000),
                    point.step,
                )
            )
    return out


def _artifacts(ws: Workspace, client: Any, run_id: str, info: RunInfo) -> None:
    for artifact in info.artifacts:
        name = artifact["path"]
        parent, _, leaf = name.rpartition("/")
        with tempfile.TemporaryDirectory(prefix="pmle-export-") as tmp:
            if artifact["is_dir"]:
                folder = ws.artifacts.materialize_tree(artifact["key"])
                client.log_artifacts(run_id, str(folder), artifact_path=name)
            else:
                copy = Path(tmp) / leaf
                shutil.copyfile(ws.artifacts.path(artifact["key"]), copy)
                client.log_artifact(run_id, str(copy), artifact_path=parent or None)
