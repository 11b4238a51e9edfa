"""CatBoost as an AutoML family, used when the optional `catboost` package is installed
(`pip install 'pmle[catboost]'`). Its ordered target statistics for categories and oblivious
trees are strong on small tables with many categorical columns, and it errs differently from
LightGBM, which is what an ensemble wants."""

from __future__ import annotations

import importlib.util
import time
from typing import TYPE_CHECKING, Any

from pmle.models.catboost_member import pool

if TYPE_CHECKING:
    import numpy as np

    from pmle.automl.trainer import Fit, FitSetup, FoldData

_LOSS = {"binary": "Logloss", "multiclass": "MultiClass", "regression": "RMSE"}
_EVAL = {"auc": "AUC", "auc_pr": "PRAUC", "mae": "MAE"}


def available() -> bool:
    """Whether the optional catboost package can be imported."""
    return importlib.util.find_spec("catboost") is not None


class _Deadline:
    """Stops CatBoost's boosting loop when the search deadline passes."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.hit = False

    def after_iteration(self, info: Any) -> bool:
        if time.monotonic() > self.deadline:
            self.hit = True
            return False
        return True


def _model(params: dict[str, Any], task: str, threads: int, seed: int, iterations: int) -> Any:
    from catboost import CatBoostClassifier, CatBoostRegressor

    metric = params.get("_metric", "")
    loss = "MAE" if task == "regression" and metric == "mae" else _LOSS[task]
    cls = CatBoostRegressor if task == "regression" else CatBoostClassifier
    return cls(
        iterations=iterations,
        learning_rate=params.get("learning_rate", 0.08),
        depth=params.get("depth", 6),
        l2_leaf_reg=params.get("l2_leaf_reg", 3.0),
        # No combinations of categorical columns: several times faster on wide tables.
        max_ctr_complexity=params.get("max_ctr_complexity", 1),
        loss_function=loss,
        eval_metric=_EVAL.get(metric, loss),
        random_seed=seed,
        thread_count=threads,
        verbose=False,
        allow_writing_files=False,
    )


def fit(params: dict[str, Any], data: FoldData, setup: FitSetup) -> Fit:
    """Fit with early stopping on the validation fold; returns (model, predictions, rounds,
    cut by the deadline)."""
    import numpy as np

    from pmle.automl.trainer import OutOfTime

    if time.monotonic() > setup.deadline:
        raise OutOfTime
    model = _model(params, setup.task, setup.threads, setup.seed, iterations=3000)
    stop = _Deadline(setup.deadline)
    cats = setup.categorical
    model.fit(
        pool(data.x_tr, cats, data.y_tr, data.w_tr),
        eval_set=pool(data.x_va, cats, data.y_va, data.w_va),
        early_stopping_rounds=50,
        use_best_model=True,
        callbacks=[stop],
    )
    va = pool(data.x_va, cats)
    pred = model.predict(va) if setup.task == "regression" else model.predict_proba(va)
    return model, np.asarray(pred), int(model.get_best_iteration() or 0) + 1, stop.hit


def refit(
    params: dict[str, Any],
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    setup: FitSetup,
    rounds: int,
) -> Any | None:
    """One model on every row with a fixed number of rounds (None if the deadline cut it)."""
    model = _model(params, setup.task, setup.threads, setup.seed, iterations=max(1, rounds))
    stop = _Deadline(setup.deadline)
    model.fit(pool(x, setup.categorical, y, w), callbacks=[stop])
    return None if stop.hit else model
