"""A linear model (logistic / ridge) over the transform's matrix, stored as plain numbers.

AutoML fits it with scikit-learn (median imputation, standardisation, one-hot categories), then
keeps only the arrays needed to predict, so scoring a row is a few numpy operations instead of
a scikit-learn pipeline call, and nothing but JSON is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


@dataclass
class LinearMember:
    """Scores `x @ coef.T + intercept` after imputing, scaling and one-hot encoding."""

    numeric: list[int]
    medians: list[float]
    means: list[float]
    scales: list[float]
    categorical: list[int]
    categories: list[list[float]]  # per categorical feature: codes seen in training (-1: missing)
    coef: list[list[float]]  # outputs × (numeric + one-hot) inputs
    intercept: list[float]

    def decision(self, x: np.ndarray) -> np.ndarray:
        """Linear scores: log-odds (binary), per-class scores (multiclass) or values."""
        import numpy as np

        num = x[:, self.numeric]
        num = np.where(np.isnan(num), np.asarray(self.medians), num)
        parts = [(num - np.asarray(self.means)) / np.asarray(self.scales)]
        for col, cats in zip(self.categorical, self.categories, strict=True):
            codes = np.nan_to_num(x[:, [col]], nan=-1.0)
            parts.append((codes == np.asarray(cats)[None, :]).astype("float64"))
        z = np.hstack(parts) @ np.asarray(self.coef).T + np.asarray(self.intercept)
        return z[:, 0] if z.shape[1] == 1 else z

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dict(self.__dict__)

    @classmethod
    def from_sklearn(
        cls, pipeline: Any, numeric: list[int], categorical: list[int]
    ) -> LinearMember:
        """Read the arrays out of the fitted pipeline AutoML builds (see automl.trainer)."""
        import numpy as np

        pre = pipeline.named_steps["pre"]
        head = pipeline.named_steps["model"]
        num = pre.named_transformers_["num"]
        cats: list[list[float]] = []
        if categorical:
            # A missing code (NaN) is a category of its own for the encoder: stored as -1.
            enc = pre.named_transformers_["cat"]
            cats = [[-1.0 if np.isnan(v) else float(v) for v in c] for c in enc.categories_]
        coef = np.atleast_2d(head.coef_)
        intercept = np.atleast_1d(head.intercept_).astype(float)
        return cls(
            numeric=numeric,
            medians=[float(v) for v in num.named_steps["impute"].statistics_],
            means=[float(v) for v in num.named_steps["scale"].mean_],
            scales=[float(v) for v in num.named_steps["scale"].scale_],
            categorical=categorical,
            categories=cats,
            coef=coef.tolist(),
            intercept=intercept.tolist(),
        )
