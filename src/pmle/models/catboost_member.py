"""CatBoost members of an ensemble: the float matrix as CatBoost takes it, and scoring."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


def pool(x: np.ndarray, categorical: list[int], y: Any = None, weight: Any = None) -> Any:
    """A CatBoost Pool: category codes as integers (missing: -1), other columns as floats."""
    import numpy as np
    import pandas as pd
    from catboost import Pool

    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    for i in categorical:
        frame[f"f{i}"] = np.nan_to_num(x[:, i], nan=-1.0).astype("int64")
    return Pool(frame, label=y, weight=weight, cat_features=list(categorical))


def scores(model: Any, data: Any) -> np.ndarray:
    """Raw scores on a :func:`pool`: log-odds (binary), per-class logits (multiclass) or
    values."""
    import numpy as np

    threads = 1 if data.num_row() < 500 else -1  # threads only pay off on larger batches
    return np.asarray(model.predict(data, prediction_type="RawFormulaVal", thread_count=threads))


def save(model: Any, path: str) -> None:
    """CatBoost's own binary format (no pickling)."""
    model.save_model(path, format="cbm")


def load(path: str) -> Any:
    """Read a `.cbm` file."""
    from catboost import CatBoost

    model = CatBoost()
    model.load_model(path, format="cbm")
    return model
