"""Optimisation objectives, named as Vertex AI AutoML tabular names them, and their metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Objective:
    """What the search optimises, and how a prediction is scored."""

    name: str  # Vertex AI's name, e.g. "maximize-au-roc"
    task: str
    metric: str  # short metric name shown in leaderboards: auc, log_loss, rmse, ...
    greater_is_better: bool
    target_transform: str | None = None  # "log1p" when training for RMSLE

    def score(self, y: np.ndarray, pred: np.ndarray, weight: np.ndarray | None = None) -> float:
        """The metric of predictions `pred` (probabilities, or values) against labels `y`."""
        return float(_METRICS[self.metric](y, pred, weight))

    def loss(self, y: np.ndarray, pred: np.ndarray, weight: np.ndarray | None = None) -> float:
        """The score turned into something to minimise."""
        s = self.score(y, pred, weight)
        return -s if self.greater_is_better else s


def _auc(y: np.ndarray, p: np.ndarray, w: np.ndarray | None) -> float:
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(y, p[:, 1] if p.ndim == 2 else p, sample_weight=w)


def _aucpr(y: np.ndarray, p: np.ndarray, w: np.ndarray | None) -> float:
    from sklearn.metrics import average_precision_score

    return average_precision_score(y, p[:, 1] if p.ndim == 2 else p, sample_weight=w)


def _logloss(y: np.ndarray, p: np.ndarray, w: np.ndarray | None) -> float:
    import numpy as np

    probs = p if p.ndim == 2 else np.column_stack([1 - p, p])
    probs = np.clip(probs, 1e-15, 1.0)
    probs = probs / probs.sum(axis=1, keepdims=True)
    picked = probs[np.arange(len(y)), y.astype(int)]
    return float(np.average(-np.log(picked), weights=w))


def _rmse(y: np.ndarray, p: np.ndarray, w: np.ndarray | None) -> float:
    import numpy as np

    return float(np.sqrt(np.average((y - p) ** 2, weights=w)))


def _mae(y: np.ndarray, p: np.ndarray, w: np.ndarray | None) -> float:
    import numpy as np

    return float(np.average(np.abs(y - p), weights=w))


def _rmsle(y: np.ndarray, p: np.ndarray, w: np.ndarray | None) -> float:
    import numpy as np

    return float(np.sqrt(np.average((np.log1p(y) - np.log1p(np.maximum(p, 0))) ** 2, weights=w)))


def _accuracy(y: np.ndarray, p: np.ndarray, w: np.ndarray | None) -> float:
    import numpy as np

    labels = p.argmax(axis=1) if p.ndim == 2 else (p > 0.5).astype(int)
    return float(np.average(labels == y, weights=w))


def _r2(y: np.ndarray, p: np.ndarray, w: np.ndarray | None) -> float:
    from sklearn.metrics import r2_score

    return float(r2_score(y, p, sample_weight=w))


_METRICS: dict[str, Callable[..., float]] = {
    "auc": _auc,
    "auc_pr": _aucpr,
    "log_loss": _logloss,
    "accuracy": _accuracy,
    "rmse": _rmse,
    "mae": _mae,
    "rmsle": _rmsle,
    "r2": _r2,
}

# Keyed by (name, task): binary and multiclass share the log-loss name.
_BY_TASK = {
    (o.name, o.task): o
    for o in (
        Objective("maximize-au-roc", "binary", "auc", True),
        Objective("minimize-log-loss", "binary", "log_loss", False),
        Objective("maximize-au-prc", "binary", "auc_pr", True),
        Objective("minimize-log-loss", "multiclass", "log_loss", False),
        Objective("minimize-rmse", "regression", "rmse", False),
        Objective("minimize-mae", "regression", "mae", False),
        Objective("minimize-rmsle", "regression", "rmsle", False, "log1p"),
    )
}
DEFAULTS = {
    "binary": "maximize-au-roc",
    "multiclass": "minimize-log-loss",
    "regression": "minimize-rmse",
}
ALIASES = {
    "auc": "maximize-au-roc",
    "roc_auc": "maximize-au-roc",
    "aucpr": "maximize-au-prc",
    "auc_pr": "maximize-au-prc",
    "logloss": "minimize-log-loss",
    "log_loss": "minimize-log-loss",
    "rmse": "minimize-rmse",
    "mae": "minimize-mae",
    "rmsle": "minimize-rmsle",
}

# Metrics reported next to the objective for each task.
REPORTED = {
    "binary": ("auc", "log_loss", "auc_pr", "accuracy"),
    "multiclass": ("log_loss", "accuracy"),
    "regression": ("rmse", "mae", "r2"),
}


def resolve(name: str | None, task: str) -> Objective:
    """The objective for `task`: the named one (Vertex name or short alias) or the default."""
    key = DEFAULTS[task] if name is None else ALIASES.get(name.lower(), name.lower())
    objective = _BY_TASK.get((key, task))
    if objective is None:
        valid = sorted(n for (n, t) in _BY_TASK if t == task)
        raise InvalidInput(
            f"objective {name!r} does not apply to a {task} task",
            hint=f"use one of {', '.join(valid)}",
        )
    return objective


def metric(name: str, y: np.ndarray, pred: np.ndarray, weight: np.ndarray | None = None) -> float:
    """A named metric (see REPORTED)."""
    return float(_METRICS[name](y, pred, weight))
