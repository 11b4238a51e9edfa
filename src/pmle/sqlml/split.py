"""Training / evaluation splits of CREATE MODEL, as BigQuery ML makes them
(`data_split_method`):

- `AUTO_SPLIT` (default): fewer than 500 rows → no split (evaluation on the training data);
  500 to 50,000 rows → 20 % random evaluation rows; more than 50,000 → 10,000 random rows.
- `RANDOM`: `data_split_eval_fraction` (default 0.2) random evaluation rows.
- `CUSTOM`: the BOOL column `data_split_col` is TRUE for evaluation rows.
- `SEQ`: the last `data_split_eval_fraction` of the rows ordered by `data_split_col`.
- `NO_SPLIT`: every row trains, the evaluation uses the training data.

"Random" is deterministic: a row's side follows from a hash of its values (DuckDB's `hash`),
so the same data (in any row order) always splits the same way with the same DuckDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.sqlml.options import Options

__all__ = ["AUTO_LARGE_ROWS", "AUTO_SMALL_ROWS", "split_mask"]

AUTO_SMALL_ROWS = 500
AUTO_LARGE_ROWS = 50_000
AUTO_LARGE_EVAL_ROWS = 10_000


def _hashes(frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of each row's values, in row order (DuckDB's `hash` over every column:
    ≈ 2× faster than pandas' `hash_pandas_object` on a million rows)."""
    import duckdb

    columns = ", ".join('"' + str(c).replace('"', '""') + '"' for c in frame.columns)
    con = duckdb.connect(config={"preserve_insertion_order": True})  # rows stay in order
    try:
        con.register("__pmle_split", frame)
        return con.sql(f"SELECT hash({columns}) AS h FROM __pmle_split").fetchnumpy()["h"]
    finally:
        con.close()


def _random(frame: pd.DataFrame, fraction: float) -> np.ndarray:
    import numpy as np

    n_eval = round(len(frame) * fraction)
    mask = np.zeros(len(frame), dtype=bool)
    if n_eval:  # the rows with the n_eval smallest hashes (no full sort needed)
        hashes = _hashes(frame)
        mask[np.argpartition(hashes, n_eval - 1)[:n_eval]] = True
    return mask


def split_mask(frame: pd.DataFrame, options: Options) -> np.ndarray | None:
    """A boolean mask of the evaluation rows, or None when nothing is held out (then the
    evaluation uses the training data). The split column of CUSTOM / SEQ is not a feature:
    the caller drops it."""
    import numpy as np

    method = options.get("data_split_method", "AUTO_SPLIT")
    n = len(frame)
    if method == "NO_SPLIT":
        return None
    if method == "AUTO_SPLIT":
        if n < AUTO_SMALL_ROWS:
            return None
        if n <= AUTO_LARGE_ROWS:
            return _random(frame, 0.2)
        return _random(frame, AUTO_LARGE_EVAL_ROWS / n)
    fraction = float(options.get("data_split_eval_fraction", 0.2))
    if method == "RANDOM":
        mask = _random(frame, fraction)
    else:
        column = options.get("data_split_col")
        if column not in frame.columns:
            raise InvalidInput(
                f"data_split_col {column!r} is not a column of the training query",
                hint=f"columns: {', '.join(map(str, frame.columns))}",
            )
        values = frame[column]
        if method == "CUSTOM":
            if values.dtype != bool and not set(values.dropna().unique()) <= {True, False}:
                raise InvalidInput(f"data_split_col {column!r} must be BOOL for CUSTOM splits")
            mask = values.fillna(False).to_numpy(dtype=bool)
        else:  # SEQ
            # NULLs first (as BigQuery orders them): they are never the latest rows
            order = (
                values.reset_index(drop=True)
                .sort_values(kind="stable", na_position="first")
                .index.to_numpy()
            )
            n_eval = round(n * fraction)
            mask = np.zeros(n, dtype=bool)
            if n_eval:
                mask[order[-n_eval:]] = True
    if mask.all():
        raise InvalidInput("the split leaves no training rows", hint="hold out fewer rows")
    return mask if mask.any() else None
