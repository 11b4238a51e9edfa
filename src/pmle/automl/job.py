"""`pmle.automl.train`: AutoML on a workspace dataset, registered as a model version (the job)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    from pmle.automl.fit import AutoMLFit
    from pmle.automl.search import OnEvent
    from pmle.models.registry import ModelVersion
    from pmle.workspace import Workspace

#: Below this many rows no test split is held out: every row is needed for training.
MIN_ROWS_FOR_TEST = 200


@dataclass
class AutoMLResult:
    """A registered AutoML model and how it was made."""

    model_version: ModelVersion
    fit: AutoMLFit
    test_metrics: dict[str, float]
    latency: dict[str, float]
    test_source: str
    seconds: float

    @property
    def leaderboard(self) -> list[dict[str, Any]]:
        """Candidates, best first."""
        return self.fit.leaderboard


def train(
    ws: Workspace,
    dataset: str,
    target: str,
    *,
    model: str,
    task: str = "auto",
    objective: str | None = None,
    budget: float | int | str = 60,
    weight_column: str | None = None,
    test_dataset: str | None = None,
    test_fraction: float = 0.1,
    seed: int = 0,
    n_jobs: int | None = None,
    aliases: tuple[str, ...] = (),
    description: str = "",
    on_event: OnEvent | None = None,
) -> AutoMLResult:
    """Train on `dataset` (NAME[@V]) to predict `target` within `budget`; register as `model`.

    Metrics are measured on `test_dataset` when given, else on a seeded `test_fraction` of the
    rows held out from training (none when the data is small or `test_fraction` is 0)."""
    from pmle._util import check_name
    from pmle.automl.fit import evaluate, fit_automl, latency, parse_budget

    started = time.monotonic()
    check_name(model, "model name")
    seconds = parse_budget(budget)
    if not 0 <= test_fraction < 0.5:
        raise InvalidInput("test_fraction must be in [0, 0.5)")
    dv = ws.datasets.get(dataset)
    frame = ws.datasets.to_pandas(dv)
    if target not in frame.columns:
        raise InvalidInput(
            f"{dv.ref} has no column {target!r}", hint=f"columns: {', '.join(frame.columns)}"
        )
    inputs = [dv.lineage_artifact_id] if dv.lineage_artifact_id else []
    test_frame = None
    test_source = "none"
    if test_dataset is not None:
        tv = ws.datasets.get(test_dataset)
        test_frame = ws.datasets.to_pandas(tv)
        test_source = tv.ref
        if tv.lineage_artifact_id:
            inputs.append(tv.lineage_artifact_id)
    elif test_fraction > 0 and len(frame) >= MIN_ROWS_FOR_TEST and frame[target].notna().all():
        frame, test_frame = _holdout(frame, target, test_fraction, seed)
        test_source = f"{test_fraction:.0%} of {dv.ref} held out (seed {seed})"
    fit = fit_automl(
        frame,
        target,
        task=task,
        objective=objective,
        budget=seconds,
        weight_column=weight_column,
        seed=seed,
        n_jobs=n_jobs,
        on_event=on_event,
        started=started,
    )
    ensemble = fit.model
    test_metrics = (
        evaluate(ensemble, test_frame, fit.problem, fit.objective) if test_frame is not None else {}
    )
    lat = latency(ensemble, frame.drop(columns=[target]))
    metrics: dict[str, Any] = {
        "objective": fit.objective.name,
        f"cv_{fit.objective.metric}": fit.search.ensemble_score,
        **{f"test_{k}": v for k, v in test_metrics.items()},
        **lat,
    }
    attach_card(
        fit,
        model=model,
        target=target,
        dataset=dv.ref,
        train_rows=len(frame),
        budget_s=seconds,
        metrics=metrics,
        test_source=test_source,
    )
    version = ws.models.register(
        model,
        ensemble,
        description=description or f"AutoML on {dv.ref} → {target}",
        signature=ensemble.input_signature,
        metrics=metrics,
        task=fit.problem.task,
        inputs=inputs,
        aliases=aliases,
        execution="AutoML",
        execution_properties={
            "objective": fit.objective.name,
            "budget_s": seconds,
            "candidates": len(fit.search.leaderboard),
            "validation": fit.search.folds.strategy,
        },
    )
    return AutoMLResult(version, fit, test_metrics, lat, test_source, time.monotonic() - started)


def _holdout(frame: Any, target: str, fraction: float, seed: int) -> tuple[Any, Any]:
    """A seeded (stratified when the target has few values) train / test split of rows."""
    from sklearn.model_selection import train_test_split

    y = frame[target]
    counts = y.value_counts()
    stratify = y if len(counts) <= 200 and counts.min() >= 2 else None
    train, test = train_test_split(frame, test_size=fraction, random_state=seed, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def attach_card(
    fit: AutoMLFit,
    *,
    model: str,
    target: str,
    dataset: str,
    train_rows: int,
    budget_s: float,
    metrics: dict[str, Any],
    test_source: str,
) -> None:
    """Write the model card (Markdown and HTML) of an AutoML fit into its ensemble's info."""
    from pmle._util import utcnow
    from pmle.automl import card

    facts = {
        "model": model,
        "task": fit.problem.task,
        "target": target,
        "classes": fit.problem.classes,
        "dataset": dataset,
        "train_rows": train_rows,
        "objective": fit.objective.name,
        "validation": fit.search.folds.strategy,
        "candidates": len(fit.search.leaderboard),
        "seconds": fit.seconds,
        "budget": float(budget_s),
        "created_at": utcnow().isoformat(timespec="seconds"),
        "metrics": metrics,
        "leaderboard": fit.leaderboard,
        "importance": fit.feature_importance,
        "notes": fit.problem.notes,
    }
    md = card.markdown(facts)
    fit.model.info.update(
        {
            "model_card_md": md,
            "model_card_html": card.to_html(md),
            "test_source": test_source,
            "budget_s": float(budget_s),
        }
    )
