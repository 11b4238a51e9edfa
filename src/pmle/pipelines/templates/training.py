"""The training pipeline: validate → train → evaluate → (if better) register → deploy.

Run it with `ws.pipelines.run(pmle.pipelines.templates.TRAINING, {...})`, or
`pmle pipelines run <this file> dataset=churn@2 target=churn model_name=churn`. Caching is by
parameters: name a dataset *version* (`churn@2`), so a new version is a new run, not a hit.
"""

from kfp import dsl

from pmle.pipelines.components.library import (
    automl_train,
    deploy_model,
    evaluate_model,
    register_model,
    validate_data,
)


@dsl.pipeline(
    name="pmle-training",
    description="Validate a dataset version, train AutoML, register the model if it beats the "
    "champion, and deploy it",
)
def training_pipeline(
    dataset: str,
    target: str,
    model_name: str,
    endpoint: str = "",
    budget_s: float = 10.0,
    min_improvement: float = 0.0,
    baseline: str = "",
    max_distance: float = 0.3,
    objective: str = "",
    alias: str = "champion",
    traffic_percent: int = 100,
) -> None:
    """`dataset` (NAME@V) is checked against `baseline` (default: its previous version), AutoML
    trains for `budget_s` seconds, and the model is registered as `model_name@alias` only when
    it beats the current one by `min_improvement` on held-out rows; then deployed on
    `endpoint` with `traffic_percent` of its traffic, unless `endpoint` is empty."""
    validated = validate_data(dataset=dataset, baseline=baseline, max_distance=max_distance)
    trained = automl_train(
        data=validated.outputs["data"], target=target, budget_s=budget_s, objective=objective
    )
    gate = evaluate_model(
        model=trained.outputs["model"],
        model_name=model_name,
        alias=alias,
        min_improvement=min_improvement,
    )
    with dsl.If(gate.outputs["passed"] == True, name="better-than-champion"):  # noqa: E712
        registered = register_model(
            model=trained.outputs["model"], model_name=model_name, alias=alias
        )
        with dsl.If(endpoint != "", name="has-endpoint"):
            deploy_model(
                model_ref=registered.outputs["Output"],
                endpoint=endpoint,
                traffic_percent=traffic_percent,
            )
