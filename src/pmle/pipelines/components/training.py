"""AutoML training inside a pipeline: fit on the rows a Dataset artifact names, hold out a
seeded test split, save the model as a pmle model folder (the Model artifact).

The data is a workspace dataset version when the artifact's metadata names one (`dataset`, as
`validate_data` writes it), else the artifact's own file (Parquet, CSV or JSON Lines). The
held-out split is recorded in the model's metadata (`test_fraction`, `seed`), so the evaluation
step scores the candidate and the champion on exactly the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from pmle.workspace import Workspace

__all__ = [
    "DEFAULT_TEST_FRACTION",
    "TrainedModel",
    "TrainingData",
    "automl_train_step",
    "holdout_split",
    "load_training_data",
]

DEFAULT_TEST_FRACTION = 0.2


@dataclass(frozen=True)
class TrainingData:
    """Rows to train on and where they came from."""

    frame: pd.DataFrame
    dataset: str  # NAME@VERSION, or "" for a file
    path: str  # the file read when there is no dataset, else ""
    lineage_artifact_id: int | None

    @property
    def label(self) -> str:
        """The dataset reference or the file."""
        return self.dataset or self.path


def load_training_data(ws: Workspace, dataset: str = "", path: str = "") -> TrainingData:
    """The rows of workspace dataset `dataset` (NAME[@V]) when given, else of the file `path`."""
    import pandas as pd

    if dataset:
        dv = ws.datasets.get(dataset)
        return TrainingData(ws.datasets.to_pandas(dv), dv.ref, "", dv.lineage_artifact_id)
    file = Path(path)
    if not path or not file.is_file():
        raise InvalidInput(
            "the input Dataset artifact names no workspace dataset and has no file",
            hint="feed it from validate_data, or write Parquet / CSV to the artifact's path",
        )
    head = file.read_bytes()[:4]
    if head == b"PAR1":
        frame = pd.read_parquet(file)
    elif file.suffix.lower() in {".jsonl", ".ndjson", ".json"}:
        frame = pd.read_json(file, lines=True)
    else:
        frame = pd.read_csv(file)
    return TrainingData(frame, "", str(file), None)


def holdout_split(
    frame: pd.DataFrame, target: str, fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded train / test split of rows, stratified when the target has few values with at
    least two rows each; the same frame, fraction and seed always give the same rows."""
    from sklearn.model_selection import train_test_split

    if not 0 < fraction < 0.5:
        raise InvalidInput(f"test_fraction must be in (0, 0.5), got {fraction!r}")
    if target not in frame.columns:
        raise InvalidInput(
            f"the data has no column {target!r}", hint=f"columns: {', '.join(frame.columns)}"
        )
    y = frame[target]
    counts = y.value_counts()
    stratify = y if y.notna().all() and len(counts) <= 200 and counts.min() >= 2 else None
    try:
        train, test = train_test_split(
            frame, test_size=fraction, random_state=seed, stratify=stratify
        )
    except ValueError as exc:
        raise InvalidInput(f"cannot hold out {fraction:g} of {len(frame)} rows: {exc}")
    return train.reset_index(drop=True), test.reset_index(drop=True)


@dataclass(frozen=True)
class TrainedModel:
    """A model an AutoML step saved, and what the next steps need to know about it."""

    path: Path
    data: str  # dataset reference or file
    target: str
    task: str
    objective: str
    metric: str  # the objective's metric, e.g. auc
    greater_is_better: bool
    cv_score: float
    test_metrics: dict[str, float]
    train_rows: int
    test_rows: int
    test_fraction: float
    seed: int
    metadata: dict[str, Any] = field(default_factory=dict)


def automl_train_step(
    ws: Workspace,
    target: str,
    model_dir: str | Path,
    *,
    dataset: str = "",
    path: str = "",
    budget_s: float = 60.0,
    objective: str = "",
    test_fraction: float = DEFAULT_TEST_FRACTION,
    seed: int = 0,
    n_jobs: int | None = None,
) -> TrainedModel:
    """Train AutoML on `dataset` (or the file `path`) for `target` within `budget_s` seconds,
    measure it on a held-out `test_fraction` and save it to `model_dir` (a pmle model folder
    with metrics and a model card). `.metadata` is the Model artifact's metadata."""
    from pmle.automl.fit import evaluate, fit_automl
    from pmle.automl.job import attach_card
    from pmle.models.format import save_model

    data = load_training_data(ws, dataset, path)
    train, test = holdout_split(data.frame, target, test_fraction, seed)
    fit = fit_automl(
        train,
        target,
        objective=objective or None,
        budget=budget_s,
        seed=seed,
        n_jobs=n_jobs,
    )
    ensemble = fit.model
    test_metrics = evaluate(ensemble, test, fit.problem, fit.objective)
    cv_score = float(fit.search.ensemble_score)
    metrics: dict[str, Any] = {
        "objective": fit.objective.name,
        f"cv_{fit.objective.metric}": cv_score,
        **{f"test_{k}": v for k, v in test_metrics.items()},
    }
    source = f"{test_fraction:.0%} of {data.label} held out (seed {seed})"  # as pmle.automl says it
    attach_card(
        fit,
        model=f"AutoML → {target} (pipeline)",
        target=target,
        dataset=data.label,
        train_rows=len(train),
        budget_s=float(budget_s),
        metrics=metrics,
        test_source=source,
    )
    lineage = (
        {"inputs": [_describe(ws, data.lineage_artifact_id)]}
        if data.lineage_artifact_id is not None
        else {"data": data.label}
    )
    folder = save_model(
        ensemble,
        model_dir,
        signature=ensemble.input_signature,
        metrics=metrics,
        task=fit.problem.task,
        lineage=lineage,
    )
    metadata: dict[str, Any] = {
        "dataset": data.dataset,
        "data_path": data.path,
        "target": target,
        "task": fit.problem.task,
        "objective": fit.objective.name,
        "metric": fit.objective.metric,
        "greater_is_better": fit.objective.greater_is_better,
        "test_fraction": float(test_fraction),
        "seed": int(seed),
        "train_rows": len(train),
        "test_rows": len(test),
        "cv_score": cv_score,
        "test_metrics": {k: float(v) for k, v in test_metrics.items()},
    }
    if data.lineage_artifact_id is not None:
        metadata["pmle_inputs"] = [data.lineage_artifact_id]
    return TrainedModel(
        path=folder,
        data=data.label,
        target=target,
        task=fit.problem.task,
        objective=fit.objective.name,
        metric=fit.objective.metric,
        greater_is_better=fit.objective.greater_is_better,
        cv_score=cv_score,
        test_metrics={k: float(v) for k, v in test_metrics.items()},
        train_rows=len(train),
        test_rows=len(test),
        test_fraction=float(test_fraction),
        seed=int(seed),
        metadata=metadata,
    )


def _describe(ws: Workspace, artifact_id: int) -> dict[str, Any]:
    node = ws.lineage.artifact(artifact_id)
    return {"id": node.id, "type": node.type, "name": node.name, "uri": node.uri}
