"""AutoML for tabular data: a portfolio of proven configurations, Optuna tuning with the time
left, and ensemble selection — registered with its leaderboard and model card."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pmle._util import lazy_exports

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


__getattr__ = lazy_exports(__name__, _WHERE)
