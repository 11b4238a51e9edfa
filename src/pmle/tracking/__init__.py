"""Experiment tracking (Vertex AI Experiments–like): experiments, nested runs, parameters,
metrics and their curves, tags, notes, artifacts, and the lineage of what a run read and made.

    with ws.tracking.start_run("churn", params={"lr": 0.1}) as run:
        run.log_metric("auc", 0.91)
        with run.child("fold-1") as fold:
            fold.log_metrics({"loss": 0.4}, step=0)

`ws.tracking.runs("churn", filter="metrics.auc > 0.9", order_by="metrics.auc DESC")` finds
runs; `compare` and `curves` put them side by side.
"""

from __future__ import annotations

from pmle.tracking.records import Experiment, MetricPoint, RunInfo
from pmle.tracking.runs import Run
from pmle.tracking.tracker import DEFAULT_EXPERIMENT, Tracking, frame_of

__all__ = [
    "DEFAULT_EXPERIMENT",
    "Experiment",
    "MetricPoint",
    "Run",
    "RunInfo",
    "Tracking",
    "frame_of",
]
