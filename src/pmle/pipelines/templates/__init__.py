"""Ready-made pipelines built from pmle's components, as source files `ws.pipelines.run` takes.

- :data:`TRAINING` — `pmle-training` (:mod:`pmle.pipelines.templates.training`): validate a
  dataset version, train AutoML, gate on the champion, register, deploy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pmle.pipelines.runs import PipelineRun
    from pmle.workspace import Workspace

__all__ = ["TRAINING", "run_training"]

#: The training pipeline's source file (its pipeline function is `training_pipeline`).
TRAINING = Path(__file__).with_name("training.py")


def run_training(
    ws: Workspace,
    dataset: str,
    target: str,
    model_name: str,
    *,
    no_cache: bool = False,
    on_task: Callable[[dict[str, Any]], None] | None = None,
    **params: Any,
) -> PipelineRun:
    """Run the training pipeline in `ws`; `params` are its other inputs (`endpoint`,
    `budget_s`, `min_improvement`, `baseline`, `max_distance`, `objective`, `alias`,
    `traffic_percent`)."""
    arguments = {"dataset": dataset, "target": target, "model_name": model_name, **params}
    return ws.pipelines.run(TRAINING, arguments, no_cache=no_cache, on_task=on_task)
