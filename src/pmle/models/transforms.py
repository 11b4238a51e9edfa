"""Feature transforms that turn a raw table into the numeric matrix tree models take.

A transform is fitted once (on training data) and stored as JSON beside the model, so training
and serving apply exactly the same preprocessing. Each input column becomes one or more float
features:

- `numeric` and `boolean` columns pass through as floats (missing stays NaN);
- `category` columns become integer codes of the training categories (the most frequent
  `MAX_CATEGORIES`; rarer and unseen values share one "other" code), used by LightGBM as
  categorical features; high-cardinality columns also get their training frequency;
- `datetime` columns expand to year, month, day, day of week, day of year, hour and days since
  the epoch;
- `text` columns become their length, word count and the presence of their most frequent words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MAX_CATEGORIES = 255
TEXT_TOKENS = 30
_WORD = re.compile(r"[a-z0-9]+")
_DATETIME_PARTS = ("year", "month", "day", "dayofweek", "dayofyear", "hour", "epoch_days")
_DT_ATTR = {"dayofweek": "day_of_week", "dayofyear": "day_of_year"}


@dataclass
class ColumnStep:
    """How one input column becomes features."""

    column: str
    op: str  # numeric | category | datetime | text
    categories: list[Any] = field(default_factory=list)
    frequencies: list[float] | None = None  # per category (+ other), for high cardinality
    parts: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)

    def feature_names(self) -> list[str]:
        """Names of the features this step produces, in order."""
        c = self.column
        if self.op == "numeric":
            return [c]
        if self.op == "category":
            return [c] + ([f"{c}__frequency"] if self.frequencies is not None else [])
        if self.op == "datetime":
            return [f"{c}__{p}" for p in self.parts]
        if self.op == "text":
            return [f"{c}__chars", f"{c}__words"] + [f"{c}__has_{t}" for t in self.tokens]
        raise InvalidInput(f"unknown transform op {self.op!r}")

    def lookup(self) -> dict[str, float]:
        """Category → code, built once."""
        table = self.__dict__.get("_lookup")
        if table is None:
            table = {str(c): float(i) for i, c in enumerate(self.categories)}
            self.__dict__["_lookup"] = table
        return table

    def to_dict(self) -> dict[str, Any]:
        """JSON form (empty fields left out)."""
        d: dict[str, Any] = {"column": self.column, "op": self.op}
        for key in ("categories", "frequencies", "parts", "tokens"):
            value = getattr(self, key)
            if value:
                d[key] = value
        return d


@dataclass
class FeatureTransform:
    """A fitted, serialisable table → float matrix transform."""

    steps: list[ColumnStep]
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why

    @property
    def input_columns(self) -> list[str]:
        """The raw columns the transform reads."""
        return [s.column for s in self.steps]

    @property
    def feature_names(self) -> list[str]:
        """Output feature names, in matrix column order."""
        return [n for s in self.steps for n in s.feature_names()]

    @property
    def categorical_features(self) -> list[int]:
        """Indices of the category-code features (for LightGBM's categorical_feature)."""
        out, i = [], 0
        for s in self.steps:
            if s.op == "category":
                out.append(i)
            i += len(s.feature_names())
        return out

    def source_column(self) -> list[str]:
        """For each output feature, the input column it came from."""
        return [s.column for s in self.steps for _ in s.feature_names()]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"version": 1, "steps": [s.to_dict() for s in self.steps], "dropped": self.dropped}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureTransform:
        """Read the JSON form back."""
        if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
            raise InvalidInput("malformed feature transform")
        steps = [ColumnStep(**s) for s in data["steps"]]
        for s in steps:
            s.feature_names()  # validates the op
        return cls(steps, dict(data.get("dropped") or {}))

    # -- fitting ----------------------------------------------------------------------------------

    @classmethod
    def fit(cls, frame: pd.DataFrame, kinds: dict[str, str]) -> FeatureTransform:
        """Fit on training rows; `kinds` maps each column to numeric / boolean / categorical /
        datetime / text (other columns are not used)."""
        steps: list[ColumnStep] = []
        for column, kind in kinds.items():
            s = frame[column]
            if kind in {"numeric", "boolean"}:
                steps.append(ColumnStep(column, "numeric"))
            elif kind == "categorical":
                steps.append(_fit_category(column, s))
            elif kind == "datetime":
                steps.append(_fit_datetime(column, s))
            elif kind == "text":
                steps.append(_fit_text(column, s))
            else:
                raise InvalidInput(f"column {column!r}: cannot use kind {kind!r} as a feature")
        if not steps:
            raise InvalidInput("no usable feature columns")
        return cls(steps)

    # -- applying ---------------------------------------------------------------------------------

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """The float64 feature matrix (rows × features) for raw rows."""
        import numpy as np

        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            raise InvalidInput(f"input is missing column(s): {', '.join(missing)}")
        blocks = [_apply(step, frame[step.column]) for step in self.steps]
        return np.column_stack(blocks) if blocks else np.empty((len(frame), 0))

    def transform_columns(self, columns: dict[str, np.ndarray | list[Any]], n: int) -> np.ndarray:
        """The same matrix from plain columns (the serving path, no DataFrame per request).

        Numeric columns are float arrays (NaN for missing), others lists of Python values."""
        import numpy as np
        import pandas as pd

        out = np.empty((n, len(self.feature_names)), dtype="float64")
        i = 0
        for step in self.steps:
            values = columns[step.column]
            if step.op == "numeric":
                out[:, i] = values
                i += 1
                continue
            if step.op == "category" and n <= _SMALL:
                codes = _codes_of_values(step, list(values))
                out[:, i] = codes
                if step.frequencies is not None:
                    freqs = np.asarray(step.frequencies)
                    out[:, i + 1] = np.where(
                        np.isnan(codes), np.nan, freqs[np.nan_to_num(codes).astype(int)]
                    )
                i += len(step.feature_names())
                continue
            block = _apply(step, pd.Series(list(values), dtype=object))
            out[:, i : i + block.shape[1]] = block
            i += block.shape[1]
        return out


def _fit_category(column: str, s: pd.Series) -> ColumnStep:
    counts = s.dropna().astype(str).value_counts()
    cats = [str(v) for v in counts.index[:MAX_CATEGORIES]]
    cats.sort()
    step = ColumnStep(column, "category", categories=cats)
    if len(counts) > MAX_CATEGORIES or len(counts) > 0.2 * max(len(s), 1):
        total = float(counts.sum()) or 1.0
        freq = [float(counts.get(c, 0)) / total for c in cats]
        other = float(counts.iloc[MAX_CATEGORIES:].sum()) / total
        step.frequencies = [*freq, other]
    return step


def _fit_datetime(column: str, s: pd.Series) -> ColumnStep:
    import pandas as pd

    d = pd.to_datetime(s, errors="coerce")
    parts = [p for p in _DATETIME_PARTS if p != "hour" or (d.dt.hour.fillna(0) != 0).any()]
    return ColumnStep(column, "datetime", parts=parts)


def _words(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str).str.lower().str.findall(_WORD.pattern)


def _fit_text(column: str, s: pd.Series) -> ColumnStep:
    import pandas as pd

    docs = _words(s.iloc[:20000])
    df = pd.Series([w for words in docs for w in set(words) if len(w) > 2]).value_counts()
    n = max(len(docs), 1)
    # Words in 1 %–50 % of rows: frequent enough to learn from, rare enough to discriminate.
    useful = df[(df >= max(2, 0.01 * n)) & (df <= 0.5 * n)]
    return ColumnStep(column, "text", tokens=[str(t) for t in useful.index[:TEXT_TOKENS]])


def _apply(step: ColumnStep, s: pd.Series) -> np.ndarray:
    import numpy as np
    import pandas as pd

    if step.op == "numeric":
        try:
            out = s.to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError):
            out = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        return out.reshape(-1, 1)
    if step.op == "category":
        codes = _category_codes(step, s)
        if step.frequencies is None:
            return codes.reshape(-1, 1)
        freqs = np.asarray(step.frequencies)
        freq = np.where(np.isnan(codes), np.nan, freqs[np.nan_to_num(codes).astype(int)])
        return np.column_stack([codes, freq])
    if step.op == "datetime":
        d = pd.to_datetime(s, errors="coerce")
        cols = []
        for p in step.parts:
            if p == "epoch_days":
                v = (d - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400.0
            else:
                v = getattr(d.dt, _DT_ATTR.get(p, p))
            cols.append(pd.to_numeric(v, errors="coerce").astype("float64").to_numpy())
        return np.column_stack(cols)
    if step.op == "text":
        text = s.fillna("").astype(str)
        words = _words(s)
        cols = [
            text.str.len().astype("float64").to_numpy(),
            words.map(len).astype("float64").to_numpy(),
        ]
        sets = words.map(set)
        for token in step.tokens:
            cols.append(sets.map(lambda ws, t=token: t in ws).astype("float64").to_numpy())
        return np.column_stack(cols)
    raise InvalidInput(f"unknown transform op {step.op!r}")


# Below this many rows a dictionary lookup per value beats building a pandas Categorical.
_SMALL = 2000


def _codes_of_values(step: ColumnStep, values: Sequence[Any]) -> np.ndarray:
    """Category codes by dictionary lookup: missing → NaN, unknown → the "other" code."""
    import numpy as np
    import pandas as pd

    lookup = step.lookup()
    other = float(len(step.categories))
    nan = float("nan")
    return np.fromiter(
        (
            nan
            if v is None or v is pd.NA or (isinstance(v, float) and v != v)
            else lookup.get(v if isinstance(v, str) else str(v), other)
            for v in values
        ),
        dtype="float64",
        count=len(values),
    )


def _category_codes(step: ColumnStep, s: pd.Series) -> np.ndarray:
    """Codes of the training categories; other known values share the last code; missing NaN."""
    import numpy as np
    import pandas as pd

    other = float(len(step.categories))
    if len(s) <= _SMALL:
        return _codes_of_values(step, s.tolist())
    present = s.notna().to_numpy()
    text = s.astype("string").astype(object)
    known = text.isin(step.categories).to_numpy()
    codes = pd.Categorical(text.where(known), categories=step.categories).codes.astype("float64")
    codes = np.where((codes < 0) & present, other, codes)
    codes[codes < 0] = np.nan
    return codes
