"""LINEAR_REG and LOGISTIC_REG.

Features are encoded as BigQuery ML does for linear models (:class:`~pmle.sqlml.encoding.OneHot`:
standardised numerics, one-hot strings). LINEAR_REG minimises squared error with `l2_reg`
(ridge) and `l1_reg` (elastic net) penalties, default none — the normal equation BigQuery ML
uses for small feature counts; LOGISTIC_REG minimises log loss (multinomial for more than two
classes) with the same penalties, fitted to convergence, with `auto_class_weights` /
`class_weights`. Predictions are plain NumPy from the stored weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.sqlml.encoding import OneHot, label_codes
from pmle.sqlml.families.common import (
    Fitted,
    class_labels,
    class_weight,
    probs_column,
    scored_rows,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.sqlml.options import Options

__all__ = ["LinearEstimator", "fit", "load"]

FILE = "linear.npz"


@dataclass
class LinearEstimator:
    """Weights over the encoded features: `coef` (classes or 1 × features), `intercept`."""

    encoding: OneHot
    coef: np.ndarray
    intercept: np.ndarray
    classes: list[Any] | None = None

    def _scores(self, frame: pd.DataFrame) -> np.ndarray:
        return self.encoding.matrix(frame) @ self.coef.T + self.intercept

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        scores = self._scores(frame)
        if scores.shape[1] == 1:  # binary: one logit for the second class
            p = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.column_stack([1.0 - p, p])
        scores = scores - scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)

    def predict_output(self, frame: pd.DataFrame, label: str | None) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        name = f"predicted_{label}"
        if self.classes is None:
            return pd.DataFrame({name: self._scores(frame)[:, 0]}, index=frame.index)
        proba = self.predict_proba(frame)
        labels = [self.classes[i] for i in np.argmax(proba, axis=1)]
        return pd.DataFrame(
            {name: labels, f"{name}_probs": probs_column(proba, self.classes)}, index=frame.index
        )

    def weights(self, standardize: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(coef, intercept) on the original scale of numeric features, or on the
        standardised scale with `standardize`."""
        import numpy as np

        coef, intercept = self.coef.copy(), self.intercept.copy()
        if standardize or not self.encoding.standardize:
            return coef, intercept
        n = len(self.encoding.numeric)
        stds = np.asarray(self.encoding.stds)
        means = np.asarray(self.encoding.means)
        coef[:, :n] = self.coef[:, :n] / stds
        intercept = intercept - (self.coef[:, :n] * (means / stds)).sum(axis=1)
        return coef, intercept

    def save(self, directory: Path) -> dict[str, Any]:
        import numpy as np

        np.savez(directory / FILE, coef=self.coef, intercept=self.intercept)
        return {"encoding": self.encoding.to_dict(), "classes": self.classes}


def load(directory: Path, state: dict[str, Any]) -> LinearEstimator:
    """A LinearEstimator written by `save`."""
    import numpy as np

    with np.load(directory / FILE, allow_pickle=False) as data:
        coef, intercept = data["coef"], data["intercept"]
    return LinearEstimator(OneHot.from_dict(state["encoding"]), coef, intercept, state["classes"])


def fit(
    train: pd.DataFrame,
    evaluation: pd.DataFrame | None,
    options: Options,
    label: str,
    features: list[str],
) -> Fitted:
    """Fit LINEAR_REG or LOGISTIC_REG on `train[features]` → `train[label]`."""
    import numpy as np

    from pmle.sqlml.explain import fit_global_explain

    started = time.perf_counter()
    encoding = OneHot.fit(train, features)
    x = encoding.matrix(train)
    l1 = float(options.get("l1_reg", 0.0))
    l2 = float(options.get("l2_reg", 0.0))
    fit_intercept = bool(options.get("fit_intercept", True))
    y = train[label]
    if options.model_type == "LINEAR_REG":
        target = y.astype("float64").to_numpy()
        weights, bias = _least_squares(x, target, l1, l2, fit_intercept)
        est = LinearEstimator(encoding, weights.reshape(1, -1), np.array([bias]))
        loss = float(np.mean((est._scores(train)[:, 0] - target) ** 2))
        eval_loss = None
        if evaluation is not None:
            eval_y = evaluation[label].astype("float64").to_numpy()
            eval_loss = float(np.mean((est._scores(evaluation)[:, 0] - eval_y) ** 2))
        fitted = Fitted(est, None, [_info(loss, eval_loss, started)])
        fit_global_explain(fitted, options, label, features, scored_rows(train, evaluation))
        return fitted
    classes = class_labels(y, options.model_type)
    codes = label_codes(y, classes)
    coef, intercept = _logistic(x, codes, len(classes), l1, l2, options, classes, fit_intercept)
    est = LinearEstimator(encoding, coef, intercept, classes)
    loss = _log_loss(est, train, label, classes)
    eval_loss = _log_loss(est, evaluation, label, classes) if evaluation is not None else None
    fitted = Fitted(est, classes, [_info(loss, eval_loss, started)])
    fit_global_explain(fitted, options, label, features, scored_rows(train, evaluation))
    return fitted


def _info(loss: float, eval_loss: float | None, started: float) -> dict[str, Any]:
    return {
        "training_run": 0,
        "iteration": 0,
        "loss": loss,
        "eval_loss": eval_loss,
        "learning_rate": None,
        "duration_ms": int((time.perf_counter() - started) * 1000),
    }


def _least_squares(
    x: np.ndarray, y: np.ndarray, l1: float, l2: float, fit_intercept: bool
) -> tuple[np.ndarray, float]:
    import numpy as np

    if l1 > 0:
        from sklearn.linear_model import ElasticNet

        n = len(y)
        alpha = (l1 + 2 * l2) / (2 * n)  # sklearn scales the squared loss by 1 / 2n
        model = ElasticNet(
            alpha=alpha, l1_ratio=l1 / (l1 + 2 * l2), fit_intercept=fit_intercept, max_iter=10000
        )
        model.fit(x, y)
        return np.asarray(model.coef_), float(model.intercept_)
    # the normal equation with a ridge term (BigQuery ML's NORMAL_EQUATION strategy)
    ym = float(y.mean()) if fit_intercept else 0.0
    xm = x.mean(axis=0) if fit_intercept else np.zeros(x.shape[1])
    xc, yc = x - xm, y - ym
    gram = xc.T @ xc + l2 * np.eye(x.shape[1])
    coef = np.linalg.lstsq(gram, xc.T @ yc, rcond=None)[0]
    return coef, float(ym - xm @ coef)


def _logistic(
    x: np.ndarray,
    codes: np.ndarray,
    n_classes: int,
    l1: float,
    l2: float,
    options: Options,
    classes: list[Any],
    fit_intercept: bool,
) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    weight = class_weight(options, classes)
    # the objective is Σ log loss + l1·|w|₁ + l2·|w|²₂, as LINEAR_REG's is Σ squared error plus
    # the same penalties; scikit-learn minimises C·Σ loss + r·|w|₁ + (1 − r)/2·|w|²₂
    if l1 > 0 and l2 > 0:
        penalty, c, ratio, solver = "elasticnet", 1 / (l1 + 2 * l2), l1 / (l1 + 2 * l2), "saga"
    elif l1 > 0:
        penalty, c, ratio, solver = "l1", 1 / l1, None, "saga"
    elif l2 > 0:
        penalty, c, ratio, solver = "l2", 1 / (2 * l2), None, "lbfgs"
    else:
        penalty, c, ratio, solver = None, 1.0, None, "lbfgs"
    import sklearn

    kwargs: dict[str, Any] = {
        "solver": solver,
        "max_iter": 5000,
        "class_weight": weight,
        "fit_intercept": fit_intercept,
    }
    if tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 8):
        # 1.8 deprecates `penalty`: the mix is l1_ratio, no penalty is C = inf
        kwargs["C"] = np.inf if penalty is None else c
        kwargs["l1_ratio"] = {None: 0.0, "l2": 0.0, "l1": 1.0}.get(penalty, ratio)
    else:
        kwargs.update(penalty=penalty, C=c, l1_ratio=ratio)
    model = LogisticRegression(**kwargs)
    model.fit(x, codes)
    coef = np.asarray(model.coef_, dtype="float64")
    intercept = np.asarray(model.intercept_, dtype="float64")
    if n_classes == 2 and coef.shape[0] != 1:
        coef, intercept = coef[1:] - coef[:1], intercept[1:] - intercept[:1]
    return coef, intercept


def _log_loss(est: LinearEstimator, frame: pd.DataFrame, label: str, classes: list[Any]) -> float:
    import numpy as np

    proba = np.clip(est.predict_proba(frame), 1e-15, 1.0)
    codes = label_codes(frame[label], classes)
    keep = codes >= 0
    return float(-np.mean(np.log(proba[keep, codes[keep]])))
