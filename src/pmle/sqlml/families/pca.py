"""PCA: principal component analysis as BigQuery ML does it.

Features are encoded with one-hot strings and numerics standardised when `scale_features`
(default TRUE); the encoded matrix is centred and decomposed by SVD (`pca_solver` FULL, or
RANDOMIZED, which AUTO picks for wide data). `num_principal_components` keeps that many
components, `pca_explained_variance_ratio` the fewest whose cumulative ratio reaches it (one
of the two at most; neither keeps all). Component signs are fixed so that each component's
largest loading is positive.

ML.PREDICT gives `principal_component_1..k`; ML.PRINCIPAL_COMPONENTS the loadings per
feature; ML.PRINCIPAL_COMPONENT_INFO eigenvalues and explained variance ratios; ML.EVALUATE
`total_explained_variance_ratio`; ML.DETECT_ANOMALIES flags rows whose reconstruction
`mean_squared_error` exceeds the training rows' (1 - contamination) quantile.
"""

from __future__ import annotations

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
    "ML_DETECT_ANOMALIES",
    "ML_PRINCIPAL_COMPONENTS",
    "ML_PRINCIPAL_COMPONENT_INFO",
    "PcaEstimator",
    "evaluate",
    "fit",
    "load",
]

FILE = "pca.npz"
#: AUTO uses the randomized solver above this many encoded columns.
AUTO_RANDOMIZED_WIDTH = 500


@dataclass
class PcaEstimator:
    """Components (k × encoded width) over the centred encoded features."""

    encoding: OneHot
    columns: list[str]
    center: np.ndarray
    components: np.ndarray
    eigenvalues: np.ndarray  # of the kept components
    total_variance: float
    train_errors: np.ndarray  # the training rows' reconstruction errors

    def scores(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows × components projections of `frame` (already transformed)."""
        return (self.encoding.matrix(frame) - self.center) @ self.components.T

    def errors(self, frame: pd.DataFrame) -> np.ndarray:
        """Each row's mean squared error after projecting and reconstructing it."""
        import numpy as np

        x = self.encoding.matrix(frame) - self.center
        rebuilt = (x @ self.components.T) @ self.components
        return np.mean((x - rebuilt) ** 2, axis=1)

    def predict_output(self, frame: pd.DataFrame, label: str | None) -> pd.DataFrame:
        import pandas as pd

        s = self.scores(frame)
        return pd.DataFrame(
            {f"principal_component_{i + 1}": s[:, i] for i in range(s.shape[1])},
            index=frame.index,
        )

    def save(self, directory: Path) -> dict[str, Any]:
        import numpy as np

        np.savez(
            directory / FILE,
            center=self.center,
            components=self.components,
            eigenvalues=self.eigenvalues,
            train_errors=self.train_errors,
        )
        return {
            "encoding": self.encoding.to_dict(),
            "columns": self.columns,
            "total_variance": self.total_variance,
        }


def load(directory: Path, state: dict[str, Any]) -> PcaEstimator:
    """A PcaEstimator written by `save`."""
    import numpy as np

    with np.load(directory / FILE, allow_pickle=False) as data:
        a = {k: data[k] for k in ("center", "components", "eigenvalues", "train_errors")}
    return PcaEstimator(
        OneHot.from_dict(state["encoding"]),
        list(state["columns"]),
        a["center"],
        a["components"],
        a["eigenvalues"],
        float(state["total_variance"]),
        a["train_errors"],
    )


def _svd(x: np.ndarray, k: int, solver: str) -> tuple[np.ndarray, np.ndarray]:
    """(singular values, right singular vectors) of the top `k` components."""
    import numpy as np

    if solver == "AUTO":
        solver = "RANDOMIZED" if x.shape[1] > AUTO_RANDOMIZED_WIDTH else "FULL"
    if solver == "RANDOMIZED" and k < min(x.shape):
        from sklearn.utils.extmath import randomized_svd

        _, s, vt = randomized_svd(x, k, n_iter=7, random_state=0)
        return s, vt
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    return s[:k], vt[:k]


def fit(
    train: pd.DataFrame,
    evaluation: pd.DataFrame | None,
    options: Options,
    label: str | None,
    features: list[str],
) -> Fitted:
    """Principal components of the training rows (every column is a feature)."""
    import numpy as np

    count = options.get("num_principal_components")
    ratio = options.get("pca_explained_variance_ratio")
    if count is not None and ratio is not None:
        raise InvalidInput("set num_principal_components or pca_explained_variance_ratio, not both")
    encoding = OneHot.fit(train, features, standardize=bool(options.get("scale_features", True)))
    x = encoding.matrix(train)
    n, width = x.shape
    if n < 2:
        raise InvalidInput("PCA needs at least 2 training rows")
    center = x.mean(axis=0)
    xc = x - center
    total = float(np.sum(xc**2) / (n - 1))
    most = min(n, width)
    if count is not None and count > most:
        raise InvalidInput(
            f"num_principal_components is {count}, but the data allows at most {most}",
            hint="at most min(rows, encoded feature columns)",
        )
    solver = str(options.get("pca_solver", "AUTO"))
    if ratio is not None:  # the full spectrum decides how many components reach the ratio
        s, vt = _svd(xc, most, "FULL" if solver == "AUTO" else solver)
        cumulative = np.cumsum(s**2 / (n - 1)) / total if total > 0 else np.ones(len(s))
        keep = int(np.searchsorted(cumulative, ratio - 1e-12) + 1)
        s, vt = s[: min(keep, len(s))], vt[: min(keep, len(s))]
    else:
        s, vt = _svd(xc, int(count) if count is not None else most, solver)
    signs = np.sign(vt[np.arange(len(vt)), np.argmax(np.abs(vt), axis=1)])
    vt = vt * np.where(signs == 0, 1.0, signs)[:, None]
    eigenvalues = s**2 / (n - 1)
    rebuilt = (xc @ vt.T) @ vt
    errors = np.sort(np.mean((xc - rebuilt) ** 2, axis=1))
    est = PcaEstimator(encoding, list(features), center, vt, eigenvalues, total, errors)
    info = [
        {
            "training_run": 0,
            "iteration": 0,
            "loss": float(np.mean(errors)),
            "eval_loss": None,
            "learning_rate": None,
            "duration_ms": 0,
        }
    ]
    return Fitted(est, None, info, {"num_principal_components": len(vt)})


def _ratios(est: PcaEstimator) -> np.ndarray:
    import numpy as np

    if est.total_variance <= 0:
        return np.zeros(len(est.eigenvalues))
    return est.eigenvalues / est.total_variance


def evaluate(
    estimator: PcaEstimator, frame: pd.DataFrame, label: str | None, options: Options
) -> dict[str, Any]:
    """ML.EVALUATE of a PCA model: the explained variance ratio of the kept components."""
    return {"metrics": {"total_explained_variance_ratio": float(_ratios(estimator).sum())}}


def ML_PRINCIPAL_COMPONENT_INFO(model: SqlModel, args: CallArgs) -> pd.DataFrame:
    """principal_component_id, eigenvalue, explained_variance_ratio,
    cumulative_explained_variance_ratio."""
    import numpy as np
    import pandas as pd

    est: PcaEstimator = model.estimator
    ratios = _ratios(est)
    return pd.DataFrame(
        {
            "principal_component_id": np.arange(1, len(ratios) + 1, dtype="int64"),
            "eigenvalue": est.eigenvalues,
            "explained_variance_ratio": ratios,
            "cumulative_explained_variance_ratio": np.cumsum(ratios),
        }
    )


def ML_PRINCIPAL_COMPONENTS(model: SqlModel, args: CallArgs) -> pd.DataFrame:
    """The loadings: principal_component_id, feature, numerical_value, categorical_value."""
    import pandas as pd

    est: PcaEstimator = model.estimator
    position = {name: i for i, name in enumerate(est.encoding.names)}
    rows: list[dict[str, Any]] = []
    for k, component in enumerate(est.components):
        for column in est.columns:
            cats = est.encoding.categorical.get(column)
            if cats is None:
                value = float(component[position[(column, None)]])
                numerical, categorical = value, []
            else:
                numerical = None
                categorical = [
                    {"category": c, "value": float(component[position[(column, c)]])} for c in cats
                ]
            rows.append(
                {
                    "principal_component_id": k + 1,
                    "feature": column,
                    "numerical_value": numerical,
                    "categorical_value": categorical,
                }
            )
    columns = ["principal_component_id", "feature", "numerical_value", "categorical_value"]
    return pd.DataFrame(rows, columns=columns)


def ML_DETECT_ANOMALIES(model: SqlModel, args: CallArgs) -> pd.DataFrame:
    """`is_anomaly`, `mean_squared_error` (of the reconstruction), then the input rows."""
    share = _outliers.contamination(args)
    if args.rows is None:
        raise InvalidInput(
            "ML.DETECT_ANOMALIES on a PCA model needs the rows: TABLE name or (query)"
        )
    est: PcaEstimator = model.estimator
    errors = est.errors(model.prepare(args.rows))
    limit = _outliers.threshold(est.train_errors, share)
    return _outliers.output(args.rows, {"is_anomaly": errors > limit, "mean_squared_error": errors})
