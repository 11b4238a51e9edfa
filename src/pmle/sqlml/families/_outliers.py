"""What ML.DETECT_ANOMALIES shares for independent rows (k-means, PCA): the `contamination`
setting, and the threshold it sets on the training rows' anomaly scores."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.sqlml.functions import CallArgs

__all__ = ["contamination", "output", "threshold"]


def contamination(args: CallArgs) -> float:
    """STRUCT(contamination): the share of anomalies in the training data, in [0, 0.5]."""
    value = args.setting("contamination")
    if value is None:
        raise InvalidInput(
            "ML.DETECT_ANOMALIES on k-means and PCA models needs STRUCT(c AS contamination)",
            hint="e.g. ML.DETECT_ANOMALIES(MODEL m, STRUCT(0.02 AS contamination), TABLE t)",
        )
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 0.5:
        raise InvalidInput(f"contamination must be a number in [0, 0.5], got {value!r}")
    return float(value)


def threshold(training_scores: np.ndarray, share: float) -> float:
    """The score above which `share` of the training rows lie (+inf for share 0)."""
    import numpy as np

    if share <= 0 or len(training_scores) == 0:
        return float("inf")
    return float(np.quantile(training_scores, 1.0 - share))


def output(rows: pd.DataFrame, columns: dict[str, Any]) -> pd.DataFrame:
    """The anomaly columns first, then the input rows (as ML.PREDICT lays them out)."""
    import pandas as pd

    out = pd.DataFrame(columns, index=rows.index)
    return pd.concat(
        [out, rows.drop(columns=[c for c in out.columns if c in rows.columns])], axis=1
    )
