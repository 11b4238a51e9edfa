"""`pmle demo`: the main job of pmle on embedded defaults, as one short guided run.

Import a real dataset shipped with pmle (telco customer churn), profile it, split it
deterministically, train an AutoML model on the training split within a short budget, register
it with the alias `champion`, and show the lineage recorded on the way. Later capabilities
extend it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pmle.automl.job import AutoMLResult
    from pmle.data.datasets import DatasetVersion
    from pmle.storage.lineage import LineageGraph
    from pmle.workspace import Workspace

DATASET = "churn"
TARGET = "churn"
DATA_FILE = "telco_churn.csv.gz"
MODEL = "churn"
BUDGET_S = 20

#: Called after each step with the step's name and its result.
OnStep = Callable[[str, Any], None]


@dataclass
class DemoResult:
    """What the demo made."""

    dataset: DatasetVersion
    splits: dict[str, DatasetVersion]
    automl: AutoMLResult
    lineage: LineageGraph


def sample_data_path() -> Path:
    """The churn CSV shipped inside the package (see resources/ATTRIBUTION.md)."""
    return Path(str(resources.files("pmle.resources").joinpath(DATA_FILE)))


def run_demo(
    ws: Workspace,
    on_step: OnStep | None = None,
    budget_s: float = BUDGET_S,
    on_automl_event: Callable[[str, dict[str, Any]], None] | None = None,
) -> DemoResult:
    """Run the demo in `ws`; `on_step(name, result)` lets an interface show progress."""
    from pmle.automl import train

    step = on_step or (lambda _name, _result: None)
    dv = ws.datasets.import_(
        DATASET,
        sample_data_path(),
        description="Telco customer churn (modeldata::wa_churn, MIT licence)",
    )
    step("imported", dv)
    splits = ws.datasets.split(dv.ref, method="random", fractions=(0.8, 0.1, 0.1), seed=42)
    step("split", splits)
    result = train(
        ws,
        splits["train"].ref,
        TARGET,
        model=MODEL,
        budget=budget_s,
        test_dataset=splits["test"].ref,
        aliases=("champion",),
        on_event=on_automl_event,
    )
    step("automl", result)
    graph = ws.lineage.upstream(result.model_version.lineage_artifact_id or 0)
    step("lineage", graph)
    return DemoResult(dv, splits, result, graph)
