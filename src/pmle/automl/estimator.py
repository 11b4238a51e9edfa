"""scikit-learn estimators around the AutoML search: `AutoMLClassifier`, `AutoMLRegressor`.

They follow scikit-learn's contract (parameters in `__init__`, no work there, learned state in
attributes ending in `_`), so `clone`, `get_params`, pipelines and cross-validation work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_TARGET = "__pmle_target__"
_WEIGHT = "__pmle_weight__"


def _frame(x: Any) -> pd.DataFrame:
    import pandas as pd

    if isinstance(x, pd.DataFrame):
        return x.reset_index(drop=True)
    import numpy as np

    arr = np.asarray(x)
    if arr.ndim != 2:
        from pmle.errors import InvalidInput

        raise InvalidInput("X must be 2-dimensional (rows × columns)")
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


class _AutoML(BaseEstimator):
    _task = "auto"

    def __init__(
        self,
        time_budget: float = 60,
        objective: str | None = None,
        seed: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.time_budget = time_budget
        self.objective = objective
        self.seed = seed
        self.n_jobs = n_jobs

    def _fit(self, x: Any, y: Any, sample_weight: Any, task: str) -> Any:
        import numpy as np

        from pmle.automl.fit import fit_automl

        frame = _frame(x)
        frame[_TARGET] = np.asarray(y)
        if sample_weight is not None:
            frame[_WEIGHT] = np.asarray(sample_weight, dtype=float)
        result = fit_automl(
            frame,
            _TARGET,
            task=task,
            objective=self.objective,
            budget=self.time_budget,
            weight_column=_WEIGHT if sample_weight is not None else None,
            seed=self.seed,
            n_jobs=self.n_jobs,
        )
        self.model_ = result.model
        self.leaderboard_ = result.leaderboard
        self.feature_importances_ = result.feature_importance
        self.cv_score_ = result.search.ensemble_score
        self.feature_names_in_ = np.asarray(
            [c for c in frame.columns if c not in {_TARGET, _WEIGHT}], dtype=object
        )
        self.n_features_in_ = len(self.feature_names_in_)
        return result

    def _input(self, x: Any) -> pd.DataFrame:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "model_")
        return _frame(x)

    def predict(self, X: Any) -> np.ndarray:
        """Class labels or values."""
        return self.model_.predict(self._input(X))


class AutoMLClassifier(ClassifierMixin, _AutoML):
    """Binary or multiclass AutoML. Objectives: maximize-au-roc (binary default),
    minimize-log-loss (multiclass default), maximize-au-prc."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> AutoMLClassifier:
        """Search for the best model within `time_budget` seconds."""
        import numpy as np

        n = len(np.unique(np.asarray(y)))
        self._fit(X, y, sample_weight, "binary" if n == 2 else "multiclass")
        self.classes_ = np.asarray(self.model_.classes)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in `classes_` order."""
        return self.model_.predict_proba(self._input(X))


class AutoMLRegressor(RegressorMixin, _AutoML):
    """Regression AutoML. Objectives: minimize-rmse (default), minimize-mae, minimize-rmsle."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> AutoMLRegressor:
        """Search for the best model within `time_budget` seconds."""
        self._fit(X, y, sample_weight, "regression")
        return self
