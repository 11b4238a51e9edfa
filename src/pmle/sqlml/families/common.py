"""What every supervised family shares: the fitted result and label handling."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.sqlml.options import Options

__all__ = [
    "Fitted",
    "class_labels",
    "class_weight",
    "probs_column",
    "python_value",
    "scored_rows",
]


@dataclass
class Fitted:
    """What a family's `fit` returns."""

    estimator: Any
    classes: list[Any] | None = None
    training_info: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def python_value(value: Any) -> Any:
    """A NumPy scalar as a plain Python value."""
    import numpy as np

    return value.item() if isinstance(value, np.generic) else value


def class_labels(y: pd.Series, model_type: str) -> list[Any]:
    """The sorted distinct labels of a classifier's training rows (at least two)."""
    values = sorted({python_value(v) for v in y.dropna().unique()}, key=lambda v: (str(type(v)), v))
    if len(values) < 2:
        raise InvalidInput(
            f"{model_type} needs at least two distinct labels, found {values!r}",
            hint="check input_label_cols and the training query",
        )
    return values


def class_weight(options: Options, classes: list[Any]) -> dict[int, float] | str | None:
    """scikit-learn's class_weight from `auto_class_weights` / `class_weights`."""
    if options.get("auto_class_weights", False):
        return "balanced"
    given = options.get("class_weights")
    if given is None:
        return None
    pairs: list[tuple[Any, Any]] = []
    if isinstance(given, dict):
        pairs = list(given.items())
    else:
        for item in given if isinstance(given, list) else [given]:
            if not (isinstance(item, tuple) and len(item) == 2):
                raise InvalidInput(
                    "class_weights is a list of STRUCT('label', weight)",
                    hint="e.g. class_weights=[STRUCT('yes', 0.7), STRUCT('no', 0.3)]",
                )
            pairs.append(item)
    index = {str(c): i for i, c in enumerate(classes)}
    out: dict[int, float] = {}
    for label, weight in pairs:
        if str(label) not in index:
            raise InvalidInput(f"class_weights names {label!r}, which is not a label")
        out[index[str(label)]] = float(weight)
    return out


def probs_column(proba: np.ndarray, classes: list[Any]) -> list[list[dict[str, Any]]]:
    """`predicted_<label>_probs`: per row, [{label, prob}] with the likeliest first."""
    import numpy as np

    order = np.argsort(-proba, axis=1, kind="stable")
    return [
        [{"label": classes[j], "prob": float(row[j])} for j in idx]
        for row, idx in zip(proba, order, strict=True)
    ]


def scored_rows(train: pd.DataFrame, evaluation: pd.DataFrame | None) -> pd.DataFrame:
    """The rows a model is scored (and globally explained) on: the evaluation rows if any."""
    return evaluation if evaluation is not None else train
