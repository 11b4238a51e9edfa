"""The prediction hot path: JSON instances → checked columns → the native predictor.

No DataFrame is built per request for the models AutoML and LightGBM produce: instances are
checked against the signature column by column, numeric columns become float arrays,
categorical ones codes of the training categories, and the LightGBM booster (or the ensemble's
transform and members) is called directly, single-threaded for small batches. Other flavors
go through :class:`pmle.models.format.LoadedModel` with a DataFrame. Both give exactly the
predictions `LoadedModel.predict` gives.
"""

from __future__ import annotations

import itertools
import math
import operator
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from pmle.models.format import LoadedModel
    from pmle.models.signature import ColumnSpec

_NUMERIC = {"integer", "float", "boolean"}
#: From this many instances on, rows are packed by `struct` (below, numpy's fixed cost is
#: the smaller), and from `INT_PACK_ROWS` on integer columns as C integers.
PACK_ROWS = 4
INT_PACK_ROWS = 16


class Columns:
    """Checked input columns: float arrays for numeric columns, value lists for the others.

    When every column is numeric, `matrix` holds them all (rows × columns, signature order) and
    `data` views its columns (made only when asked for: the LightGBM path reads the matrix)."""

    __slots__ = ("_data", "_names", "matrix", "n")

    def __init__(
        self,
        data: dict[str, Any] | None,
        n: int,
        matrix: np.ndarray | None = None,
        names: Sequence[str] = (),
    ) -> None:
        self._data = data
        self.n = n
        self.matrix = matrix
        self._names = names

    @property
    def data(self) -> dict[str, Any]:
        """Column name → values."""
        if self._data is None:
            assert self.matrix is not None
            self._data = {c: self.matrix[:, j] for j, c in enumerate(self._names)}
        return self._data

    @staticmethod
    def of_matrix(matrix: np.ndarray, names: Sequence[str]) -> Columns:
        """Columns viewing a numeric matrix."""
        return Columns(None, len(matrix), matrix, names)

    @staticmethod
    def concat(parts: Sequence[Columns]) -> Columns:
        """Several requests' columns as one batch."""
        import numpy as np

        if len(parts) == 1:
            return parts[0]
        if all(p.matrix is not None for p in parts):
            return Columns.of_matrix(
                np.vstack([p.matrix for p in parts if p.matrix is not None]), parts[0]._names
            )
        data: dict[str, Any] = {}
        for name, first in parts[0].data.items():
            if isinstance(first, list):
                data[name] = [v for p in parts for v in p.data[name]]
            else:
                data[name] = np.concatenate([p.data[name] for p in parts])
        return Columns(data, sum(p.n for p in parts))


@dataclass
class Prediction:
    """What a model returns for a batch: labels and class probabilities, or values."""

    values: np.ndarray  # labels (classifiers) or predicted values
    proba: np.ndarray | None = None  # (rows, classes) for classifiers

    def slice(self, start: int, stop: int) -> Prediction:
        """Rows start..stop (one request's share of a batch)."""
        return Prediction(
            self.values[start:stop], None if self.proba is None else self.proba[start:stop]
        )


def _row_getter(keys: Sequence[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """A function returning an instance's values for `keys`, as a tuple."""
    getter = operator.itemgetter(*keys)
    return getter if len(keys) > 1 else (lambda inst: (getter(inst),))


def _field_error(spec: ColumnSpec, row: int | None, value: Any, expected: str) -> InvalidInput:
    where = f"instance {row}: " if row is not None else ""
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return InvalidInput(f"{where}field {spec.name!r} must be {expected}, got {shown}")


def _numeric(spec: ColumnSpec, values: list[Any]) -> np.ndarray:
    import numpy as np

    try:
        out = np.array(values, dtype="float64")
        if out.ndim == 1:
            return out
    except (TypeError, ValueError, OverflowError):
        pass
    for i, v in enumerate(values):  # find the culprit for the message
        if v is None or isinstance(v, bool | int | float):
            continue
        if isinstance(v, str):
            try:
                float(v)
                continue
            except ValueError:
                pass
        raise _field_error(spec, i, v, "a number or null")
    raise _field_error(spec, None, values[:3], "a number or null")


def _boolean(spec: ColumnSpec, values: list[Any]) -> np.ndarray:
    import numpy as np

    out = np.empty(len(values), dtype="float64")
    for i, v in enumerate(values):
        if v is None:
            out[i] = math.nan
        elif v is True or v is False or (isinstance(v, int | float) and v in (0, 1)):
            out[i] = float(v)
        else:
            raise _field_error(spec, i, v, "true, false or null")
    return out


def _scalars(spec: ColumnSpec, values: list[Any]) -> list[Any]:
    for i, v in enumerate(values):
        if isinstance(v, dict | list):
            raise _field_error(spec, i, v, "a string, number or null")
        if spec.type == "string" and not (v is None or isinstance(v, str | int | float)):
            raise _field_error(spec, i, v, "a string or null")
    return values


class ServedModel:
    """A loaded model version with the conversions of the serving path."""

    def __init__(self, loaded: LoadedModel, compile_dir: Path | None = None) -> None:
        self.loaded = loaded
        self.signature = loaded.signature
        self.task = loaded.task
        self.classes = loaded.classes
        self.input_names = self.signature.input_names
        self._path = "generic"
        self._numeric: set[str] = {c.name for c in self.signature.inputs if c.type in _NUMERIC}
        native = loaded.native
        if loaded.flavor == "ensemble":
            from pmle.serving.native import FastBooster, compile_booster

            self._path = "ensemble"
            numeric_steps = {s.column for s in native.transform.steps if s.op == "numeric"}
            self._numeric &= numeric_steps
            self._members = [
                (m, FastBooster(m.model, raw_score=True) if m.kind == "lightgbm" else None)
                for m in native.members
            ]
            if compile_dir is not None:
                for _, fast in self._members:
                    if fast is not None:
                        fast.compiled = compile_booster(fast.booster, compile_dir, raw_score=True)
        elif loaded.flavor == "lightgbm":
            from pmle.serving.native import FastBooster, compile_booster

            self._path = "lightgbm"
            self._booster = FastBooster(native, raw_score=False)
            if compile_dir is not None:
                self._booster.compiled = compile_booster(native, compile_dir, raw_score=False)
            self._codes = {
                c.name: {v: float(i) for i, v in enumerate(c.categories)}
                for c in self.signature.inputs
                if c.categories is not None
            }
            self._numeric -= set(self._codes)
        self._all_numeric = all(c in self._numeric for c in self.input_names)
        self._getter = _row_getter(self.input_names)
        # (the keys of the instance the getter was built from, the getter): see _getter_for
        self._keyed: tuple[tuple[Any, ...], Callable[[Any], tuple[Any, ...]]] = ((), self._getter)
        types = [c.type for c in self.signature.inputs]
        self._boolean_at = [j for j, t in enumerate(types) if t == "boolean"]
        # Rows packed as C doubles; integer columns first tried as C integers (see _pack).
        self._row = struct.Struct(f"={len(types)}d")
        self._int_row: struct.Struct | None = None
        self._int_at: Any = None
        if "integer" in types:
            import numpy as np

            self._int_row = struct.Struct(
                "=" + "".join("q" if t == "integer" else "d" for t in types)
            )
            self._int_at = np.array([t == "integer" for t in types])
        if self.classes:
            from pmle.models.flavors import labels_array

            self._labels = labels_array(list(self.classes))

    def _matrix_of(self, instances: list[Any]) -> Columns | None:
        """All-numeric instances as one matrix; None when anything is off (then the
        column-by-column path runs and names the problem)."""
        import numpy as np

        names = self.input_names
        try:
            if isinstance(instances[0], Mapping):
                # itemgetter pulls a row's values in C: about twice as fast as a comprehension.
                rows = list(map(self._getter_for(instances[0]), instances))
            else:
                rows = instances
            matrix = self._pack(rows) if len(rows) >= PACK_ROWS else None
            if matrix is None:  # a few rows, or None (→ NaN), numeric strings, ragged rows
                matrix = np.array(rows, dtype="float64")
        except (KeyError, TypeError, ValueError, OverflowError):
            return None
        if matrix.ndim != 2 or matrix.shape[1] != len(names):
            return None
        for j in self._boolean_at:
            column = matrix[:, j]
            if not np.all((column == 0) | (column == 1) | np.isnan(column)):
                return None
        return Columns.of_matrix(matrix, names)

    def _pack(self, rows: list[Any]) -> np.ndarray | None:
        """Rows of numbers as a float64 matrix, each row packed by `struct` in C: several
        times faster than numpy discovering a nested list's shape and element types. Values
        are exactly numpy's: a float as it is, an int rounded to the nearest double (Python's
        conversion and numpy's int64 cast both round to nearest, ties to even). None for
        anything else (None, strings, ragged rows), which numpy then reads as before."""
        import numpy as np

        shape = (len(rows), len(self.input_names))
        failed = (struct.error, TypeError, ValueError, OverflowError)
        if self._int_row is not None and len(rows) >= INT_PACK_ROWS:
            # Integer columns as C integers: no float object made per value. A float there
            # (or an int beyond int64) fails the row; then every value goes as a double.
            try:
                buffer = bytearray().join(itertools.starmap(self._int_row.pack, rows))
            except failed:
                pass
            else:
                doubles = np.frombuffer(buffer, dtype="float64").reshape(shape)
                integers = np.frombuffer(buffer, dtype="int64").reshape(shape)
                return np.where(self._int_at, integers, doubles)
        try:
            buffer = bytearray().join(itertools.starmap(self._row.pack, rows))
        except failed:
            return None
        return np.frombuffer(buffer, dtype="float64").reshape(shape)

    def _getter_for(self, first: Mapping[Any, Any]) -> Callable[[Any], tuple[Any, ...]]:
        """A row getter keyed by the very key objects of `first` (equal to the column names).

        A dict lookup whose key is the stored key object itself skips comparing the strings:
        orjson hands every parsed object the same cached key objects, so a getter built from
        the first instance's keys reads all the rows about twice as fast as one holding the
        signature's own strings. Kept while requests come with the same key objects."""
        keys = tuple(first)
        cached, getter = self._keyed
        # Equal keys read correctly with either getter; the identity of one says whether
        # they are still the objects the getter holds (strings that are one object compare
        # at once).
        if keys and keys == cached and keys[0] is cached[0]:
            return getter
        own = dict(zip(keys, keys, strict=True))
        try:
            getter = _row_getter([own[name] for name in self.input_names])
        except (KeyError, TypeError):
            return self._getter  # a field is missing: the plain getter fails like before
        self._keyed = (keys, getter)
        return getter

    @property
    def compiled(self) -> bool:
        """Whether some trees run as compiled code."""
        if self._path == "lightgbm":
            return self._booster.compiled is not None
        if self._path == "ensemble":
            return any(f is not None and f.compiled is not None for _, f in self._members)
        return False

    @property
    def fast(self) -> bool:
        """Whether predictions skip the DataFrame path."""
        return self._path != "generic"

    # -- input ------------------------------------------------------------------------------

    def columns_from_instances(self, instances: Any) -> Columns:
        """Columns from Vertex / KServe V1 instances: a list of objects keyed by column, or of
        lists in signature order. InvalidInput names the first field that does not fit."""
        if not isinstance(instances, list) or not instances:
            raise InvalidInput("'instances' must be a non-empty list")
        first = instances[0]
        names = self.input_names
        raw: dict[str, list[Any]]
        if self._all_numeric:
            fast = self._matrix_of(instances)
            if fast is not None:
                return fast
        if isinstance(first, Mapping):
            raw = {}
            for name in names:
                try:
                    raw[name] = [inst[name] for inst in instances]
                except KeyError:
                    row = next(i for i, inst in enumerate(instances) if name not in inst)
                    raise InvalidInput(
                        f"instance {row}: missing field {name!r}",
                        hint=f"each instance needs {', '.join(names)} (null for a missing value)",
                    )
                except TypeError:
                    row = next(
                        i for i, inst in enumerate(instances) if not isinstance(inst, Mapping)
                    )
                    raise InvalidInput(f"instance {row} is not an object like instance 0")
        elif isinstance(first, list):
            for i, inst in enumerate(instances):
                if not isinstance(inst, list) or len(inst) != len(names):
                    raise InvalidInput(
                        f"instance {i} must be a list of {len(names)} values",
                        hint=f"in this order: {', '.join(names)}",
                    )
            raw = {name: [inst[j] for inst in instances] for j, name in enumerate(names)}
        else:
            raise InvalidInput(
                "each instance must be an object keyed by column name or a list of values",
                hint=f"the model takes {', '.join(names)}",
            )
        return self.columns_from_raw(raw, len(instances))

    def columns_from_raw(self, raw: Mapping[str, list[Any]], n: int) -> Columns:
        """Columns from per-column value lists (also the V2 protocol's shape)."""
        data: dict[str, Any] = {}
        for spec in self.signature.inputs:
            values = raw.get(spec.name)
            if values is None:
                raise InvalidInput(
                    f"missing input {spec.name!r}",
                    hint=f"the model takes {', '.join(self.input_names)}",
                )
            if len(values) != n:
                raise InvalidInput(f"input {spec.name!r} has {len(values)} values, expected {n}")
            if spec.name in self._numeric:
                data[spec.name] = (
                    _boolean(spec, values) if spec.type == "boolean" else _numeric(spec, values)
                )
            else:
                data[spec.name] = _scalars(spec, list(values))
        return Columns(data, n)

    # -- prediction -------------------------------------------------------------------------

    def predict(self, cols: Columns) -> Prediction:
        """Predict a batch of checked columns."""
        import numpy as np

        if self._path == "lightgbm":
            return self._from_scores(np.asarray(self._booster_scores(cols)))
        if self._path == "ensemble":
            model = self.loaded.native
            scores = self._ensemble_scores(
                model, model.transform.transform_columns(cols.data, cols.n)
            )
            if model.task in {"binary", "multiclass"}:
                from pmle.models.ensemble import link

                proba = link(scores, model.task)
                return Prediction(self._labels[proba.argmax(axis=1)], proba)
            if model.target_transform == "log1p":
                scores = np.expm1(scores)
            return Prediction(scores)
        frame = self._frame(cols)
        if self.task in {"binary", "multiclass"}:
            proba = np.asarray(self.loaded.predict_proba(frame))
            return Prediction(self._labels[proba.argmax(axis=1)], proba)
        return Prediction(np.asarray(self.loaded.predict(frame)))

    def _ensemble_scores(self, model: Any, x: np.ndarray) -> np.ndarray:
        """`EnsembleModel.scores`, with LightGBM members through the C API."""
        total = sum(m.weight for m in model.members)
        acc: np.ndarray | None = None
        shared: dict[str, Any] = {}
        for member, fast in self._members:
            if member.weight <= 0:
                continue
            raw = fast.predict(x) if fast is not None else model.member_scores(member, x, shared)
            out = raw * (member.weight / total)
            acc = out if acc is None else acc + out
        assert acc is not None
        return acc

    def _booster_scores(self, cols: Columns) -> np.ndarray:
        import numpy as np

        if cols.matrix is not None:
            return self._booster.predict(cols.matrix)
        x = np.empty((cols.n, len(self.input_names)), dtype="float64")
        for j, name in enumerate(self.input_names):
            codes = self._codes.get(name)
            if codes is None:
                x[:, j] = cols.data[name]
            else:
                x[:, j] = [codes.get(v, math.nan) for v in cols.data[name]]
        return self._booster.predict(x)

    def _from_scores(self, scores: np.ndarray) -> Prediction:
        import numpy as np

        if self.task == "binary" and scores.ndim == 1:
            # proba_from_scores' stacking, without its general-purpose overhead.
            proba = np.empty((len(scores), 2))
            proba[:, 1] = scores
            np.subtract(1.0, scores, out=proba[:, 0])
            return Prediction(self._labels[(scores > proba[:, 0]).astype(np.intp)], proba)
        if self.task in {"binary", "multiclass"}:
            from pmle.models.flavors import proba_from_scores

            proba = proba_from_scores(self.task, scores)
            return Prediction(self._labels[proba.argmax(axis=1)], proba)
        return Prediction(scores)

    def _frame(self, cols: Columns) -> Any:
        import pandas as pd

        return pd.DataFrame({name: cols.data[name] for name in self.input_names})


def load_served(path: Any, compile_dir: Path | None = None) -> ServedModel:
    """A model folder ready for serving (`compile_dir`: compile its trees, cached there)."""
    from pmle.models.format import load_model

    return ServedModel(load_model(path), compile_dir)
