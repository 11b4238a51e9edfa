"""Understanding the problem: the task, the label encoding, which columns are features.

Every way the input can be unusable is caught here, before any training, with a message that
says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

TASKS = ("binary", "multiclass", "regression")
MIN_ROWS = 20
MIN_ROWS_PER_CLASS = 2
MAX_CLASSES = 200


@dataclass
class Problem:
    """A validated learning problem."""

    task: str
    target: str
    y: np.ndarray  # encoded: class indices for classification, floats for regression
    classes: list[Any] | None
    kinds: dict[str, str]  # feature column -> kind used by the feature transform
    notes: list[str] = field(default_factory=list)  # dropped columns and why
    weight: np.ndarray | None = None

    @property
    def n_classes(self) -> int:
        """Number of classes (1 for regression)."""
        return len(self.classes) if self.classes else 1


def infer_task(y: pd.Series) -> str:
    """binary for two values, multiclass for a few labels, regression for numbers."""
    from pandas.api import types as pt

    values = y.dropna()
    distinct = values.nunique()
    if distinct == 2:
        return "binary"
    if pt.is_bool_dtype(values.dtype):
        return "binary"
    if pt.is_numeric_dtype(values.dtype):
        integral = (
            bool((values == values.round()).all()) if pt.is_float_dtype(values.dtype) else True
        )
        if integral and distinct <= 10:
            return "multiclass"
        return "regression"
    return "multiclass"


def column_kinds(
    frame: pd.DataFrame, target: str, weight_column: str | None
) -> tuple[dict[str, str], list[str]]:
    """The kind of each usable feature column, and notes on the columns left out."""
    import pyarrow as pa

    from pmle.data.datasets import normalize
    from pmle.data.schema import infer_schema
    from pmle.data.stats import compute_stats

    features = frame.drop(columns=[c for c in (target, weight_column) if c], errors="ignore")
    table = normalize(pa.Table.from_pandas(features, preserve_index=False))
    stats = compute_stats(table)
    kinds: dict[str, str] = {}
    notes: list[str] = []
    for col in infer_schema(table, stats):
        s = stats["columns"][col.name]
        if s.get("count", 0) == 0:
            notes.append(f"dropped {col.name}: every value is missing")
        elif s.get("distinct", 0) <= 1:
            notes.append(f"dropped {col.name}: constant")
        elif col.kind == "identifier":
            notes.append(f"dropped {col.name}: looks like an ID ({col.note})")
        elif col.family == "other":
            notes.append(f"dropped {col.name}: unsupported type {col.type}")
        else:
            kinds[col.name] = col.kind
    return kinds, notes


def make_problem(
    frame: pd.DataFrame,
    target: str,
    task: str = "auto",
    weight_column: str | None = None,
) -> Problem:
    """Validate the table and target and work out the task."""
    import numpy as np
    from pandas.api import types as pt

    if target not in frame.columns:
        raise InvalidInput(
            f"no target column {target!r}",
            hint=f"columns: {', '.join(map(str, frame.columns))}",
        )
    if weight_column is not None and weight_column not in frame.columns:
        raise InvalidInput(f"no weight column {weight_column!r}")
    if task not in ("auto", *TASKS):
        raise InvalidInput(
            f"unknown task {task!r}", hint="use auto, binary, multiclass or regression"
        )
    y_raw = frame[target]
    if y_raw.isna().all():
        raise InvalidInput(f"the target {target!r} has no values (all missing)")
    if y_raw.isna().any():
        raise InvalidInput(
            f"the target {target!r} is missing in {int(y_raw.isna().sum())} rows",
            hint="drop those rows first, e.g. pmle data import NAME --sql "
            f'"SELECT * FROM t WHERE {target} IS NOT NULL"',
        )
    if len(frame) < MIN_ROWS:
        raise InvalidInput(
            f"too few rows to train on: {len(frame)}", hint=f"AutoML needs at least {MIN_ROWS}"
        )
    distinct = y_raw.nunique()
    if distinct < 2:
        raise InvalidInput(
            f"the target {target!r} has a single value ({y_raw.iloc[0]!r})",
            hint="a model needs at least two classes or varying values to learn",
        )
    task = infer_task(y_raw) if task == "auto" else task
    weight = None
    if weight_column is not None:
        w = frame[weight_column]
        if not pt.is_numeric_dtype(w.dtype) or w.isna().any() or (w < 0).any() or w.sum() <= 0:
            raise InvalidInput(
                f"weight column {weight_column!r} must hold non-negative numbers, no missing"
            )
        weight = w.to_numpy(dtype="float64")

    classes: list[Any] | None = None
    if task == "regression":
        if not pt.is_numeric_dtype(y_raw.dtype) or pt.is_bool_dtype(y_raw.dtype):
            raise InvalidInput(
                f"a regression target must be numeric; {target!r} holds {y_raw.dtype} values",
                hint="use --task binary / multiclass, or convert the column to numbers",
            )
        y = y_raw.to_numpy(dtype="float64")
    else:
        if task == "binary" and distinct != 2:
            raise InvalidInput(
                f"a binary target needs exactly 2 classes; {target!r} has {distinct}",
                hint="use --task multiclass",
            )
        if distinct > MAX_CLASSES:
            raise InvalidInput(
                f"{distinct} classes is too many for classification (at most {MAX_CLASSES})",
                hint="use --task regression for a numeric target",
            )
        counts = y_raw.value_counts()
        rare = counts[counts < MIN_ROWS_PER_CLASS]
        if len(rare):
            raise InvalidInput(
                f"class(es) {list(rare.index)[:5]} of {target!r} have fewer than "
                f"{MIN_ROWS_PER_CLASS} rows",
                hint="drop or merge rare classes",
            )
        labels = sorted(counts.index.tolist(), key=lambda v: (str(type(v)), v))
        classes = [v.item() if isinstance(v, np.generic) else v for v in labels]
        index = {v: i for i, v in enumerate(labels)}
        y = y_raw.map(index).to_numpy(dtype="int64")
    kinds, notes = column_kinds(frame, target, weight_column)
    if not kinds:
        raise InvalidInput(
            "no usable feature columns", hint="every other column is constant, empty or an ID"
        )
    return Problem(task, target, y, classes, kinds, notes, weight)
