"""ARIMA_PLUS's history cleaning before the model is fitted: spikes and dips
(`clean_spikes_and_dips`, default TRUE) and step changes (`adjust_step_changes`, default TRUE).

BigQuery ML documents what is done ("spikes and dips are replaced with local linear interpolated
values"; step changes are detected and adjusted) but not how they are detected. pmle's rules:

- **Spikes and dips.** On the series less its seasonal pattern (a robust STL of the shortest
  season that fits, when one does), each point's distance from the median of the
  :data:`MAX_RUN` points before it and from that of the :data:`MAX_RUN` points after it — the
  smaller of the two, when both lie on the same side (a point next to a step is close to one
  of them) — in robust units (1.4826 × the median absolute deviation of the points' distances
  from the median of both sides). A point beyond :data:`SPIKE_Z` units is a spike or dip and is
  replaced by the linear interpolation of the nearest clean points; runs of up to
  :data:`MAX_RUN` flagged points are cleaned together, longer ones are left alone. Points in
  `protected` (holidays, when a holiday region is modelled) are never cleaned: their effect is
  modelled instead.
- **Step changes.** On the cleaned, deseasonalised series, a step at t is a first difference
  beyond :data:`STEP_Z` robust units of the typical difference (its median removed, so a steady
  drift is not a step) that persists: the mean level over the next :data:`STEP_WINDOW` points
  (or two of the shortest season, if longer) differs from the mean over as many previous points
  by at least half the jump, in the same direction. Steps are abrupt changes: a shift smaller
  than the point-to-point noise, or newer than the window, is not detected. The history before
  each step is shifted to the level after it, so that the model and its forecasts continue from
  the latest level.

Each function returns the component it took out, so `data = cleaned + component` holds exactly
and ML.EXPLAIN_FORECAST can show it (columns `spikes_and_dips`, `step_changes`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "MAX_RUN",
    "SPIKE_Z",
    "STEP_Z",
    "deseasonalised",
    "robust_scale",
    "spikes_and_dips",
    "step_changes",
]

#: robust units beyond which a point is a spike or dip
SPIKE_Z = 10.0
#: robust units beyond which a first difference is a candidate step
STEP_Z = 8.0
#: the longest run of consecutive points cleaned as one spike
MAX_RUN = 3
#: points on each side compared to confirm a step (at least twice the shortest season)
STEP_WINDOW = 7


def robust_scale(values: np.ndarray) -> float:
    """1.4826 × the median absolute deviation (the standard deviation, for normal noise)."""
    import numpy as np

    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(finite - np.median(finite))))


def deseasonalised(y: np.ndarray, periods: list[int]) -> np.ndarray:
    """`y` less a robust STL seasonal component of the shortest period with at least two full
    cycles of history (unchanged when none fits)."""
    import numpy as np
    from statsmodels.tsa.seasonal import STL

    fitting = [p for p in sorted(periods) if p >= 2 and len(y) >= 2 * p + 1]
    if not fitting or np.std(y) == 0:
        return y.copy()
    result = STL(y, period=fitting[0], robust=True).fit()
    return y - np.asarray(result.seasonal)


def spikes_and_dips(
    y: np.ndarray, periods: list[int], protected: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(cleaned series, spikes-and-dips component): `y = cleaned + component`, the component 0
    except at the points cleaned."""
    import numpy as np

    n = len(y)
    component = np.zeros(n)
    if n < 5:
        return y.copy(), component
    z = deseasonalised(y, periods)
    # the median of the MAX_RUN points on each side: a spike stands off both, a point next
    # to a step off one only (the scale comes from the distance to both sides' median)
    left, right, both = _side_medians(z, MAX_RUN)
    scale = robust_scale(z - both)
    if scale <= 0:
        return y.copy(), component
    off_left, off_right = z - left, z - right
    off = np.where(
        np.isnan(off_left),
        off_right,
        np.where(
            np.isnan(off_right),
            off_left,
            np.where(
                np.sign(off_left) == np.sign(off_right),
                np.sign(off_left) * np.minimum(np.abs(off_left), np.abs(off_right)),
                0.0,
            ),
        ),
    )
    flagged = np.abs(off) > SPIKE_Z * scale
    if protected is not None:
        flagged &= ~protected
    flagged = _short_runs(flagged)
    if not flagged.any():
        return y.copy(), component
    seasonal = y - z
    keep = ~flagged
    idx = np.arange(n)
    line = np.interp(idx, idx[keep], z[keep])
    cleaned = y.copy()
    cleaned[flagged] = line[flagged] + seasonal[flagged]
    component[flagged] = y[flagged] - cleaned[flagged]
    return cleaned, component


def _side_medians(z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each point's median of the k points before it, of the k after it, and of both
    (fewer at the ends; NaN where a side is empty)."""
    import warnings

    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    padded = np.pad(z.astype("float64"), k, constant_values=np.nan)
    windows = sliding_window_view(padded, 2 * k + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an empty side at the ends
        left = np.nanmedian(windows[:, :k], axis=1)
        right = np.nanmedian(windows[:, k + 1 :], axis=1)
        both = np.nanmedian(np.delete(windows, k, axis=1), axis=1)
    return left, right, both


def _short_runs(flagged: np.ndarray) -> np.ndarray:
    """`flagged` without runs longer than MAX_RUN (a long excursion is a level change or a
    season, not a spike)."""
    out = flagged.copy()
    i, n = 0, len(flagged)
    while i < n:
        if not flagged[i]:
            i += 1
            continue
        j = i
        while j < n and flagged[j]:
            j += 1
        if j - i > MAX_RUN:
            out[i:j] = False
        i = j
    return out


def step_changes(y: np.ndarray, periods: list[int]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(adjusted series, step-changes component, step positions): `y = adjusted + component`;
    the component is 0 after the last step and, before a step of size δ, −δ (summed over the
    later steps)."""
    import numpy as np

    n = len(y)
    component = np.zeros(n)
    if n < 2 * 3 + 1:
        return y.copy(), component, []
    z = deseasonalised(y, periods)
    diffs = np.diff(z)
    centred = diffs - np.median(diffs)
    scale = robust_scale(diffs)
    if scale <= 0:
        return y.copy(), component, []
    steps: list[int] = []
    drift = float(np.median(diffs))
    window = max([STEP_WINDOW, *(2 * p for p in periods if 2 * p < n // 4)])
    for i in np.flatnonzero(np.abs(centred) > STEP_Z * scale):
        t = int(i) + 1  # the first point at the new level
        after, before = min(window, n - t), min(window, t)
        if after < window or before < 2:  # the newest points cannot confirm a step yet
            continue
        jump = float(centred[i])
        # the levels on each side, each brought to t by the steady drift
        right = z[t : t + after] - drift * np.arange(after)
        left = z[t - before : t] + drift * np.arange(before, 0, -1)
        shift = float(np.mean(right) - np.mean(left))
        if np.sign(shift) == np.sign(jump) and abs(shift) >= abs(jump) / 2.0:
            steps.append(t)
            component[:t] -= jump
    adjusted = y - component
    return adjusted, component, steps
