"""KMEANS: k-means clustering as BigQuery ML does it.

Features are encoded like linear models' (standardised numerics when `standardize_features`,
default TRUE; one-hot strings). `num_clusters` defaults to log10(n) rounded (at least 2);
`kmeans_init_method` RANDOM (default: k distinct training rows), KMEANS++ or CUSTOM (the rows
where the BOOL `kmeans_init_col` is TRUE); `distance_type` EUCLIDEAN (default) or COSINE.
Lloyd iterations run for up to `max_iterations` (20), stopping early (`early_stop`) once the
mean squared distance improves by less than `min_rel_progress` (0.01) relative.

ML.PREDICT gives `centroid_id` (1-based) and `nearest_centroids_distance`; ML.CENTROIDS the
centroids per feature; ML.EVALUATE `davies_bouldin_index` and `mean_squared_distance`;
ML.DETECT_ANOMALIES flags rows whose distance to the nearest centroid, divided by the median
distance of that centroid's training rows, exceeds the training rows' (1 - contamination)
quantile.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.sqlml.encoding import OneHot
from pmle.sqlml.families import _outliers
from pmle.sqlml.families.common import Fitted

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.sqlml.functions import CallArgs
    from pmle.sqlml.model import SqlModel
    from pmle.sqlml.options import Options

__all__ = [
    "ML_CENTROIDS",
    "ML_DETECT_ANOMALIES",
    "KMeansEstimator",
    "default_clusters",
    "evaluate",
    "fit",
    "load",
]

FILE = "kmeans.npz"
SEED = 0


def default_clusters(n_rows: int) -> int:
    """BigQuery ML's default `num_clusters`: log10(n), here rounded, within [2, 100]."""
    return max(2, min(100, round(math.log10(max(n_rows, 1)))))


@dataclass
class KMeansEstimator:
    """Centroids in the encoded feature space, and the training rows' anomaly scale."""

    encoding: OneHot
    columns: list[str]
    centroids: np.ndarray  # k × encoded width
    distance_type: str
    medians: np.ndarray  # per centroid: median distance of the training rows it holds
    train_scores: np.ndarray  # the training rows' normalized distances

    def distances(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows × centroids distances of `frame` (already transformed)."""
        return _distances(self.encoding.matrix(frame), self.centroids, self.distance_type)

    def normalized(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(1-based nearest centroid, its distance over the centroid's median distance)."""
        import numpy as np

        ratio = self.distances(frame) / self.medians
        nearest = np.argmin(ratio, axis=1)
        return nearest + 1, ratio[np.arange(len(ratio)), nearest]

    def predict_output(self, frame: pd.DataFrame, label: str | None) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        d = self.distances(frame)
        order = np.argsort(d, axis=1, kind="stable")
        nearest = [
            [{"centroid_id": int(j) + 1, "distance": float(row[j])} for j in idx]
            for row, idx in zip(d, order, strict=True)
        ]
        return pd.DataFrame(
            {
                "centroid_id": (order[:, 0] + 1).astype("int64"),
                "nearest_centroids_distance": nearest,
            },
            index=frame.index,
        )

    def save(self, directory: Path) -> dict[str, Any]:
        import numpy as np

        np.savez(
            directory / FILE,
            centroids=self.centroids,
            medians=self.medians,
            train_scores=self.train_scores,
        )
        return {
            "encoding": self.encoding.to_dict(),
            "columns": self.columns,
            "distance_type": self.distance_type,
        }


def load(directory: Path, state: dict[str, Any]) -> KMeansEstimator:
    """A KMeansEstimator written by `save`."""
    import numpy as np

    with np.load(directory / FILE, allow_pickle=False) as data:
        arrays = {k: data[k] for k in ("centroids", "medians", "train_scores")}
    return KMeansEstimator(
        OneHot.from_dict(state["encoding"]),
        list(state["columns"]),
        arrays["centroids"],
        state["distance_type"],
        arrays["medians"],
        arrays["train_scores"],
    )


def _distances(x: np.ndarray, centroids: np.ndarray, distance_type: str) -> np.ndarray:
    import numpy as np

    if distance_type == "COSINE":
        xn = np.linalg.norm(x, axis=1, keepdims=True)
        cn = np.linalg.norm(centroids, axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = (x @ centroids.T) / (xn * cn.T)
        return 1.0 - np.nan_to_num(cos, nan=0.0)
    sq = (x * x).sum(axis=1)[:, None] - 2.0 * x @ centroids.T + (centroids**2).sum(axis=1)[None, :]
    return np.sqrt(np.maximum(sq, 0.0))


def _initial(
    x: np.ndarray, train: pd.DataFrame, options: Options, k: int | None
) -> tuple[np.ndarray, int]:
    import numpy as np

    method = options.get("kmeans_init_method", "RANDOM")
    column = options.get("kmeans_init_col")
    if method == "CUSTOM":
        if column is None or column not in train.columns:
            raise InvalidInput(
                "kmeans_init_method='CUSTOM' needs kmeans_init_col, a BOOL column of the "
                "training query that is TRUE for the rows that start as centroids",
                hint=f"columns: {', '.join(map(str, train.columns))}",
            )
        values = train[column]
        if not set(values.dropna().unique()) <= {True, False}:
            raise InvalidInput(f"kmeans_init_col {column!r} must be a BOOL column")
        chosen = x[values.fillna(False).to_numpy(dtype=bool)]
        if k is not None and len(chosen) != k:
            raise InvalidInput(
                f"kmeans_init_col {column!r} is TRUE in {len(chosen)} rows, "
                f"but num_clusters is {k}",
                hint="mark exactly num_clusters rows, or leave num_clusters out",
            )
        if len(chosen) < 2:
            raise InvalidInput(f"kmeans_init_col {column!r} must be TRUE in at least 2 rows")
        return chosen.copy(), len(chosen)
    if column is not None:
        raise InvalidInput("kmeans_init_col applies only with kmeans_init_method='CUSTOM'")
    k = default_clusters(len(x)) if k is None else k
    distinct = np.unique(x, axis=0)
    if len(distinct) < k:
        raise InvalidInput(
            f"num_clusters is {k}, but the training data has only {len(distinct)} distinct rows",
            hint="lower num_clusters",
        )
    if method == "KMEANS++":
        from sklearn.cluster import kmeans_plusplus

        centers, _ = kmeans_plusplus(distinct, k, random_state=SEED)
        return np.asarray(centers, dtype="float64"), k
    rng = np.random.default_rng(SEED)
    return distinct[rng.choice(len(distinct), size=k, replace=False)].copy(), k


def fit(
    train: pd.DataFrame,
    evaluation: pd.DataFrame | None,
    options: Options,
    label: str | None,
    features: list[str],
) -> Fitted:
    """Cluster the training rows (every column is a feature but `kmeans_init_col`)."""
    import numpy as np

    started = time.perf_counter()
    init_col = options.get("kmeans_init_col")
    columns = [c for c in features if c != init_col]
    if not columns:
        raise InvalidInput("KMEANS needs at least one feature column besides kmeans_init_col")
    encoding = OneHot.fit(
        train, columns, standardize=bool(options.get("standardize_features", True))
    )
    x = encoding.matrix(train)
    given = options.get("num_clusters")
    if given is not None and given > len(x):
        raise InvalidInput(f"num_clusters is {given}, but the training query has {len(x)} rows")
    centroids, k = _initial(x, train, options, given)
    distance_type = str(options.get("distance_type", "EUCLIDEAN"))
    max_iterations = int(options.get("max_iterations", 20))
    early_stop = bool(options.get("early_stop", True))
    min_rel = float(options.get("min_rel_progress", 0.01))
    info: list[dict[str, Any]] = []
    previous = None
    for iteration in range(max_iterations):
        assign = np.argmin(_distances(x, centroids, distance_type), axis=1)
        updated = centroids.copy()
        for j in range(k):
            members = assign == j
            if members.any():  # an empty cluster keeps its centroid
                updated[j] = x[members].mean(axis=0)
        moved = not np.array_equal(updated, centroids)
        centroids = updated
        loss = float(np.mean(np.min(_distances(x, centroids, distance_type), axis=1) ** 2))
        info.append(
            {
                "training_run": 0,
                "iteration": iteration,
                "loss": loss,
                "eval_loss": None,
                "learning_rate": None,
                "duration_ms": int((time.perf_counter() - started) * 1000),
            }
        )
        if not moved:
            break
        stalled = previous is not None and previous > 0 and (previous - loss) / previous < min_rel
        if early_stop and stalled:
            break
        previous = loss
    d = _distances(x, centroids, distance_type)
    nearest = np.argmin(d, axis=1)
    medians = np.ones(k)
    for j in range(k):
        own = d[nearest == j, j]
        if len(own) and np.median(own) > 0:
            medians[j] = float(np.median(own))
    scores = np.min(d / medians, axis=1)
    est = KMeansEstimator(encoding, columns, centroids, distance_type, medians, np.sort(scores))
    return Fitted(est, None, info, {"num_clusters": k})


def evaluate(
    estimator: KMeansEstimator, frame: pd.DataFrame, label: str | None, options: Options
) -> dict[str, Any]:
    """ML.EVALUATE of a k-means model: davies_bouldin_index, mean_squared_distance."""
    import numpy as np
    from sklearn.metrics import davies_bouldin_score

    x = estimator.encoding.matrix(frame)
    d = _distances(x, estimator.centroids, estimator.distance_type)
    assign = np.argmin(d, axis=1)
    used = len(np.unique(assign))
    dbi = float(davies_bouldin_score(x, assign)) if 2 <= used < len(x) else float("nan")
    msd = float(np.mean(np.min(d, axis=1) ** 2)) if len(x) else float("nan")
    return {"metrics": {"davies_bouldin_index": dbi, "mean_squared_distance": msd}}


def ML_CENTROIDS(model: SqlModel, args: CallArgs) -> pd.DataFrame:
    """One row per centroid and feature: `numerical_value` for numbers, `categorical_value`
    ([{category, value}]) for strings; STRUCT(TRUE AS standardize) gives standardised values."""
    import pandas as pd

    est: KMeansEstimator = model.estimator
    enc = est.encoding
    standardize = bool(args.setting("standardize", False))
    position = {name: i for i, name in enumerate(enc.names)}
    rows: list[dict[str, Any]] = []
    for j, centroid in enumerate(est.centroids):
        for column in est.columns:
            if column in enc.categorical:
                values = [
                    {"category": cat, "value": float(centroid[position[(column, cat)]])}
                    for cat in enc.categorical[column]
                ]
                rows.append(
                    {
                        "centroid_id": j + 1,
                        "feature": column,
                        "numerical_value": None,
                        "categorical_value": values,
                    }
                )
                continue
            i = enc.numeric.index(column)
            value = float(centroid[position[(column, None)]])
            if enc.standardize and not standardize:
                value = value * enc.stds[i] + enc.means[i]
            elif standardize and not enc.standardize:
                value = (value - enc.means[i]) / enc.stds[i]
            rows.append(
                {
                    "centroid_id": j + 1,
                    "feature": column,
                    "numerical_value": value,
                    "categorical_value": [],
                }
            )
    columns = ["centroid_id", "feature", "numerical_value", "categorical_value"]
    return pd.DataFrame(rows, columns=columns)


def ML_DETECT_ANOMALIES(model: SqlModel, args: CallArgs) -> pd.DataFrame:
    """`is_anomaly`, `normalized_distance`, `centroid_id`, then the input rows."""
    share = _outliers.contamination(args)
    if args.rows is None:
        raise InvalidInput(
            "ML.DETECT_ANOMALIES on a KMEANS model needs the rows: TABLE name or (query)"
        )
    est: KMeansEstimator = model.estimator
    ids, score = est.normalized(model.prepare(args.rows))
    limit = _outliers.threshold(est.train_scores, share)
    return _outliers.output(
        args.rows,
        {"is_anomaly": score > limit, "normalized_distance": score, "centroid_id": ids},
    )
