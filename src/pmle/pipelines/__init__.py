"""Pipelines: Kubeflow Pipelines v2 pipelines (compiled IR) read, checked and run locally."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pmle._util import lazy_exports

__all__ = [
    "ArtifactRef",
    "Condition",
    "Launch",
    "LightweightFunction",
    "PipelineCache",
    "PipelineRun",
    "PipelineRunResult",
    "PipelineSchedule",
    "PipelineSpec",
    "Pipelines",
    "ResourceLimiter",
    "RunContext",
    "Schedules",
    "TaskRecord",
    "TaskRequest",
    "TaskResult",
    "TaskState",
    "WorkerPool",
    "build_executor_input",
    "check_supported",
    "evaluate_condition",
    "ignored_features",
    "lightweight_function",
    "load_any",
    "load_pipeline",
    "parse_condition",
    "parse_pipeline",
    "run_container",
    "run_importer",
    "run_pipeline",
    "run_task",
    "topological_order",
]

if TYPE_CHECKING:
    from pmle.pipelines.cache import PipelineCache
    from pmle.pipelines.compile import load_any
    from pmle.pipelines.conditions import Condition, parse_condition
    from pmle.pipelines.conditions import evaluate as evaluate_condition
    from pmle.pipelines.container import run_container, run_importer
    from pmle.pipelines.executor_input import ArtifactRef, build_executor_input
    from pmle.pipelines.ir import PipelineSpec, load_pipeline, parse_pipeline, topological_order
    from pmle.pipelines.lightweight import LightweightFunction, lightweight_function
    from pmle.pipelines.limits import ResourceLimiter
    from pmle.pipelines.placeholders import RunContext
    from pmle.pipelines.runs import PipelineRun, Pipelines
    from pmle.pipelines.scheduler import PipelineRunResult, TaskRecord, run_pipeline
    from pmle.pipelines.schedules import Launch, PipelineSchedule, Schedules
    from pmle.pipelines.support import check_supported, ignored_features
    from pmle.pipelines.tasks import TaskRequest, TaskResult, TaskState, run_task
    from pmle.pipelines.workers import WorkerPool

__getattr__ = lazy_exports(
    __name__,
    {
        "Condition": "conditions",
        "parse_condition": "conditions",
        "evaluate_condition": ("conditions", "evaluate"),
        "PipelineSpec": "ir",
        "load_pipeline": "ir",
        "parse_pipeline": "ir",
        "topological_order": "ir",
        "LightweightFunction": "lightweight",
        "lightweight_function": "lightweight",
        "check_supported": "support",
        "ignored_features": "support",
        "ArtifactRef": "executor_input",
        "build_executor_input": "executor_input",
        "RunContext": "placeholders",
        "TaskRequest": "tasks",
        "TaskResult": "tasks",
        "TaskState": "tasks",
        "run_task": "tasks",
        "WorkerPool": "workers",
        "run_container": "container",
        "run_importer": "container",
        "ResourceLimiter": "limits",
        "PipelineRunResult": "scheduler",
        "TaskRecord": "scheduler",
        "run_pipeline": "scheduler",
        "PipelineCache": "cache",
        "load_any": "compile",
        "PipelineRun": "runs",
        "Pipelines": "runs",
        "Launch": "schedules",
        "PipelineSchedule": "schedules",
        "Schedules": "schedules",
    },
)
