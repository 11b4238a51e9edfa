"""pmle's own KFP v2 components: thin `@dsl.component` functions over the steps in this package.

kfp embeds each function's source in the compiled pipeline and runs it alone, so every import
is inside the body, and the body only opens the workspace (`PMLE_WORKSPACE`, which pmle's
runner sets for its workers) and calls the step that does the work. `packages_to_install`
names pmle: pmle's runner checks that it is importable; another KFP backend installs it.

```python
from kfp import dsl
from pmle.pipelines.components import automl_train, validate_data

@dsl.pipeline(name="train")
def train(dataset: str, target: str):
    data = validate_data(dataset=dataset)
    automl_train(data=data.outputs["data"], target=target, budget_s=30.0)
```
"""

# No `from __future__ import annotations`: kfp reads the annotations as types.
from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

__all__ = [
    "BASE_IMAGE",
    "PACKAGES",
    "automl_train",
    "batch_predict",
    "deploy_model",
    "evaluate_model",
    "register_model",
    "run_monitor",
    "validate_data",
]

#: The image another KFP backend would run these components in (pmle runs them in its own
#: environment and ignores it).
BASE_IMAGE = "python:3.11-slim"
PACKAGES = ["pmle"]


@dsl.component(base_image=BASE_IMAGE, packages_to_install=PACKAGES)
def validate_data(
    dataset: str,
    data: Output[Dataset],
    baseline: str = "",
    max_distance: float = 0.3,
) -> None:
    """Check dataset version `dataset` (NAME[@V]) against `baseline` (default: its previous
    version): same columns and types, each feature's distance at most `max_distance`. Fails
    naming what differs; else writes the version's Parquet file to `data`."""
    import pmle
    from pmle.pipelines.components.validation import validate_data_step

    with pmle.open_workspace() as ws:
        report = validate_data_step(
            ws, dataset, baseline=baseline, max_distance=max_distance, out_path=data.path
        )
    data.metadata.update(report.metadata())


@dsl.component(base_image=BASE_IMAGE, packages_to_install=PACKAGES)
def automl_train(
    data: Input[Dataset],
    target: str,
    model: Output[Model],
    metrics: Output[Metrics],
    budget_s: float = 60.0,
    objective: str = "",
    test_fraction: float = 0.2,
    seed: int = 0,
) -> None:
    """pmle AutoML on the dataset `data` names (or its file) for `target` within `budget_s`;
    a seeded `test_fraction` is held out and measured. Saves a pmle model folder to `model`."""
    import pmle
    from pmle.pipelines.components.training import automl_train_step

    with pmle.open_workspace() as ws:
        trained = automl_train_step(
            ws,
            target,
            model.path,
            dataset=str(data.metadata.get("dataset") or ""),
            path=data.path,
            budget_s=budget_s,
            objective=objective,
            test_fraction=test_fraction,
            seed=seed,
        )
    model.metadata.update(trained.metadata)
    metrics.log_metric(f"cv_{trained.metric}", trained.cv_score)
    for name, value in trained.test_metrics.items():
        metrics.log_metric(f"test_{name}", value)


@dsl.component(base_image=BASE_IMAGE, packages_to_install=PACKAGES)
def evaluate_model(
    model: Input[Model],
    model_name: str,
    alias: str = "champion",
    metric: str = "",
    min_improvement: float = 0.0,
) -> NamedTuple(  # type: ignore[valid-type]  # kfp reads the outputs from this
    "Outputs", [("passed", bool), ("candidate", float), ("champion", float), ("champion_ref", str)]
):
    """Gate: score `model` and `model_name@alias` on the candidate's held-out rows; passed
    when there is no champion or the candidate is better by at least `min_improvement`
    (`metric` default: the one it was trained for). `champion` is 0.0 and `champion_ref`
    empty when there is no champion."""
    from collections import namedtuple

    import pmle
    from pmle.pipelines.components.evaluation import evaluate_step

    with pmle.open_workspace() as ws:
        gate = evaluate_step(
            ws,
            model.path,
            model.metadata,
            model_name,
            alias=alias,
            metric=metric,
            min_improvement=min_improvement,
        )
    print(
        f"{gate.metric}: candidate {gate.candidate:.5g}, champion "
        + (f"{gate.champion_ref} {gate.champion:.5g}" if gate.champion is not None else "none")
        + f" → {'passed' if gate.passed else 'blocked'}"
    )
    Outputs = namedtuple("Outputs", ["passed", "candidate", "champion", "champion_ref"])
    champion = gate.champion if gate.champion is not None else 0.0
    return Outputs(gate.passed, gate.candidate, champion, gate.champion_ref)


@dsl.component(base_image=BASE_IMAGE, packages_to_install=PACKAGES)
def register_model(
    model: Input[Model],
    model_name: str,
    registered: Output[Artifact],
    alias: str = "champion",
) -> str:
    """Register `model` as a new version of `model_name` with `alias`, its lineage linked to
    the pipeline's Model artifact; returns NAME@VERSION. `registered` names the version (its
    `pmle_outputs` links the task to it in lineage)."""
    import json

    import pmle
    from pmle.pipelines.components.registry import register_step

    with pmle.open_workspace() as ws:
        version = register_step(
            ws,
            model.path,
            model_name,
            model_uri=model.uri,
            model_metadata=model.metadata,
            alias=alias,
        )
    with open(registered.path, "w") as f:
        json.dump({"model": version.ref}, f)
    registered.metadata["model"] = version.ref
    if version.lineage_artifact_id is not None:
        registered.metadata["pmle_outputs"] = [version.lineage_artifact_id]
    return version.ref


@dsl.component(base_image=BASE_IMAGE, packages_to_install=PACKAGES)
def deploy_model(model_ref: str, endpoint: str, traffic_percent: int = 100) -> str:
    """Deploy `model_ref` on `endpoint` (created when missing) with `traffic_percent` of the
    traffic (a canary under 100); returns the deployed model id."""
    import pmle
    from pmle.pipelines.components.serving import deploy_step

    with pmle.open_workspace() as ws:
        deployed = deploy_step(ws, model_ref, endpoint, traffic_percent=traffic_percent)
    return deployed.id


@dsl.component(base_image=BASE_IMAGE, packages_to_install=PACKAGES)
def batch_predict(model_ref: str, source: str, predictions: Output[Dataset]) -> None:
    """Predict `model_ref` over `source` (a dataset reference or a file); `predictions` is a
    folder holding predictions.parquet (inputs plus prediction columns)."""
    import pmle
    from pmle.pipelines.components.serving import (
        PREDICTIONS_FILE,
        batch_lineage_inputs,
        batch_predict_step,
    )

    with pmle.open_workspace() as ws:
        result = batch_predict_step(ws, model_ref, source, predictions.path)
        inputs = batch_lineage_inputs(ws, result)
    predictions.metadata.update(
        {
            "model": result.model,
            "source": result.input,
            "rows": result.rows,
            "file": PREDICTIONS_FILE,
            "pmle_inputs": inputs,
        }
    )


@dsl.component(base_image=BASE_IMAGE, packages_to_install=PACKAGES)
def run_monitor(monitor: str, data: str = "") -> int:
    """Run model monitor `monitor` now (over `data` when given, else its endpoint's logged
    requests); returns how many alerts it raised."""
    import pmle
    from pmle.pipelines.components.monitoring import run_monitor_step

    with pmle.open_workspace() as ws:
        run = run_monitor_step(ws, monitor, data=data)
    print(f"monitor {monitor}: {run.rows} rows, {len(run.alerts)} alert(s)")
    return len(run.alerts)
