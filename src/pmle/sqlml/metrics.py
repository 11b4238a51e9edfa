"""The metrics of ML.EVALUATE, ML.CONFUSION_MATRIX and ML.ROC_CURVE, named as BigQuery ML
names them.

Regression: mean_absolute_error, mean_squared_error, mean_squared_log_error,
median_absolute_error, r2_score, explained_variance. Classification: precision, recall,
accuracy, f1_score, log_loss, roc_auc — for two classes at `threshold` (default 0.5) on the
positive class (the second of the sorted labels), for more classes macro-averaged (roc_auc
one-vs-rest).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["classification_metrics", "confusion_matrix", "regression_metrics", "roc_curve"]


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """BigQuery ML's regression metrics."""
    import numpy as np
    from sklearn import metrics as m

    y = np.asarray(y, dtype="float64")
    pred = np.asarray(pred, dtype="float64")
    out = {
        "mean_absolute_error": float(m.mean_absolute_error(y, pred)),
        "mean_squared_error": float(m.mean_squared_error(y, pred)),
        "mean_squared_log_error": float("nan"),
        "median_absolute_error": float(m.median_absolute_error(y, pred)),
        "r2_score": float(m.r2_score(y, pred)) if len(y) > 1 else float("nan"),
        "explained_variance": float(m.explained_variance_score(y, pred))
        if len(y) > 1
        else float("nan"),
    }
    if (y > -1).all() and (pred > -1).all():
        out["mean_squared_log_error"] = float(m.mean_squared_log_error(y, pred))
    return out


def _hard(proba: np.ndarray, classes: list[Any], threshold: float) -> np.ndarray:
    import numpy as np

    if len(classes) == 2:
        return np.where(proba[:, 1] >= threshold, 1, 0)
    return np.argmax(proba, axis=1)


def _codes(y: np.ndarray, classes: list[Any]) -> np.ndarray:
    from pmle.sqlml.encoding import label_codes

    return label_codes(y, classes)


def classification_metrics(
    y: np.ndarray, proba: np.ndarray, classes: list[Any], threshold: float = 0.5
) -> dict[str, float]:
    """BigQuery ML's classification metrics from true labels and class probabilities."""
    import numpy as np
    from sklearn import metrics as m

    codes = _codes(y, classes)
    keep = codes >= 0
    if not keep.any():
        from pmle.errors import InvalidInput

        raise InvalidInput(
            "no evaluation row has one of the model's labels",
            hint=f"the model's labels: {', '.join(map(str, classes))}",
        )
    codes, proba = codes[keep], np.asarray(proba)[keep]
    hard = _hard(proba, classes, threshold)
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    labels = list(range(len(classes)))
    clipped = np.clip(proba, 1e-15, 1 - 1e-15)
    out = {
        "precision": float(m.precision_score(codes, hard, average=average, zero_division=0)),
        "recall": float(m.recall_score(codes, hard, average=average, zero_division=0)),
        "accuracy": float(m.accuracy_score(codes, hard)),
        "f1_score": float(m.f1_score(codes, hard, average=average, zero_division=0)),
        "log_loss": float(
            m.log_loss(codes, clipped / clipped.sum(1, keepdims=True), labels=labels)
        ),
        "roc_auc": float("nan"),
    }
    try:
        if binary:
            out["roc_auc"] = float(m.roc_auc_score(codes, proba[:, 1]))
        else:
            out["roc_auc"] = float(
                m.roc_auc_score(codes, proba, multi_class="ovr", average="macro", labels=labels)
            )
    except ValueError:  # one class only in the evaluation rows
        pass
    return out


def confusion_matrix(
    y: np.ndarray, proba: np.ndarray, classes: list[Any], threshold: float = 0.5
) -> list[dict[str, Any]]:
    """ML.CONFUSION_MATRIX rows: `expected_label` and one count column per predicted class."""
    import numpy as np

    codes = _codes(y, classes)
    keep = codes >= 0
    hard = _hard(np.asarray(proba)[keep], classes, threshold)
    counts = np.zeros((len(classes), len(classes)), dtype="int64")
    np.add.at(counts, (codes[keep], hard), 1)
    return [
        {"expected_label": c, **{str(p): int(counts[i, j]) for j, p in enumerate(classes)}}
        for i, c in enumerate(classes)
    ]


def roc_curve(
    y: np.ndarray, proba: np.ndarray, classes: list[Any], thresholds: list[float] | None = None
) -> list[dict[str, Any]]:
    """ML.ROC_CURVE rows for a binary model: threshold, recall, false_positive_rate,
    true_positives, false_positives, true_negatives, false_negatives (by default at the
    distinct predicted probabilities, up to 100 quantiles of them, as BigQuery ML)."""
    import numpy as np

    codes = _codes(y, classes)
    keep = codes >= 0
    positive = codes[keep] == 1
    score = np.asarray(proba)[keep][:, 1]
    if thresholds is None:
        qs = np.unique(np.quantile(score, np.linspace(0, 1, 101))) if len(score) else score
        thresholds = sorted({float(t) for t in qs}, reverse=True)
    rows = []
    for t in thresholds:
        pred = score >= t
        tp = int(np.sum(pred & positive))
        fp = int(np.sum(pred & ~positive))
        tn = int(np.sum(~pred & ~positive))
        fn = int(np.sum(~pred & positive))
        rows.append(
            {
                "threshold": float(t),
                "recall": tp / (tp + fn) if tp + fn else 0.0,
                "false_positive_rate": fp / (fp + tn) if fp + tn else 0.0,
                "true_positives": tp,
                "false_positives": fp,
                "true_negatives": tn,
                "false_negatives": fn,
            }
        )
    return rows
