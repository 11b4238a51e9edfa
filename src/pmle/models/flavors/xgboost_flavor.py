"""XGBoost flavor: the Booster's JSON format (`model.json`), read back as a Booster.

XGBoost is an optional extra (`pip install 'pmle[xgboost]'`), imported only when an XGBoost
model is saved or loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.models.flavors import (
    BoosterPredictor,
    Facts,
    check_classes,
    check_task,
    class_list,
    default_classes,
    translate_errors,
)
from pmle.models.signature import ColumnSpec, Signature, value_type

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

NAME = "xgboost"
FILENAME = "model.json"


def _xgb() -> Any:
    try:
        import xgboost
    except ImportError:
        raise InvalidInput(
            "XGBoost is not installed",
            hint="install the extra: pip install 'pmle[xgboost]'",
        )
    return xgboost


def _task_of(objective: str) -> str | None:
    if objective == "binary:logistic":
        return "binary"
    if objective == "multi:softprob":
        return "multiclass"
    if objective.startswith(("reg:", "count:", "survival:")):
        return "regression"
    return None  # margins, hinge, softmax labels, ranking: the booster's raw output


def facts(model: Any, *, task: str | None, classes: list[Any] | None) -> Facts:
    """Booster, task and classes of an XGBoost model."""
    xgb = _xgb()
    model_classes: list[Any] | None = None
    if isinstance(model, xgb.XGBModel):
        try:
            booster = model.get_booster()
        except Exception as exc:  # NotFittedError / XGBoostError, depending on the version
            raise InvalidInput(f"the XGBoost model is not fitted ({exc})", hint="call fit() first")
        try:
            # The wrapper predicts with the best iteration after early stopping; keep just those.
            booster = booster[: model.best_iteration + 1]
        except AttributeError:
            pass
        if isinstance(model, xgb.XGBClassifier):
            model_classes = class_list(model.classes_)
    elif isinstance(model, xgb.Booster):
        booster = model
    else:
        raise InvalidInput(f"not an XGBoost model: {type(model).__name__}")
    config = json.loads(booster.save_config())
    learner = config["learner"]
    detected = _task_of(learner["objective"]["name"])
    final_task = check_task(detected, task)
    if model_classes is not None and classes is not None and list(classes) != model_classes:
        raise InvalidInput(
            f"classes {classes!r} given, but the model's classes are {model_classes!r}"
        )
    n_outputs = max(int(learner.get("learner_model_param", {}).get("num_class", 0) or 0), 1)
    final_classes = (
        model_classes
        or (class_list(classes) if classes is not None else None)
        or default_classes(final_task, n_outputs)
    )
    if final_task not in {"binary", "multiclass"}:
        final_classes = None
    check_classes(final_task, final_classes, n_outputs)
    return Facts(
        task=final_task,
        classes=final_classes,
        libraries={"xgboost": xgb.__version__},
        feature_names=list(booster.feature_names) if booster.feature_names else None,
        extra={
            "booster": booster,
            "num_features": booster.num_features(),
            "feature_types": list(booster.feature_types) if booster.feature_types else None,
            "categories": _categories(booster),
        },
    )


def _categories(booster: Any) -> dict[int, list[Any]]:
    """Training categories by feature position (XGBoost ≥ 3.1 records them in the model)."""
    try:
        pairs = booster.get_categories(export_to_arrow=True).to_arrow()
    except (AttributeError, TypeError, ValueError):
        return {}
    return {i: arr.to_pylist() for i, (_, arr) in enumerate(pairs or []) if arr is not None}


def signature(facts: Facts, declared: Signature | None) -> Signature:
    """The declared signature checked against the booster, or one built from it."""
    n: int = facts.extra["num_features"]
    types: list[str] = facts.extra["feature_types"] or ["float"] * n
    known: dict[int, list[Any]] = facts.extra["categories"]
    if declared is None:
        if not facts.feature_names:
            raise InvalidInput(
                "this XGBoost model has no feature names to build a signature from",
                hint="pass input_example (a few training rows) or signature",
            )
        declared = Signature(
            tuple(
                ColumnSpec(name, "string" if t == "c" else "boolean" if t == "i" else "float")
                for name, t in zip(facts.feature_names, types, strict=False)
            )
        )
    if len(declared.inputs) != n:
        raise InvalidInput(
            f"the signature has {len(declared.inputs)} input columns, but the model takes {n}"
        )
    inputs = []
    for i, (col, t) in enumerate(zip(declared.inputs, types, strict=True)):
        if t != "c":
            if col.type == "string":
                raise InvalidInput(
                    f"column {col.name!r} holds strings, but the XGBoost model does not treat it "
                    "as categorical",
                    hint="train with enable_categorical=True on 'category' columns",
                )
            inputs.append(ColumnSpec(col.name, col.type))
            continue
        cats = known.get(i) or (list(col.categories) if col.categories is not None else None)
        if cats is None:
            raise InvalidInput(
                f"the training categories of column {col.name!r} are unknown",
                hint="pass an input_example whose categorical columns have the 'category' dtype",
            )
        inputs.append(ColumnSpec(col.name, value_type(cats[0]) if cats else "string", tuple(cats)))
    return Signature(tuple(inputs), declared.outputs)


def save(model: Any, facts: Facts, directory: Path) -> None:
    """Write the booster as JSON."""
    facts.extra["booster"].save_model(str(directory / FILENAME))


class Predictor(BoosterPredictor):
    """An XGBoost Booster read from its JSON file."""

    def _scores(self, frame: pd.DataFrame) -> np.ndarray:
        xgb = _xgb()
        with translate_errors(xgb.core.XGBoostError, ValueError, TypeError):
            return self.native.inplace_predict(frame, validate_features=False)


def load(directory: Path, manifest: dict[str, Any]) -> Predictor:
    """Read `model.json` into a Booster."""
    xgb = _xgb()
    path = directory / FILENAME
    if not path.is_file():
        raise InvalidInput(f"{directory} has no {FILENAME}", hint="the model folder is incomplete")
    booster = xgb.Booster()
    try:
        booster.load_model(str(path))
    except xgb.core.XGBoostError as exc:
        raise InvalidInput(f"cannot read {path}: {exc}")
    return Predictor(booster, manifest.get("task"), manifest.get("classes"))
