"""Feature encodings of SQL models, as BigQuery ML does them.

:class:`OneHot` (linear models, DNNs, k-means, PCA): numeric columns (and BOOL as 0 / 1)
standardised with the training mean and standard deviation (NULL → the mean, i.e. 0), string
columns one-hot over the training categories (NULL and unseen categories → all zeros).
:class:`LabelCodes` (tree models): strings become their index in the sorted training
categories (NULL and unseen → missing), numbers stay numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "LabelCodes",
    "OneHot",
    "as_categories",
    "category_codes",
    "is_categorical",
    "label_codes",
    "numeric_values",
]


def is_categorical(series: pd.Series) -> bool:
    """Whether a column is categorical (strings, categories), not numeric or BOOL."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return False
    return not pd.api.types.is_datetime64_any_dtype(series)


def numeric_values(series: pd.Series) -> np.ndarray:
    """A numeric / BOOL / datetime column as float64 (datetimes as epoch seconds)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.astype("int64").astype("float64") / 1e9
        values[series.isna().to_numpy()] = np.nan
        return values.to_numpy()
    try:
        return pd.to_numeric(series, errors="raise").astype("float64").to_numpy()
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"column {series.name!r} is not numeric: {exc}") from exc


def category_codes(series: pd.Series, categories: list[str]) -> np.ndarray:
    """Each value's index in `categories` (compared as text), -1 for NULL and unseen values;
    vectorised (pandas' hash lookup), not a Python call per row."""
    import numpy as np
    import pandas as pd

    if not categories:
        return np.full(len(series), -1, dtype="int64")
    if isinstance(series.dtype, pd.CategoricalDtype):
        # look the few distinct values up once, then map each row's code
        known = [str(c) for c in series.cat.categories]
        lookup = np.append(pd.Index(categories).get_indexer(known), -1).astype("int64")
        return lookup[np.asarray(series.cat.codes, dtype="int64")]  # code -1 → the final -1
    if isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        # Arrow-backed text (pandas 3's default): the lookup in Arrow, no Python strings
        found = pc.index_in(pa.array(series), value_set=pa.array(categories, pa.string()))
        return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype="int64")
    present = series.notna().to_numpy()
    as_text = isinstance(series.dtype, pd.StringDtype) or (
        series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) == "string"
    )
    text = series if as_text else series.astype(str)
    codes = np.asarray(pd.Categorical(text, categories=categories).codes, dtype="int64")
    codes[~present] = -1
    return codes


def as_categories(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """`frame` with its Arrow-backed text `columns` as pandas categoricals — one dictionary
    encoding per column, so that selecting rows and coding them afterwards is integer work
    (the values, and every encoding of them, stay the same). Other columns are shared."""
    import numpy as np
    import pandas as pd

    changed: dict[str, Any] = {}
    for column in columns:
        series = frame[column]
        if not (isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow"):
            continue
        import pyarrow as pa
        import pyarrow.compute as pc

        encoded = pc.dictionary_encode(pa.array(series))
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        codes = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False))
        categories = pd.Index(encoded.dictionary.to_pylist(), dtype=series.dtype)
        changed[column] = pd.Categorical.from_codes(codes, categories=categories)
    return frame.assign(**changed) if changed else frame


def label_codes(values: Any, classes: list[Any]) -> np.ndarray:
    """Each label's index in `classes` (compared as text, so 1, "1" and True / "True" match
    as they print), -1 for NULL and labels outside `classes`; vectorised."""
    import numpy as np
    import pandas as pd

    series = values if isinstance(values, pd.Series) else pd.Series(values)
    series = series.reset_index(drop=True)
    numeric = all(isinstance(c, int | float) and not isinstance(c, bool) for c in classes)
    if numeric and _numeric_series(series):  # 1.0 is the class 1: compare as numbers
        return np.asarray(pd.Index(classes).get_indexer(series.astype("float64")), dtype="int64")
    return category_codes(series, [str(c) for c in classes])


def _numeric_series(series: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series)) and not pd.api.types.is_bool_dtype(series)


@dataclass
class OneHot:
    """Standardised numerics + one-hot strings; see the module docstring."""

    numeric: list[str] = field(default_factory=list)
    means: list[float] = field(default_factory=list)
    stds: list[float] = field(default_factory=list)
    categorical: dict[str, list[str]] = field(default_factory=dict)
    standardize: bool = True

    @classmethod
    def fit(cls, frame: pd.DataFrame, columns: list[str], *, standardize: bool = True) -> OneHot:
        import numpy as np

        enc = cls(standardize=standardize)
        for column in columns:
            series = frame[column]
            if is_categorical(series):
                cats = sorted({str(v) for v in series.dropna().unique()})
                enc.categorical[column] = cats
            else:
                values = numeric_values(series)
                mean = float(np.nanmean(values)) if np.isfinite(values).any() else 0.0
                std = float(np.nanstd(values, ddof=1)) if np.isfinite(values).sum() > 1 else 0.0
                enc.numeric.append(column)
                enc.means.append(mean)
                enc.stds.append(std if std > 0 else 1.0)
        return enc

    @property
    def names(self) -> list[tuple[str, str | None]]:
        """(column, category or None) of each output column, in order."""
        out: list[tuple[str, str | None]] = [(c, None) for c in self.numeric]
        for column, cats in self.categorical.items():
            out.extend((column, cat) for cat in cats)
        return out

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The encoded design matrix of `frame` (float64)."""
        import numpy as np

        n = len(frame)
        width = len(self.numeric) + sum(len(c) for c in self.categorical.values())
        # column-major: each feature is written as one contiguous column
        out = np.zeros((n, width), dtype="float64", order="F")
        for i, column in enumerate(self.numeric):
            values = numeric_values(frame[column])
            values = np.where(np.isnan(values), self.means[i], values)
            if self.standardize:
                values = (values - self.means[i]) / self.stds[i]
            out[:, i] = values
        offset = len(self.numeric)
        for column, cats in self.categorical.items():
            codes = category_codes(frame[column], cats)
            rows = np.nonzero(codes >= 0)[0]
            out[rows, offset + codes[rows]] = 1.0
            offset += len(cats)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "numeric": self.numeric,
            "means": self.means,
            "stds": self.stds,
            "categorical": self.categorical,
            "standardize": self.standardize,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OneHot:
        return cls(**data)


@dataclass
class LabelCodes:
    """Strings as indexes of the sorted training categories; numbers unchanged."""

    columns: list[str] = field(default_factory=list)
    categorical: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def fit(cls, frame: pd.DataFrame, columns: list[str]) -> LabelCodes:
        enc = cls(columns=list(columns))
        for column in columns:
            if is_categorical(frame[column]):
                enc.categorical[column] = sorted({str(v) for v in frame[column].dropna().unique()})
        return enc

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The encoded columns as one float64 array (missing: NaN), built in place."""
        import numpy as np

        out = np.empty((len(frame), len(self.columns)), dtype="float64", order="F")
        for j, column in enumerate(self.columns):
            if column in self.categorical:
                codes = category_codes(frame[column], self.categorical[column])
                out[:, j] = np.where(codes >= 0, codes, np.nan)
            else:
                out[:, j] = numeric_values(frame[column])
        return out

    def frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The encoded columns as float64 (missing: NaN)."""
        import numpy as np
        import pandas as pd

        out: dict[str, Any] = {}
        for column in self.columns:
            if column in self.categorical:
                codes = category_codes(frame[column], self.categorical[column])
                out[column] = np.where(codes >= 0, codes, np.nan)
            else:
                out[column] = numeric_values(frame[column])
        return pd.DataFrame(out, index=frame.index)

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "categorical": self.categorical}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelCodes:
        return cls(**data)
