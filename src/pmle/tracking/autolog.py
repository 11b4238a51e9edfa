"""Autologging for scikit-learn, LightGBM and XGBoost, scoped to one run:

    with ws.tracking.start_run("churn") as run, run.autolog(register="churn"):
        model = LGBMClassifier(n_estimators=200).fit(X, y, eval_set=[(X_val, y_val)])

Inside the block every `fit` of a scikit-learn estimator (and of LightGBM's and XGBoost's
scikit-learn wrappers), `lightgbm.train` and `xgboost.train` records on the run:

- **parameters**: the estimator's `get_params()` (scalars), or the booster's params and rounds;
- **metrics per iteration**: each evaluation set's metrics at every boosting round
  (`valid_0_binary_logloss`, `validation_0-logloss`, …) as curves;
- **training metrics** of scikit-learn-style estimators (accuracy, F1, log loss, ROC AUC for
  classifiers; MSE, RMSE, MAE, R² for regressors), on the rows it was fitted on;
- **the model**: a pmle model folder as the run's `model` artifact (registered as a new
  version of `register` when given, with lineage from the run).

The libraries are patched once per process, but a patched `fit` does nothing extra unless the
calling thread or asyncio task is inside an `autolog` block (a context variable, not a global
"active run"): other threads and tasks are untouched. A meta-estimator (a Pipeline, a grid
search) logs once, as itself; what it fits inside is not logged separately.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import math
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pmle.tracking.runs import Run

__all__ = ["autolog"]

log = logging.getLogger("pmle.tracking")


@dataclass
class _Scope:
    run: Run
    models: bool
    register: str | None


_SCOPE: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("pmle_autolog", default=None)
#: how deep inside autologged fits the current call is (only the outermost one logs itself)
_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("pmle_autolog_depth", default=0)
_PATCHED: set[str] = set()
_PATCH_LOCK = threading.Lock()


@contextlib.contextmanager
def autolog(run: Run, *, models: bool = True, register: str | None = None) -> Iterator[Run]:
    """Log what scikit-learn, LightGBM and XGBoost fit inside the block to `run`."""
    if register is not None:
        from pmle._util import check_name

        check_name(register, "model name")
    _patch_all()
    token = _SCOPE.set(_Scope(run, models, register))
    try:
        yield run
    finally:
        _SCOPE.reset(token)


# ---- patching ------------------------------------------------------------------------------


def _patch_all() -> None:
    with _PATCH_LOCK:
        for name, patch in (
            ("sklearn", _patch_sklearn),
            ("lightgbm", _patch_lightgbm),
            ("xgboost", _patch_xgboost),
        ):
            if name in _PATCHED:
                continue
            try:
                patch()
            except ImportError:
                continue  # the library is not installed: nothing of it to log
            _PATCHED.add(name)


def _wrap_fit(cls: type) -> None:
    """Wrap `fit` where the class (or the base it inherits `fit` from) defines it."""
    owner = next((k for k in cls.__mro__ if "fit" in k.__dict__), None)
    if owner is None:
        return
    original = owner.__dict__["fit"]
    if not callable(original) or getattr(original, "_pmle_autolog", False):
        return
    cls = owner

    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        scope = _SCOPE.get()
        if scope is None or _DEPTH.get() > 0:
            return original(self, *args, **kwargs)
        # deeper fits (a pipeline's steps, the label encoders the metrics fit) are not logged
        token = _DEPTH.set(_DEPTH.get() + 1)
        try:
            result = original(self, *args, **kwargs)
            _log_estimator(scope, self, args, kwargs)
        finally:
            _DEPTH.reset(token)
        return result

    fit._pmle_autolog = True  # type: ignore[attr-defined]
    cls.fit = fit  # type: ignore[attr-defined]


def _patch_sklearn() -> None:
    from sklearn.utils import all_estimators

    for _, cls in all_estimators():
        _wrap_fit(cls)


def _patch_lightgbm() -> None:
    import lightgbm
    import lightgbm.engine
    import lightgbm.sklearn

    original = lightgbm.engine.train
    wrapped = _wrap_train(original, _lightgbm_callback, "lightgbm")
    for module in (lightgbm, lightgbm.engine, lightgbm.sklearn):
        if getattr(module, "train", None) is original:
            module.train = wrapped  # type: ignore[attr-defined]
    _wrap_fit(lightgbm.sklearn.LGBMModel)
    for cls in (lightgbm.LGBMClassifier, lightgbm.LGBMRegressor, lightgbm.LGBMRanker):
        _wrap_fit(cls)


def _patch_xgboost() -> None:
    import xgboost
    import xgboost.sklearn
    import xgboost.training

    original = xgboost.training.train
    wrapped = _wrap_train(original, _xgboost_callback, "xgboost")
    for module in (xgboost, xgboost.training, xgboost.sklearn):
        if getattr(module, "train", None) is original:
            module.train = wrapped  # type: ignore[attr-defined]
    for cls in (xgboost.sklearn.XGBModel, *xgboost.sklearn.XGBModel.__subclasses__()):
        _wrap_fit(cls)


def _wrap_train(original: Any, make_callback: Any, library: str) -> Any:
    """`lightgbm.train` / `xgboost.train` that add a per-iteration callback, and (called
    directly, not from a wrapper's fit) log their params and the booster."""

    @functools.wraps(original)
    def train(params: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        scope = _SCOPE.get()
        if scope is None:
            return original(params, *args, **kwargs)
        outermost = _DEPTH.get() == 0
        callbacks = list(kwargs.get("callbacks") or [])
        callbacks.append(make_callback(scope.run))
        kwargs["callbacks"] = callbacks
        token = _DEPTH.set(_DEPTH.get() + 1)
        try:
            booster = original(params, *args, **kwargs)
            if outermost:
                rounds = kwargs.get("num_boost_round", args[1] if len(args) > 1 else None)
                given = {**dict(params or {}), "num_boost_round": rounds}
                _safe(scope.run.log_params, _scalars(given))
                if scope.models:
                    _safe(_log_booster, scope, booster, library)
        finally:
            _DEPTH.reset(token)
        return booster

    train._pmle_autolog = True  # type: ignore[attr-defined]
    return train


def _lightgbm_callback(run: Run) -> Any:
    def record(env: Any) -> None:
        values = {}
        for entry in env.evaluation_result_list or []:
            if len(entry) == 4:  # (data, metric, value, higher is better)
                data, metric, value = entry[0], entry[1], entry[2]
            else:  # cv: (data, metric, mean, higher is better, stdv)
                data, metric, value = entry[0], entry[1], entry[2]
            values[f"{data}_{metric}"] = value
        if values:
            _safe(run.log_metrics, values, step=env.iteration)

    record.order = 5  # type: ignore[attr-defined]  # before early stopping may stop the loop
    return record


def _xgboost_callback(run: Run) -> Any:
    from xgboost.callback import TrainingCallback

    class Record(TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            values = {
                f"{data}-{metric}": (
                    history[-1][0] if isinstance(history[-1], tuple) else history[-1]
                )
                for data, metrics in evals_log.items()
                for metric, history in metrics.items()
                if history
            }
            if values:
                _safe(run.log_metrics, values, step=epoch)
            return False

    return Record()


# ---- what gets logged ----------------------------------------------------------------------


def _safe(fn: Any, *args: Any, **kwargs: Any) -> None:
    """Autologging never breaks the user's training: a failure to log is a warning."""
    try:
        fn(*args, **kwargs)
    except Exception as exc:
        log.warning("autolog could not record %s: %s", getattr(fn, "__name__", fn), exc)


def _scalars(values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        if value is None or isinstance(value, str | int | float | bool):
            text = value if not isinstance(value, str) else value[:500]
            out[key] = text
    return out


def _log_estimator(scope: _Scope, est: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    run = scope.run
    params = {"estimator": type(est).__name__}
    try:
        params.update(_scalars(est.get_params(deep=True)))
    except Exception:  # an estimator with odd params: log its name only
        pass
    _safe(run.log_params, params)
    x = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    if x is not None and y is not None:
        _safe(_log_training_metrics, run, est, x, y)
    if scope.models and x is not None:
        _safe(_log_model, scope, est, x)


def _log_training_metrics(run: Run, est: Any, x: Any, y: Any) -> None:
    import numpy as np
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor

    values: dict[str, float] = {}
    if is_classifier(est):
        predicted = est.predict(x)
        values["training_accuracy"] = metrics.accuracy_score(y, predicted)
        values["training_f1"] = metrics.f1_score(y, predicted, average="weighted")
        if hasattr(est, "predict_proba"):
            proba = est.predict_proba(x)
            classes = list(getattr(est, "classes_", []))
            values["training_log_loss"] = metrics.log_loss(y, proba, labels=classes or None)
            if proba.shape[1] == 2:
                values["training_roc_auc"] = metrics.roc_auc_score(y, proba[:, 1])
            elif proba.shape[1] > 2:
                values["training_roc_auc"] = metrics.roc_auc_score(
                    y, proba, multi_class="ovr", labels=classes or None
                )
    elif is_regressor(est):
        predicted = np.asarray(est.predict(x), dtype="float64")
        mse = metrics.mean_squared_error(y, predicted)
        values.update(
            training_mse=mse,
            training_rmse=math.sqrt(mse),
            training_mae=metrics.mean_absolute_error(y, predicted),
            training_r2=metrics.r2_score(y, predicted),
        )
    elif hasattr(est, "score"):
        values["training_score"] = float(est.score(x, y))
    if values:
        run.log_metrics({k: float(v) for k, v in values.items()})


def _example(x: Any) -> Any:
    """A few input rows for the model's signature (a DataFrame; arrays get column names)."""
    import pandas as pd

    if isinstance(x, pd.DataFrame):
        return x.head(5)
    try:
        import numpy as np

        array = np.asarray(x)
        if array.ndim == 2:
            return pd.DataFrame(array[:5], columns=[f"f{i}" for i in range(array.shape[1])])
    except Exception:
        return None
    return None


def _log_model(scope: _Scope, est: Any, x: Any) -> None:
    from pmle.models.format import save_model

    run = scope.run
    with tempfile.TemporaryDirectory(prefix="pmle-autolog-") as tmp:
        folder = Path(tmp) / "model"
        save_model(est, folder, input_example=_example(x))
        run.log_artifact(folder, "model")
        if scope.register is not None:
            ws = run._tracking._ws
            version = ws.models.register(
                scope.register,
                str(folder),
                execution="TrackingRun",
                execution_properties={"run": run.ref},
            )
            run.log_model(version.ref)


def _log_booster(scope: _Scope, booster: Any, library: str) -> None:
    """A booster trained with the low-level API: its own text / JSON model as an artifact."""
    run = scope.run
    if library == "lightgbm":
        run.log_text(booster.model_to_string(), "model/lightgbm.txt")
    else:
        run.log_text(bytes(booster.save_raw("json")).decode("utf-8"), "model/xgboost.json")
    best = getattr(booster, "best_iteration", None)
    if isinstance(best, int) and best > 0:  # 0: LightGBM ran without early stopping
        run.log_metric("best_iteration", best)
