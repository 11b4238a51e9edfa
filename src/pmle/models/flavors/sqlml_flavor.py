"""SQL model flavor: models made by CREATE MODEL (:class:`pmle.sqlml.model.SqlModel`), written
as `sqlml.json` plus their estimator's own files (NumPy arrays, LightGBM text, skops)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pmle.errors import InvalidInput
from pmle.models.flavors import Facts, check_task, not_a_classifier
from pmle.models.signature import ColumnSpec, Signature

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

NAME = "sqlml"
FILENAME = "sqlml.json"


def facts(model: Any, *, task: str | None, classes: list[Any] | None) -> Facts:
    """Task and classes of a SqlModel."""
    from pmle.sqlml.model import SqlModel

    if not isinstance(model, SqlModel):
        raise InvalidInput(f"not a SQL model: {type(model).__name__}")
    final = check_task(model.task, task)
    import sklearn

    return Facts(
        task=final,
        classes=list(model.classes) if model.classes is not None else None,
        libraries={"scikit-learn": sklearn.__version__},
        feature_names=list(model.inputs),
        extra={"model": model},
    )


def signature(facts: Facts, declared: Signature | None) -> Signature:
    """The declared signature (from the training rows), else the model's input columns."""
    if declared is not None:
        return declared
    model = facts.extra["model"]
    kinds = {"VARCHAR": "string", "BOOLEAN": "bool"}
    return Signature(
        tuple(
            ColumnSpec(name, kinds.get(str(kind).upper(), "float"))
            for name, kind in model.inputs.items()
        )
    )


def save(model: Any, facts: Facts, directory: Path) -> None:
    """Write the SqlModel's files."""
    model.save(directory)


class Predictor:
    """A SqlModel read back: predictions pass through its TRANSFORM."""

    categorical: ClassVar[bool] = False

    def __init__(self, model: Any) -> None:
        self.native = model

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.native.predict(frame)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.native.classes is None:
            raise not_a_classifier(self.native.task)
        return self.native.predict_proba(frame)


def load(directory: Path, manifest: dict[str, Any]) -> Predictor:
    """Read `sqlml.json` and the estimator's files."""
    from pmle.sqlml.model import SqlModel

    return Predictor(SqlModel.load(directory))
