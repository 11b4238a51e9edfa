"""Deterministic train / validation / test splits.

- `random`: a seeded permutation of the rows (exact fractions; same data and seed → same split).
- `group`: rows sharing a value of `column` stay together; each value is placed by a keyed hash,
  so the placement does not depend on row order (use for customer ids, sessions, patients).
- `predefined`: `column` already says `train` / `validation` / `test` for each row (Vertex AI's
  predefined split; `TRAIN`, `VALIDATE`, `training`, `valid`, ... are understood).
- `time`: rows ordered by `column`; the earliest go to train, the latest to test (chronological).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

SPLITS = ("train", "validation", "test")
METHODS = ("random", "group", "predefined", "time")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)

_PREDEFINED = {
    "train": 0, "training": 0,
    "validation": 1, "validate": 1, "valid": 1, "val": 1, "eval": 1, "evaluation": 1,
    "test": 2, "testing": 2,
}  # fmt: skip


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Validate train / validation / test fractions (two values mean no test split)."""
    fr = [float(f) for f in fractions]
    if len(fr) == 2:
        fr.append(0.0)
    if len(fr) != 3 or any(f < 0 or f > 1 for f in fr) or abs(sum(fr) - 1.0) > 1e-6:
        raise InvalidInput(
            f"bad split fractions {list(fractions)}",
            hint="give two or three numbers in [0, 1] that add up to 1, e.g. 0.8,0.1,0.1",
        )
    if fr[0] == 0:
        raise InvalidInput("the train fraction must be above 0")
    return fr[0], fr[1], fr[2]


def _counts(n: int, fractions: tuple[float, float, float]) -> tuple[int, int]:
    n_train = round(n * fractions[0])
    n_val = round(n * fractions[1])
    if fractions[2] == 0:
        n_val = n - n_train
    return n_train, min(n_val, n - n_train)


def assign(
    table: pa.Table,
    method: str = "random",
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 42,
    column: str | None = None,
) -> np.ndarray:
    """Per-row split index (0 train, 1 validation, 2 test) for `table`."""
    import numpy as np

    if method not in METHODS:
        raise InvalidInput(
            f"unknown split method {method!r}", hint=f"use one of {', '.join(METHODS)}"
        )
    fr = check_fractions(fractions)
    n = table.num_rows
    if n == 0:
        raise InvalidInput("cannot split an empty dataset")
    if method == "random":
        n_train, n_val = _counts(n, fr)
        labels = np.full(n, 2, dtype=np.int8)
        perm = np.random.default_rng(seed).permutation(n)
        labels[perm[:n_train]] = 0
        labels[perm[n_train : n_train + n_val]] = 1
        return labels
    if column is None:
        raise InvalidInput(f"the {method} split needs a column", hint="pass column=... (--column)")
    if column not in table.column_names:
        raise InvalidInput(
            f"no column {column!r}", hint=f"columns: {', '.join(table.column_names)}"
        )
    values = table.column(column)
    if values.null_count:
        raise InvalidInput(
            f"column {column!r} has {values.null_count} missing values; every row needs one "
            f"for a {method} split"
        )
    if method == "group":
        return _group(values.to_pandas(), fr, seed)
    if method == "predefined":
        return _predefined(values.to_pylist(), column)
    # time: stable order by the column, earliest first
    order = np.argsort(values.to_numpy(zero_copy_only=False), kind="stable")
    n_train, n_val = _counts(n, fr)
    labels = np.full(n, 2, dtype=np.int8)
    labels[order[:n_train]] = 0
    labels[order[n_train : n_train + n_val]] = 1
    return labels


def _group(values: object, fr: tuple[float, float, float], seed: int) -> np.ndarray:
    import numpy as np
    import pandas as pd

    key = f"pmle{seed:012d}"[-16:]
    codes, uniques = pd.factorize(pd.Series(values).astype(str))
    hashed = pd.util.hash_array(np.asarray(uniques, dtype=object), hash_key=key)
    u = hashed.astype(np.float64) / float(2**64)
    group_label = np.where(u < fr[0], 0, np.where(u < fr[0] + fr[1], 1, 2)).astype(np.int8)
    return group_label[codes]


def _predefined(values: list[object], column: str) -> np.ndarray:
    import numpy as np

    out = np.empty(len(values), dtype=np.int8)
    unknown: set[str] = set()
    for i, v in enumerate(values):
        label = _PREDEFINED.get(str(v).strip().lower())
        if label is None:
            unknown.add(str(v))
            continue
        out[i] = label
    if unknown:
        raise InvalidInput(
            f"column {column!r} holds values that are not a split: {sorted(unknown)[:5]}",
            hint="use train / validation / test (or TRAIN / VALIDATE / TEST)",
        )
    return out
