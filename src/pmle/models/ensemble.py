"""A weighted ensemble of tree models behind one feature transform — what AutoML produces.

Every member reads the same float matrix (see :mod:`pmle.models.transforms`). Members are
LightGBM Boosters (predicting natively, no scikit-learn wrapper) or scikit-learn estimators.
Members are combined in *score* space: log-odds for binary, log-probabilities for multiclass,
values for regression, averaged with the ensemble weights and then passed through the link
(sigmoid / softmax). Because a booster's log-odds are the sum of its trees, all LightGBM members
can be merged into one booster (:mod:`pmle.models.lgbm_merge`) with identical predictions. A
target transform (`log1p` for RMSLE) is undone after averaging.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.models.signature import Signature
    from pmle.models.transforms import FeatureTransform

TARGET_TRANSFORMS = (None, "log1p")


@dataclass
class Member:
    """One model of the ensemble."""

    kind: str  # lightgbm | sklearn | linear | catboost
    model: Any  # lightgbm.Booster, a fitted scikit-learn estimator, or a LinearMember
    weight: float
    name: str = ""  # the candidate it came from (e.g. "lgbm_large/fold2")


@dataclass
class EnsembleModel:
    """Transform + weighted members; `predict` / `predict_proba` take raw rows."""

    __pmle_flavor__ = "ensemble"

    transform: FeatureTransform
    members: list[Member]
    task: str  # binary | multiclass | regression
    classes: list[Any] | None = None
    target_transform: str | None = None
    input_signature: Signature | None = None
    info: dict[str, Any] = field(default_factory=dict)  # leaderboard, objective, ...

    def __post_init__(self) -> None:
        if not self.members:
            raise InvalidInput("an ensemble needs at least one member")
        if self.target_transform not in TARGET_TRANSFORMS:
            raise InvalidInput(f"unknown target transform {self.target_transform!r}")
        total = sum(m.weight for m in self.members)
        if total <= 0:
            raise InvalidInput("ensemble weights must add up to more than 0")

    @property
    def n_classes(self) -> int:
        """Number of classes (1 for regression)."""
        return len(self.classes) if self.classes else 1

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The feature matrix of raw rows."""
        return self.transform.transform(frame)

    def member_scores(
        self, member: Member, x: np.ndarray, shared: dict[str, Any] | None = None
    ) -> np.ndarray:
        """One member's scores on a feature matrix (log-odds, log-probabilities or values).

        `shared` carries inputs built once per call for several members (CatBoost's Pool)."""
        import numpy as np

        if member.kind == "lightgbm":
            threads = 1 if len(x) < 500 else 0  # threads only pay off on larger batches
            return np.asarray(member.model.predict(x, raw_score=True, num_threads=threads))
        if member.kind == "linear":
            return np.asarray(member.model.decision(x))
        if member.kind == "catboost":
            from pmle.models.catboost_member import pool, scores

            cache = shared if shared is not None else {}
            if "catboost_pool" not in cache:
                cache["catboost_pool"] = pool(x, self.transform.categorical_features)
            return scores(member.model, cache["catboost_pool"])
        if member.kind == "sklearn":
            if self.task in {"binary", "multiclass"}:
                return scores_from_proba(np.asarray(member.model.predict_proba(x)), self.task)
            return np.asarray(member.model.predict(x))
        raise InvalidInput(f"unknown ensemble member kind {member.kind!r}")

    def scores(self, x: np.ndarray) -> np.ndarray:
        """The weighted average of the members' scores on a feature matrix."""
        total = sum(m.weight for m in self.members)
        acc: np.ndarray | None = None
        shared: dict[str, Any] = {}
        for m in self.members:
            if m.weight <= 0:
                continue
            out = self.member_scores(m, x, shared) * (m.weight / total)
            acc = out if acc is None else acc + out
        assert acc is not None
        return acc

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities, one column per class."""
        if self.task not in {"binary", "multiclass"}:
            from pmle.models.flavors import not_a_classifier

            raise not_a_classifier(self.task)
        return link(self.scores(self.matrix(frame)), self.task)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Class labels (classifiers) or values (regression)."""
        import numpy as np

        if self.task in {"binary", "multiclass"}:
            from pmle.models.flavors import labels_array

            labels = labels_array(list(self.classes or []))
            return labels[self.predict_proba(frame).argmax(axis=1)]
        out = self.scores(self.matrix(frame))
        if self.target_transform == "log1p":
            out = np.expm1(out)
        return out


def scores_from_proba(proba: np.ndarray, task: str, eps: float = 1e-7) -> np.ndarray:
    """Class probabilities as scores: log-odds (binary, 1-D) or log-probabilities."""
    import numpy as np

    p = np.clip(proba, eps, 1.0)
    if task == "binary":
        p1 = np.clip(p[:, 1] if p.ndim == 2 else p, eps, 1 - eps)
        return np.log(p1) - np.log1p(-p1)
    return np.log(p)


def link(scores: np.ndarray, task: str) -> np.ndarray:
    """Scores back to probabilities with one column per class (sigmoid / softmax)."""
    import numpy as np

    if task == "binary":
        p1 = 1.0 / (1.0 + np.exp(-scores))
        return np.column_stack([1.0 - p1, p1])
    if task == "multiclass":
        z = scores - scores.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    return scores
