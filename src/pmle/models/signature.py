"""Model signatures: the ordered input columns a model takes and the outputs it gives.

A signature is plain data (it lives in the model manifest as JSON). :meth:`Signature.prepare`
checks a frame against it and returns exactly the columns the model was trained on, in
training order, with categorical columns re-coded to the training categories.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

#: The column types a signature may name.
COLUMN_TYPES = ("integer", "float", "boolean", "string", "datetime")


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its name, type and, for a categorical column, the training categories."""

    name: str
    type: str
    categories: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput(f"invalid column name {self.name!r} in a signature")
        if self.type not in COLUMN_TYPES:
            raise InvalidInput(
                f"invalid type {self.type!r} for column {self.name!r}",
                hint=f"use one of {', '.join(COLUMN_TYPES)}",
            )
        if self.categories is not None and not isinstance(self.categories, tuple):
            object.__setattr__(self, "categories", tuple(self.categories))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in the manifest."""
        d: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.categories is not None:
            d["categories"] = list(self.categories)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSpec:
        """Read the JSON form; InvalidInput when it is malformed."""
        if not isinstance(data, Mapping) or "name" not in data or "type" not in data:
            raise InvalidInput(
                f"malformed signature column {data!r}", hint="each column needs a name and a type"
            )
        cats = data.get("categories")
        if cats is not None and not isinstance(cats, list | tuple):
            raise InvalidInput(f"categories of column {data['name']!r} must be a list")
        return cls(str(data["name"]), str(data["type"]), None if cats is None else tuple(cats))


@dataclass(frozen=True)
class Signature:
    """The ordered input columns of a model and its output columns."""

    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        if not self.inputs:
            raise InvalidInput("a signature needs at least one input column")
        names = [c.name for c in self.inputs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InvalidInput(f"duplicate input column(s) in signature: {', '.join(dupes)}")

    @property
    def input_names(self) -> list[str]:
        """Input column names in model order."""
        return [c.name for c in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in the manifest."""
        return {
            "inputs": [c.to_dict() for c in self.inputs],
            "outputs": [c.to_dict() for c in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        """Read the JSON form; InvalidInput when it is malformed."""
        if not isinstance(data, Mapping) or not isinstance(data.get("inputs"), list):
            raise InvalidInput(
                "malformed signature", hint="expected {'inputs': [...], 'outputs': [...]}"
            )
        return cls(
            tuple(ColumnSpec.from_dict(c) for c in data["inputs"]),
            tuple(ColumnSpec.from_dict(c) for c in data.get("outputs") or []),
        )

    def with_outputs(self, outputs: Sequence[ColumnSpec]) -> Signature:
        """A copy with other output columns."""
        return Signature(self.inputs, tuple(outputs))

    def prepare(self, data: Any, *, categorical: bool) -> pd.DataFrame:
        """Check `data` against the inputs and return the model's columns in model order.

        Missing columns raise InvalidInput naming them; extra columns are dropped. With
        `categorical`, columns that carry categories become pandas Categoricals with exactly the
        training categories, so codes match the model; unseen values become missing (NaN).
        """
        import pandas as pd

        frame = as_frame(data)
        missing = [c.name for c in self.inputs if c.name not in frame.columns]
        if missing:
            raise InvalidInput(
                f"input is missing column(s): {', '.join(missing)}",
                hint=f"the model takes {', '.join(self.input_names)}",
            )
        cols = {c.name: _coerce(frame[c.name], c, categorical) for c in self.inputs}
        return pd.DataFrame(cols, index=frame.index)


def as_frame(data: Any) -> pd.DataFrame:
    """A DataFrame from a DataFrame, a mapping of columns or a list of row mappings."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        if not data.columns.is_unique:
            raise InvalidInput("input has duplicate column names")
        return data
    if isinstance(data, Mapping) or (
        isinstance(data, list) and all(isinstance(r, Mapping) for r in data)
    ):
        try:
            return pd.DataFrame(data)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"cannot read the input as a table: {exc}")
    raise InvalidInput(
        f"expected a pandas DataFrame, got {type(data).__name__}",
        hint="pass a DataFrame, a dict of columns or a list of row dicts",
    )


def infer_signature(frame: pd.DataFrame) -> Signature:
    """The input signature of a DataFrame: its columns in order, typed; categorical columns keep
    their categories."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput(f"input_example must be a pandas DataFrame, got {type(frame).__name__}")
    return Signature(tuple(_infer_column(str(name), frame[name]) for name in frame.columns))


def output_columns(task: str | None, classes: Sequence[Any] | None) -> tuple[ColumnSpec, ...]:
    """The output schema for a task: the predicted label (classifiers) or value."""
    if task in {"binary", "multiclass"} and classes:
        return (ColumnSpec("prediction", value_type(classes[0])),)
    return (ColumnSpec("prediction", "float"),)


def value_type(value: Any) -> str:
    """The signature type of one Python or numpy scalar."""
    import numbers

    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "boolean"
    if isinstance(value, numbers.Integral):
        return "integer"
    if isinstance(value, numbers.Real):
        return "float"
    return "string"


def _infer_column(name: str, s: pd.Series) -> ColumnSpec:
    import pandas as pd

    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        inner = _infer_column(name, pd.Series(dtype.categories))
        return ColumnSpec(name, inner.type, tuple(dtype.categories.tolist()))
    return ColumnSpec(name, _dtype_type(name, s))


def _dtype_type(name: str, s: pd.Series) -> str:
    from pandas.api import types as pt

    dtype = s.dtype
    if pt.is_bool_dtype(dtype):
        return "boolean"
    if pt.is_integer_dtype(dtype):
        return "integer"
    if pt.is_float_dtype(dtype):
        return "float"
    if pt.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pt.is_object_dtype(dtype) or pt.is_string_dtype(dtype):
        # An object column's type is decided by its values.
        kind = pt.infer_dtype(s, skipna=True)
        return {
            "boolean": "boolean",
            "integer": "integer",
            "floating": "float",
            "mixed-integer-float": "float",
            "decimal": "float",
            "datetime": "datetime",
            "datetime64": "datetime",
            "date": "datetime",
        }.get(kind, "string")
    raise InvalidInput(
        f"column {name!r} has type {dtype}, which a model signature cannot describe",
        hint="convert it to a number, boolean, string or datetime column",
    )


def _is_stringy(s: pd.Series) -> bool:
    from pandas.api import types as pt

    if pt.is_object_dtype(s.dtype):
        return pt.infer_dtype(s, skipna=True) in {"string", "empty", "mixed"}
    return pt.is_string_dtype(s.dtype)


def _coerce(s: pd.Series, spec: ColumnSpec, categorical: bool) -> Any:
    import pandas as pd
    from pandas.api import types as pt

    if isinstance(s.dtype, pd.CategoricalDtype) and not (categorical and spec.categories):
        # Plain values, not a stray categorical the model was not trained with.
        s = s.astype(object)
    if spec.type == "string":
        if not (_is_stringy(s) or isinstance(s.dtype, pd.CategoricalDtype)):
            raise InvalidInput(
                f"column {spec.name!r} must hold strings, got {s.dtype}",
                hint="send the category labels as strings",
            )
    elif spec.type in {"integer", "float"}:
        if not (pt.is_numeric_dtype(s.dtype) or isinstance(s.dtype, pd.CategoricalDtype)):
            try:
                s = pd.to_numeric(s, errors="raise")
            except (ValueError, TypeError):
                raise InvalidInput(f"column {spec.name!r} must hold numbers, got {s.dtype}")
    elif spec.type == "boolean":
        if not (pt.is_bool_dtype(s.dtype) or pt.is_numeric_dtype(s.dtype)):
            if pt.infer_dtype(s, skipna=True) not in {"boolean", "empty"}:
                raise InvalidInput(f"column {spec.name!r} must hold booleans, got {s.dtype}")
            # True / False / None: the numeric form tree models use for booleans anyway.
            s = s.map({True: 1.0, False: 0.0}).astype("float64")
    elif spec.type == "datetime" and not pt.is_datetime64_any_dtype(s.dtype):
        try:
            s = pd.to_datetime(s)
        except (ValueError, TypeError):
            raise InvalidInput(f"column {spec.name!r} must hold datetimes, got {s.dtype}")
    if categorical and spec.categories is not None:
        cats = list(spec.categories)
        # Masking first: values outside the categories become missing (as LightGBM treats
        # unknown categories) without pandas' deprecated implicit coercion.
        known = s.isin(cats)
        return pd.Categorical(s.where(known), categories=cats)
    return s
