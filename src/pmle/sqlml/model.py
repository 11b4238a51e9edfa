"""A model made by CREATE MODEL: :class:`SqlModel` — its TRANSFORM, the fitted estimator of its
family, what it was trained on, its training curve and evaluation.

Predictions always pass through the saved TRANSFORM first (the same SQL, with the statistics
of the training data as constants), so training and serving see the same features. A SqlModel
is a registry model (flavor `sqlml`): it is written as `sqlml.json` plus its estimator's own
files (NumPy arrays, a LightGBM model file, a skops file — never pickle).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.sqlml.transform import Transform

__all__ = ["Estimator", "SqlModel", "family_module"]

MANIFEST = "sqlml.json"
FORMAT_VERSION = 1


class Estimator(Protocol):
    """A fitted model of one family (see :mod:`pmle.sqlml.families`)."""

    def predict_output(self, frame: pd.DataFrame, label: str | None) -> pd.DataFrame:
        """BigQuery ML's prediction columns for `frame` (already transformed), e.g.
        `predicted_<label>` and `predicted_<label>_probs`, or `centroid_id`."""
        ...

    def save(self, directory: Path) -> dict[str, Any]:
        """Write its files into `directory`; returns the JSON state `load` needs."""
        ...


def family_module(family: str) -> Any:
    """The module of a model family (`fit`, `load`, and its table functions)."""
    return importlib.import_module(f"pmle.sqlml.families.{family}")


@dataclass
class SqlModel:
    """A model trained by CREATE MODEL."""

    __pmle_flavor__: ClassVar[str] = "sqlml"

    model_type: str
    family: str
    options: dict[str, Any]
    label: str | None
    inputs: dict[str, str]  # input column → DuckDB type, as the training query gave them
    features: list[str]  # the columns the estimator reads (after TRANSFORM)
    estimator: Any
    transform: Transform | None = None
    classes: list[Any] | None = None
    training_info: list[dict[str, Any]] = field(default_factory=list)
    evaluation: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # family facts (e.g. centroids count)

    @property
    def task(self) -> str | None:
        """The registry task: binary / multiclass / regression, None for the others."""
        if self.classes is not None:
            return "binary" if len(self.classes) == 2 else "multiclass"
        if self.label is not None:
            return "regression"
        return None

    # ---- predicting --------------------------------------------------------------------------

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame` with the TRANSFORM applied (when there is one) and the feature columns
        checked: a missing input column is InvalidInput naming it."""
        if self.transform is not None:  # it names a column it needs and lacks (DuckDB's binder)
            return self.transform.apply(frame, label=self.label)
        needed = self.features
        missing = [c for c in needed if c not in frame.columns and c != self.label]
        if missing:
            raise InvalidInput(
                f"the input lacks column(s) {', '.join(missing)} of the model",
                hint=f"the model reads {', '.join(c for c in needed if c != self.label)}",
            )
        return frame

    def predict_output(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The prediction columns BigQuery ML's ML.PREDICT adds, for `frame`'s rows."""
        return self.estimator.predict_output(self.prepare(frame), self.label)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predicted labels or values (or cluster ids)."""
        out = self.predict_output(frame)
        return out.iloc[:, 0].to_numpy()

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities, one column per class in `classes` order."""
        import numpy as np

        if self.classes is None:
            raise InvalidInput(f"a {self.model_type} model has no class probabilities")
        prepared = self.prepare(frame)
        proba = getattr(self.estimator, "predict_proba", None)
        if proba is None:
            raise InvalidInput(f"a {self.model_type} model has no class probabilities")
        return np.asarray(proba(prepared))

    # ---- files -------------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write `sqlml.json` and the estimator's files into `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        state = self.estimator.save(directory)
        manifest = {
            "format_version": FORMAT_VERSION,
            "model_type": self.model_type,
            "family": self.family,
            "options": self.options,
            "label": self.label,
            "inputs": self.inputs,
            "features": self.features,
            "classes": self.classes,
            "transform": self.transform.to_dict() if self.transform is not None else None,
            "training_info": self.training_info,
            "evaluation": self.evaluation,
            "extra": self.extra,
            "estimator": state,
        }
        (directory / MANIFEST).write_text(
            json.dumps(manifest, indent=1, default=_json_default), encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: Path) -> SqlModel:
        """Read a SqlModel written by :meth:`save`."""
        from pmle.sqlml.transform import Transform

        try:
            manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot read the SQL model in {directory}: {exc}") from exc
        family = manifest["family"]
        estimator = family_module(family).load(directory, manifest["estimator"])
        transform = manifest.get("transform")
        return cls(
            model_type=manifest["model_type"],
            family=family,
            options=manifest.get("options") or {},
            label=manifest.get("label"),
            inputs=manifest.get("inputs") or {},
            features=manifest.get("features") or [],
            estimator=estimator,
            transform=Transform.from_dict(transform) if transform else None,
            classes=manifest.get("classes"),
            training_info=manifest.get("training_info") or [],
            evaluation=manifest.get("evaluation") or {},
            extra=manifest.get("extra") or {},
        )


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
