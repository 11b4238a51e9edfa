"""AUTOML_CLASSIFIER and AUTOML_REGRESSOR on pmle's own AutoML (:mod:`pmle.automl`): a
portfolio of proven configurations, tuning with the time left and ensemble selection. AutoML
does its own validation split (cross-validation or a holdout, by table size), so the rows
reach it unsplit.

`budget_hours`: BigQuery ML's default, 1.0 hour, is far too long for a local run. pmle spends
exactly `budget_hours × 3600` seconds when the option is given (at least 3 s, the least in
which AutoML reliably fits a first model on a small table: `budget_hours=0.0005` trains in
about 3 s), and 60 seconds — pmle AutoML's own default — when
it is not. `optimization_objective` takes BigQuery ML's names: MINIMIZE_RMSE, MINIMIZE_MAE,
MINIMIZE_RMSLE (regression; default MINIMIZE_RMSE), MAXIMIZE_AU_ROC (binary default),
MINIMIZE_LOG_LOSS (multiclass default), MAXIMIZE_AU_PRC; MAXIMIZE_PRECISION_AT_RECALL and
MAXIMIZE_RECALL_AT_PRECISION are refused (pmle's AutoML has no such objective).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.sqlml.families.common import Fitted, class_labels, probs_column, python_value

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.sqlml.options import Options

__all__ = ["AutoMLEstimator", "budget_seconds", "fit", "load", "objective_name"]

FOLDER = "automl"
DEFAULT_BUDGET_S = 60.0
#: Below this AutoML may not finish even one candidate (its own floor, 2 s, is tighter).
MIN_BUDGET_S = 3.0
OBJECTIVES = {
    "MINIMIZE_RMSE": "minimize-rmse",
    "MINIMIZE_MAE": "minimize-mae",
    "MINIMIZE_RMSLE": "minimize-rmsle",
    "MAXIMIZE_AU_ROC": "maximize-au-roc",
    "MINIMIZE_LOG_LOSS": "minimize-log-loss",
    "MAXIMIZE_AU_PRC": "maximize-au-prc",
}


@dataclass
class AutoMLEstimator:
    """The AutoML ensemble (it reads the feature columns as they are)."""

    ensemble: Any  # pmle.models.ensemble.EnsembleModel
    signature: dict[str, Any]
    classes: list[Any] | None = None

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        return np.asarray(self.ensemble.predict_proba(frame), dtype="float64")

    def predict_output(self, frame: pd.DataFrame, label: str | None) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        name = f"predicted_{label}"
        if self.classes is None:
            values = np.asarray(self.ensemble.predict(frame), dtype="float64")
            return pd.DataFrame({name: values}, index=frame.index)
        proba = self.predict_proba(frame)
        labels = [self.classes[i] for i in np.argmax(proba, axis=1)]
        return pd.DataFrame(
            {name: labels, f"{name}_probs": probs_column(proba, self.classes)}, index=frame.index
        )

    def save(self, directory: Path) -> dict[str, Any]:
        from pmle.models.flavors import ensemble_flavor

        folder = directory / FOLDER
        folder.mkdir()
        facts = ensemble_flavor.facts(self.ensemble, task=None, classes=None)
        ensemble_flavor.save(self.ensemble, facts, folder)
        return {"signature": self.signature, "classes": self.classes}


def load(directory: Path, state: dict[str, Any]) -> AutoMLEstimator:
    """An AutoMLEstimator written by `save` (the ensemble flavor's safe files)."""
    from pmle.models.flavors import ensemble_flavor

    predictor = ensemble_flavor.load(directory / FOLDER, {"signature": state["signature"]})
    return AutoMLEstimator(predictor.native, state["signature"], state.get("classes"))


def budget_seconds(options: Options) -> float:
    """The search's seconds: `budget_hours × 3600` (at least 3), else 60."""
    hours = options.get("budget_hours")
    if hours is None:
        return DEFAULT_BUDGET_S
    return max(float(hours) * 3600.0, MIN_BUDGET_S)


def objective_name(options: Options) -> str | None:
    """pmle's name of `optimization_objective` (None: AutoML's default for the task)."""
    given = options.get("optimization_objective")
    if given is None:
        return None
    key = str(given).upper()
    if key not in OBJECTIVES:
        raise InvalidInput(
            f"optimization_objective {given!r} is not supported",
            hint=f"use one of {', '.join(OBJECTIVES)}",
        )
    return OBJECTIVES[key]


def fit(
    train: pd.DataFrame,
    evaluation: pd.DataFrame | None,
    options: Options,
    label: str,
    features: list[str],
) -> Fitted:
    """Run pmle's AutoML on `train[features]` → `train[label]` within the budget."""
    import numpy as np

    from pmle.automl.fit import fit_automl
    from pmle.sqlml.explain import baseline_instance, fit_global_explain

    started = time.perf_counter()
    if options.classifier:
        classes = class_labels(train[label], options.model_type)
        task = "binary" if len(classes) == 2 else "multiclass"
    else:
        task = "regression"
    frame = train[[*features, label]]
    result = fit_automl(
        frame,
        label,
        task=task,
        objective=objective_name(options),
        budget=budget_seconds(options),
        seed=0,
    )
    ensemble = result.model
    assert ensemble.input_signature is not None  # AutoML always records the training frame's
    signature = ensemble.input_signature.to_dict()
    fitted_classes = (
        [python_value(c) for c in ensemble.classes] if ensemble.classes is not None else None
    )
    estimator = AutoMLEstimator(ensemble, signature, fitted_classes)
    y = train[label]
    if fitted_classes is None:
        pred = np.asarray(ensemble.predict(train), dtype="float64")
        loss = float(np.mean((pred - y.astype("float64").to_numpy()) ** 2))
    else:
        from pmle.sqlml.encoding import label_codes

        proba = np.clip(estimator.predict_proba(train), 1e-15, 1.0)
        codes = label_codes(y, fitted_classes)
        keep = codes >= 0
        loss = float(-np.mean(np.log(proba[keep, codes[keep]])))
    info = {
        "training_run": 0,
        "iteration": 0,
        "loss": loss,
        "eval_loss": None,
        "learning_rate": None,
        "duration_ms": int((time.perf_counter() - started) * 1000),
    }
    extra = {
        "objective": result.objective.name,
        "cv_score": ensemble.info.get("cv_score"),
        "budget_s": budget_seconds(options),
        "leaderboard": result.leaderboard[:10],
    }
    extra["baseline"] = baseline_instance(train, features)
    fitted = Fitted(estimator, fitted_classes, [info], extra)
    fit_global_explain(fitted, options, label, features, train)
    return fitted
