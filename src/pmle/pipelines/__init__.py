"""Pipelines: Kubeflow Pipelines v2 pipelines (compiled IR) read, checked and run locally."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pmle._util import lazy_exports

__all__ = [
    "Condition",
    "LightweightFunction",
    "PipelineSpec",
    "check_supported",
    "evaluate_condition",
    "ignored_features",
    "lightweight_function",
    "load_pipeline",
    "parse_condition",
    "parse_pipeline",
    "topological_order",
]

if TYPE_CHECKING:
    from pmle.pipelines.conditions import Condition, parse_condition
    from pmle.pipelines.conditions import evaluate as evaluate_condition
    from pmle.pipelines.ir import PipelineSpec, load_pipeline, parse_pipeline, topological_order
    from pmle.pipelines.lightweight import LightweightFunction, lightweight_function
    from pmle.pipelines.support import check_supported, ignored_features

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
    },
)
