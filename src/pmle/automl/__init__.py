"""AutoML for tabular data: a portfolio of proven configurations, Optuna tuning with the time
left, and ensemble selection — registered with its leaderboard and model card."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "AutoMLClassifier",
    "AutoMLFit",
    "AutoMLRegressor",
    "AutoMLResult",
    "fit_automl",
    "train",
]

if TYPE_CHECKING:
    from pmle.automl.estimator import AutoMLClassifier, AutoMLRegressor
    from pmle.automl.fit import AutoMLFit, fit_automl
    from pmle.automl.job import AutoMLResult, train

_WHERE = {
    "AutoMLClassifier": "pmle.automl.estimator",
    "AutoMLRegressor": "pmle.automl.estimator",
    "AutoMLFit": "pmle.automl.fit",
    "fit_automl": "pmle.automl.fit",
    "AutoMLResult": "pmle.automl.job",
    "train": "pmle.automl.job",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'pmle.automl' has no attribute {name!r}")
