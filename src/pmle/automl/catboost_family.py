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


def fit(
    params: dict[str, Any],
    x_tr: np.ndarray,
    y_tr: np.ndarray,
    x_va: np.ndarray,
    y_va: np.ndarray,
    w_tr: np.ndarray | None,
    w_va: np.ndarray | None,
    *,
    task: str,
    n_classes: int,
    categorical: list[int],
    deadline: float,
    threads: int,
    seed: int,
) -> tuple[Any, np.ndarray, int, bool]:
    """Fit with early stopping on the validation fold; returns (model, predictions, rounds,
    cut by the deadline)."""
    import numpy as np

    from pmle.automl.trainer import OutOfTime

    if time.monotonic() > deadline:
        raise OutOfTime
    model = _model(params, task, threads, seed, iterations=3000)
    stop = _Deadline(deadline)
    model.fit(
        pool(x_tr, categorical, y_tr, w_tr),
        eval_set=pool(x_va, categorical, y_va, w_va),
        early_stopping_rounds=50,
        use_best_model=True,
        callbacks=[stop],
    )
    va = pool(x_va, categorical)
    pred = model.predict(va) if task == "regression" else model.predict_proba(va)
    return model, np.asarray(pred), int(model.get_best_iteration() or 0) + 1, stop.hit


def refit(
    params: dict[str, Any],
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    *,
    task: str,
    categorical: list[int],
    deadline: float,
    threads: int,
    seed: int,
    rounds: int,
) -> Any | None:
    """One model on every row with a fixed number of rounds (None if the deadline cut it)."""
    model = _model(params, task, threads, seed, iterations=max(1, rounds))
    stop = _Deadline(deadline)
    model.fit(pool(x, categorical, y, w), callbacks=[stop])
    return None if stop.hit else model
