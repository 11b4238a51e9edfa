"""The gate of a training pipeline: is the candidate better than the current champion?

Both models are scored on the same rows — the candidate's held-out test split, rebuilt from
its Model artifact's metadata (`dataset` or `data_path`, `target`, `test_fraction`, `seed`;
see :mod:`pmle.pipelines.components.training`) — with one metric, in its direction (AUC
higher is better, log loss lower). The champion is `MODEL@ALIAS` in the registry; with none
yet the candidate passes. The champion may have seen some of those rows in training (when it
was trained on an overlapping dataset): that favours the champion, never the candidate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from pmle.models.format import LoadedModel
    from pmle.workspace import Workspace

__all__ = ["GREATER_IS_BETTER", "GateResult", "evaluate_step", "score_model"]

#: Metrics the gate compares (pmle.automl's names) → whether higher is better.
GREATER_IS_BETTER = {
    "auc": True,
    "auc_pr": True,
    "accuracy": True,
    "log_loss": False,
    "rmse": False,
    "mae": False,
    "rmsle": False,
    "r2": True,
}
_CLASSIFICATION = {"auc", "auc_pr", "accuracy", "log_loss"}


@dataclass(frozen=True)
class GateResult:
    """The gate's decision and the two scores behind it."""

    passed: bool
    metric: str
    greater_is_better: bool
    candidate: float
    champion: float | None  # None: there is no champion yet
    champion_ref: str  # NAME@VERSION of the champion, "" when none
    rows: int  # rows both were scored on
    min_improvement: float

    @property
    def improvement(self) -> float | None:
        """How much better the candidate is (positive: better), in the metric's units."""
        if self.champion is None:
            return None
        diff = self.candidate - self.champion
        return diff if self.greater_is_better else -diff


def score_model(model: LoadedModel, frame: pd.DataFrame, target: str, metric: str) -> float:
    """`metric` of a loaded pmle model on labelled rows `frame` (labels in column `target`)."""
    import numpy as np

    from pmle.automl import objectives

    features = frame.drop(columns=[target])
    if metric in _CLASSIFICATION:
        classes = model.classes
        if model.task not in {"binary", "multiclass"} or not classes:
            raise InvalidInput(f"{metric} needs a classifier; this model's task is {model.task}")
        index = {str(c): i for i, c in enumerate(classes)}
        labels = frame[target].astype(str)
        unknown = sorted(set(labels) - set(index))
        if unknown:
            raise InvalidInput(
                f"the test rows have classes the model does not know: {unknown[:5]}",
                hint="compare models trained on the same classes",
            )
        y = labels.map(index).to_numpy(dtype="int64")
        if metric in {"auc", "auc_pr"} and len(np.unique(y)) < 2:
            raise InvalidInput(f"{metric} needs both classes among the test rows")
        return objectives.metric(metric, y, model.predict_proba(features))
    if model.task != "regression":
        raise InvalidInput(f"{metric} needs a regression model; this model's task is {model.task}")
    y = frame[target].to_numpy(dtype="float64")
    return objectives.metric(metric, y, np.asarray(model.predict(features), dtype="float64"))


def _test_rows(ws: Workspace, meta: Mapping[str, Any]) -> tuple[pd.DataFrame, str]:
    from pmle.pipelines.components.training import holdout_split, load_training_data

    try:
        target = str(meta["target"])
        fraction = float(meta["test_fraction"])
        seed = int(meta["seed"])
    except (KeyError, TypeError, ValueError):
        raise InvalidInput(
            "the Model artifact does not say how it was tested (target, test_fraction, seed)",
            hint="evaluate models that automl_train made",
        ) from None
    data = load_training_data(ws, str(meta.get("dataset") or ""), str(meta.get("data_path") or ""))
    return holdout_split(data.frame, target, fraction, seed)[1], target


def evaluate_step(
    ws: Workspace,
    model_dir: str | Path,
    model_metadata: Mapping[str, Any],
    model_name: str,
    *,
    alias: str = "champion",
    metric: str = "",
    min_improvement: float = 0.0,
) -> GateResult:
    """Score the candidate at `model_dir` and `model_name@alias` on the candidate's held-out
    rows with `metric` (default: the metric the candidate was optimised for). Passed when there
    is no champion, or the candidate is better by at least `min_improvement` (0: at least as
    good)."""
    from pmle.errors import NotFound
    from pmle.models.format import load_model

    name = metric or str(model_metadata.get("metric") or "")
    if name not in GREATER_IS_BETTER:
        raise InvalidInput(
            f"unknown metric {name!r} for the gate",
            hint=f"use one of {', '.join(GREATER_IS_BETTER)}",
        )
    if isinstance(min_improvement, bool) or not isinstance(min_improvement, int | float):
        raise InvalidInput(f"min_improvement must be a number, got {min_improvement!r}")
    rows, target = _test_rows(ws, model_metadata)
    candidate = score_model(load_model(model_dir), rows, target, name)
    higher = GREATER_IS_BETTER[name]
    try:
        champion_version = ws.models.get(f"{model_name}@{alias}")
    except NotFound:
        return GateResult(True, name, higher, candidate, None, "", len(rows), min_improvement)
    champion = score_model(ws.models.load(champion_version.ref), rows, target, name)
    gain = candidate - champion if higher else champion - candidate
    return GateResult(
        gain >= min_improvement,
        name,
        higher,
        candidate,
        champion,
        champion_version.ref,
        len(rows),
        float(min_improvement),
    )
