"""pmle's own KFP v2 components, and the steps they run.

The components (`validate_data`, `automl_train`, `evaluate_model`, `register_model`,
`deploy_model`, `batch_predict`, `run_monitor`; defined in
:mod:`pmle.pipelines.components.library`, which imports kfp) are thin: each opens the
workspace its worker runs for and calls a plain function here that does the work and is
tested directly — `validate_data_step`, `automl_train_step`, `evaluate_step`,
`register_step`, `deploy_step`, `batch_predict_step`, `run_monitor_step`.

Components that read or write workspace resources say so in their output artifacts'
metadata (`pmle_inputs` / `pmle_outputs`: lineage artifact ids), which pmle's runner turns
into lineage edges of the task (see :mod:`pmle.pipelines.lineage`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pmle._util import lazy_exports

__all__ = [
    "GateResult",
    "TrainedModel",
    "ValidationReport",
    "automl_train",
    "automl_train_step",
    "batch_predict",
    "batch_predict_step",
    "check_dataset",
    "deploy_model",
    "deploy_step",
    "evaluate_model",
    "evaluate_step",
    "register_model",
    "register_step",
    "run_monitor",
    "run_monitor_step",
    "validate_data",
    "validate_data_step",
]

if TYPE_CHECKING:
    from pmle.pipelines.components.evaluation import GateResult, evaluate_step
    from pmle.pipelines.components.library import (
        automl_train,
        batch_predict,
        deploy_model,
        evaluate_model,
        register_model,
        run_monitor,
        validate_data,
    )
    from pmle.pipelines.components.monitoring import run_monitor_step
    from pmle.pipelines.components.registry import register_step
    from pmle.pipelines.components.serving import batch_predict_step, deploy_step
    from pmle.pipelines.components.training import TrainedModel, automl_train_step
    from pmle.pipelines.components.validation import (
        ValidationReport,
        check_dataset,
        validate_data_step,
    )

__getattr__ = lazy_exports(
    __name__,
    {
        **{
            name: "library"
            for name in (
                "automl_train",
                "batch_predict",
                "deploy_model",
                "evaluate_model",
                "register_model",
                "run_monitor",
                "validate_data",
            )
        },
        "ValidationReport": "validation",
        "check_dataset": "validation",
        "validate_data_step": "validation",
        "TrainedModel": "training",
        "automl_train_step": "training",
        "GateResult": "evaluation",
        "evaluate_step": "evaluation",
        "register_step": "registry",
        "deploy_step": "serving",
        "batch_predict_step": "serving",
        "run_monitor_step": "monitoring",
    },
)
