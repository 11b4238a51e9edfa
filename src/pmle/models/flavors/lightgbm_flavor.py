"""LightGBM flavor: the Booster's own text format (`model.txt`), read back as a Booster.

Both a `lightgbm.Booster` and the scikit-learn wrappers (`LGBMClassifier`, ...) are saved as
the booster text plus the classes; predictions go through `Booster.predict`, never the wrapper.
The text keeps LightGBM's `pandas_categorical` (the training categories of each categorical
column), so category codes at predict time match training.
"""

from __future__ import annotations

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

NAME = "lightgbm"
FILENAME = "model.txt"

# LightGBM's objective names (as written in the model text) → task.
_BINARY = {"binary", "cross_entropy", "xentropy"}
_MULTICLASS = {"multiclass", "multiclassova", "softmax", "ova", "ovr", "multiclass_ova"}
_REGRESSION = {
    "regression",
    "regression_l1",
    "regression_l2",
    "l1",
    "l2",
    "mae",
    "mse",
    "rmse",
    "huber",
    "fair",
    "poisson",
    "quantile",
    "mape",
    "gamma",
    "tweedie",
    "mean_squared_error",
    "mean_absolute_error",
    "root_mean_squared_error",
    "mean_absolute_percentage_error",
}


def _objective(text: str) -> str | None:
    """The objective's name from the header of a model text ("binary sigmoid:1" → "binary")."""
    for line in text.splitlines():
        if line.startswith("objective="):
            parts = line.split("=", 1)[1].split()
            return parts[0] if parts else None
        if line.startswith("Tree="):
            break
    return None


def _task_of(objective: str | None) -> str | None:
    if objective in _BINARY:
        return "binary"
    if objective in _MULTICLASS:
        return "multiclass"
    if objective in _REGRESSION:
        return "regression"
    return None  # ranking, custom objectives: raw scores


def _indices(value: Any) -> list[int]:
    """Categorical feature positions as the reloaded booster reports them; [] when unknown
    (e.g. given by name), which only matters when no signature or example is given."""
    items = value.split(",") if isinstance(value, str) else value
    if isinstance(items, int):
        return [items]
    try:
        return sorted(int(i) for i in items or [])
    except (TypeError, ValueError):
        return []


def facts(model: Any, *, task: str | None, classes: list[Any] | None) -> Facts:
    """Booster text, task, classes and training categories of a LightGBM model."""
    import lightgbm as lgb

    model_classes: list[Any] | None = None
    if isinstance(model, lgb.LGBMModel):
        if not model.__sklearn_is_fitted__():
            raise InvalidInput("the LightGBM model is not fitted", hint="call fit() first")
        booster = model.booster_
        if isinstance(model, lgb.LGBMClassifier):
            model_classes = class_list(model.classes_)
    elif isinstance(model, lgb.Booster):
        booster = model
    else:
        raise InvalidInput(f"not a LightGBM model: {type(model).__name__}")
    # The text holds only the trees up to the best iteration, as the wrapper predicts with.
    text = booster.model_to_string()
    reloaded = lgb.Booster(model_str=text)
    detected = _task_of(_objective(text))
    if isinstance(model, lgb.LGBMClassifier) and detected not in {"binary", "multiclass"}:
        detected = "binary" if len(model_classes or []) == 2 else "multiclass"
    if isinstance(model, lgb.LGBMRegressor) and detected is None:
        detected = "regression"
    final_task = check_task(detected, task)
    if model_classes is not None and classes is not None and list(classes) != model_classes:
        raise InvalidInput(
            f"classes {classes!r} given, but the model's classes are {model_classes!r}"
        )
    n_outputs = reloaded.num_model_per_iteration()
    final_classes = (
        model_classes
        or (class_list(classes) if classes is not None else None)
        or default_classes(final_task, n_outputs)
    )
    if final_task not in {"binary", "multiclass"}:
        final_classes = None
    check_classes(final_task, final_classes, n_outputs)
    cat_idx = _indices(reloaded.params.get("categorical_feature"))
    return Facts(
        task=final_task,
        classes=final_classes,
        libraries={"lightgbm": lgb.__version__},
        feature_names=list(reloaded.feature_name()),
        extra={
            "text": text,
            "pandas_categorical": [list(c) for c in (reloaded.pandas_categorical or [])],
            "categorical_feature": cat_idx,
        },
    )


def signature(facts: Facts, declared: Signature | None) -> Signature:
    """The declared signature with LightGBM's training categories, or one from the booster."""
    names = facts.feature_names or []
    pandas_cats: list[list[Any]] = facts.extra["pandas_categorical"]
    if declared is None:
        cat_idx: list[int] = facts.extra["categorical_feature"]
        if pandas_cats and len(cat_idx) != len(pandas_cats):
            raise InvalidInput(
                "cannot tell which columns of this LightGBM model are categorical",
                hint="pass input_example (a few training rows) or signature",
            )
        cats_at = dict(zip(cat_idx, pandas_cats, strict=False)) if pandas_cats else {}
        return Signature(
            tuple(
                _categorical(name, cats_at[i]) if i in cats_at else ColumnSpec(name, "float")
                for i, name in enumerate(names)
            )
        )
    if len(declared.inputs) != len(names):
        raise InvalidInput(
            f"the signature has {len(declared.inputs)} input columns, "
            f"but the model takes {len(names)}",
            hint=f"the model's features are {', '.join(names)}",
        )
    candidates = [
        i for i, c in enumerate(declared.inputs) if c.type == "string" or c.categories is not None
    ]
    inputs = list(declared.inputs)
    if not pandas_cats:
        strings = [c.name for c in inputs if c.type == "string"]
        if strings:
            raise InvalidInput(
                f"column(s) {', '.join(strings)} hold strings, but this LightGBM model was not "
                "trained with pandas categorical columns",
                hint="train on a frame whose string columns have the 'category' dtype",
            )
        return Signature(tuple(ColumnSpec(c.name, c.type) for c in inputs), declared.outputs)
    if len(candidates) != len(pandas_cats):
        raise InvalidInput(
            f"the model was trained with {len(pandas_cats)} categorical column(s), but the "
            f"signature has {len(candidates)} string or categorical column(s)",
            hint="give an input_example with the training dtypes ('category' or string columns)",
        )
    for i, cats in zip(candidates, pandas_cats, strict=True):
        inputs[i] = _categorical(inputs[i].name, cats)
    return Signature(tuple(inputs), declared.outputs)


def _categorical(name: str, cats: list[Any]) -> ColumnSpec:
    return ColumnSpec(name, value_type(cats[0]) if cats else "string", tuple(cats))


def save(model: Any, facts: Facts, directory: Path) -> None:
    """Write the booster text."""
    (directory / FILENAME).write_text(facts.extra["text"], encoding="utf-8")


class Predictor(BoosterPredictor):
    """A LightGBM Booster read from its text file."""

    def _scores(self, frame: pd.DataFrame) -> np.ndarray:
        import lightgbm as lgb

        with translate_errors(lgb.basic.LightGBMError, ValueError, TypeError):
            return self.native.predict(frame)


def load(directory: Path, manifest: dict[str, Any]) -> Predictor:
    """Read `model.txt` into a Booster."""
    import lightgbm as lgb

    path = directory / FILENAME
    if not path.is_file():
        raise InvalidInput(f"{directory} has no {FILENAME}", hint="the model folder is incomplete")
    try:
        booster = lgb.Booster(model_file=str(path))
    except lgb.basic.LightGBMError as exc:
        raise InvalidInput(f"cannot read {path}: {exc}")
    return Predictor(booster, manifest.get("task"), manifest.get("classes"))
