"""ARIMA_PLUS: time-series forecasting as BigQuery ML does it.

Each series (one per value of `time_series_id_col`, if given) goes through BigQuery ML's
pipeline, in its order:

1. a regular time grid (`data_frequency`, default AUTO_FREQUENCY: inferred from the timestamps;
   duplicate timestamps averaged, gaps linearly interpolated);
2. spikes and dips replaced by local linear interpolation (`clean_spikes_and_dips`, default
   TRUE) and step changes adjusted to the latest level (`adjust_step_changes`, default TRUE):
   :mod:`pmle.sqlml.families.arima_cleaning`;
3. holiday effects (`holiday_region`, default none): :mod:`pmle.sqlml.families.arima_holidays`
   (holiday dates are never cleaned as spikes when they are modelled);
4. seasonal periods the frequency allows (e.g. YEARLY for monthly or weekly data, WEEKLY and
   YEARLY for daily data) found with STL and removed when strong (strength ≥ 0.6), or the
   ones `seasonalities` names (NO_SEASONALITY: none);
5. an ARIMA(p, d, q) on the rest: with `auto_arima` (default TRUE) d comes from KPSS tests and
   (p, q) from every pair with `auto_arima_min_order` ≤ p + q ≤ `auto_arima_max_order`
   (default 0 and 2), with and without drift when d = 1, chosen by AIC; else
   `non_seasonal_order` (and `include_drift`). An intercept is fitted when d = 0.

Forecasts for the model's `horizon` (default 1000) are computed at training from the fitted
statsmodels ARIMA and stored with its parameters (NumPy arrays and JSON, no pickles), so
ML.FORECAST, ML.EXPLAIN_FORECAST and ML.DETECT_ANOMALIES need no refit. A forecast is the
ARIMA's plus the seasonal components and holiday effects on the future dates; in
ML.EXPLAIN_FORECAST each history point is `trend + seasonal_period_* + holiday_effect +
spikes_and_dips + step_changes + residual`, and `time_series_adjusted_data` is the point less
its spikes-and-dips and step-change components. `trend_smoothing_window_size` smooths the
`trend` column only (a centred moving average, ends padded), as in BigQuery ML.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.sqlml.families.arima_holidays import STEP_DAYS
from pmle.sqlml.families.common import Fitted, python_value

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.sqlml.families.arima_holidays import Calendar
    from pmle.sqlml.functions import CallArgs
    from pmle.sqlml.model import SqlModel
    from pmle.sqlml.options import Options

__all__ = [
    "ML_ARIMA_COEFFICIENTS",
    "ML_ARIMA_EVALUATE",
    "ML_DETECT_ANOMALIES",
    "ML_EVALUATE",
    "ML_EXPLAIN_FORECAST",
    "ML_FORECAST",
    "ArimaPlus",
    "evaluate",
    "fit",
    "load",
]

FILE = "arima_plus.npz"
SEASONAL_STRENGTH = 0.6
#: auto_arima_max_order's default (BigQuery ML's)
DEFAULT_MAX_ORDER = 2
#: frequency → (pandas step: days or months, seconds for inference)
FREQUENCIES: dict[str, tuple[str, float, float]] = {
    "PER_MINUTE": ("seconds", 60, 60),
    "HOURLY": ("seconds", 3600, 3600),
    "DAILY": ("seconds", 86400, 86400),
    "WEEKLY": ("seconds", 7 * 86400, 7 * 86400),
    "MONTHLY": ("months", 1, 30.44 * 86400),
    "QUARTERLY": ("months", 3, 91.31 * 86400),
    "YEARLY": ("months", 12, 365.25 * 86400),
}
#: frequency → seasonal periods (name, length in steps) worth testing
SEASONS: dict[str, list[tuple[str, int]]] = {
    "PER_MINUTE": [],
    "HOURLY": [("DAILY", 24), ("WEEKLY", 168)],
    "DAILY": [("WEEKLY", 7), ("YEARLY", 365)],
    "WEEKLY": [("YEARLY", 52)],
    "MONTHLY": [("YEARLY", 12)],
    "QUARTERLY": [("YEARLY", 4)],
    "YEARLY": [],
}
_ARRAYS = (
    "data",
    "adjusted",
    "fitted",
    "forecast",
    "forecast_se",
    "seasonal",
    "seasonal_future",
    "spikes_and_dips",
    "step_changes",
    "holiday",
    "holiday_future",
)
#: the seasonalities option's names (besides AUTO and NO_SEASONALITY)
_SEASONALITY_NAMES = {"DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "YEARLY"}
_SEASONAL_COLUMNS = ["YEARLY", "QUARTERLY", "MONTHLY", "WEEKLY", "DAILY"]


@dataclass
class Series:
    """One fitted time series: its grid, ARIMA and stored forecasts."""

    ids: dict[str, Any]
    frequency: str
    start: str  # ISO timestamp of the first grid point
    order: tuple[int, int, int]
    drift: bool
    params: dict[str, float]
    log_likelihood: float
    aic: float
    variance: float
    seasonal_periods: list[str]
    candidates: list[dict[str, Any]]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    holiday_effects: dict[str, float] = field(default_factory=dict)

    def component(self, name: str, n: int) -> np.ndarray:
        """A stored component (zeros when the model has none)."""
        import numpy as np

        value = self.arrays.get(name)
        return np.zeros(n) if value is None else value[:n]

    def has(self, name: str) -> bool:
        value = self.arrays.get(name)
        return value is not None and bool((value != 0).any())

    def stamps(self, positions: np.ndarray) -> pd.DatetimeIndex:
        """The timestamps of grid positions (0 = the first training point)."""
        import pandas as pd

        unit, step, _ = FREQUENCIES[self.frequency]
        start = pd.Timestamp(self.start)
        if unit == "seconds":
            return pd.DatetimeIndex(start + pd.to_timedelta(positions * step, unit="s"))
        return pd.DatetimeIndex(
            [start + pd.DateOffset(months=int(p) * int(step)) for p in positions]
        )

    def positions(self, stamps: pd.Series) -> np.ndarray:
        """Grid positions of timestamps (rounded to the nearest step)."""
        return _positions(stamps, self.frequency, self.start)

    def to_state(self) -> dict[str, Any]:
        return {
            "ids": self.ids,
            "frequency": self.frequency,
            "start": self.start,
            "order": list(self.order),
            "drift": self.drift,
            "params": self.params,
            "log_likelihood": self.log_likelihood,
            "aic": self.aic,
            "variance": self.variance,
            "seasonal_periods": self.seasonal_periods,
            "candidates": self.candidates,
            "holiday_effects": self.holiday_effects,
        }


@dataclass
class ArimaPlus:
    """The fitted series of one ARIMA_PLUS model."""

    timestamp_col: str
    data_col: str
    id_cols: list[str]
    horizon: int
    series: list[Series]

    def predict_output(self, frame: pd.DataFrame, label: str | None) -> pd.DataFrame:
        raise InvalidInput(
            "ARIMA_PLUS models forecast with ML.FORECAST, not ML.PREDICT",
            hint="SELECT * FROM ML.FORECAST(MODEL m, STRUCT(30 AS horizon))",
        )

    def save(self, directory: Path) -> dict[str, Any]:
        import numpy as np

        arrays = {f"s{i}_{k}": v for i, s in enumerate(self.series) for k, v in s.arrays.items()}
        np.savez(directory / FILE, **arrays)  # type: ignore[arg-type]
        return {
            "timestamp_col": self.timestamp_col,
            "data_col": self.data_col,
            "id_cols": self.id_cols,
            "horizon": self.horizon,
            "series": [s.to_state() for s in self.series],
        }


def load(directory: Path, state: dict[str, Any]) -> ArimaPlus:
    """An ArimaPlus written by `save`."""
    import numpy as np

    series = []
    with np.load(directory / FILE, allow_pickle=False) as data:
        for i, s in enumerate(state["series"]):
            arrays = {k: data[f"s{i}_{k}"] for k in _ARRAYS if f"s{i}_{k}" in data}
            series.append(
                Series(
                    ids=s["ids"],
                    frequency=s["frequency"],
                    start=s["start"],
                    order=(int(s["order"][0]), int(s["order"][1]), int(s["order"][2])),
                    drift=bool(s["drift"]),
                    params={k: float(v) for k, v in s["params"].items()},
                    log_likelihood=float(s["log_likelihood"]),
                    aic=float(s["aic"]),
                    variance=float(s["variance"]),
                    seasonal_periods=list(s["seasonal_periods"]),
                    candidates=list(s["candidates"]),
                    arrays=arrays,
                    holiday_effects=dict(s.get("holiday_effects", {})),
                )
            )
    return ArimaPlus(
        state["timestamp_col"],
        state["data_col"],
        list(state["id_cols"]),
        int(state["horizon"]),
        series,
    )


# ---- the time grid ---------------------------------------------------------------------------


def _timestamps(values: pd.Series, column: str) -> pd.Series:
    import pandas as pd

    if not pd.api.types.is_datetime64_any_dtype(values):
        try:
            values = pd.to_datetime(values)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(
                f"time_series_timestamp_col {column!r} must be a TIMESTAMP, DATE or DATETIME",
                hint=f"e.g. CAST({column} AS TIMESTAMP)",
            ) from exc
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.astype("datetime64[ns]")


def _infer_frequency(stamps: pd.Series) -> str:
    import numpy as np

    diffs = np.diff(np.sort(stamps.drop_duplicates().to_numpy()).astype("int64")) / 1e9
    if len(diffs) == 0:
        raise InvalidInput("a time series needs at least 2 distinct timestamps")
    median = float(np.median(diffs))
    return min(FREQUENCIES, key=lambda name: abs(np.log(median / FREQUENCIES[name][2])))


def _positions(stamps: pd.Series, frequency: str, start: str) -> np.ndarray:
    import numpy as np
    import pandas as pd

    unit, step, _ = FREQUENCIES[frequency]
    first = pd.Timestamp(start)
    if unit == "seconds":
        seconds = (stamps - first).dt.total_seconds().to_numpy()
        return np.round(seconds / step).astype("int64")
    months = (stamps.dt.year - first.year) * 12 + (stamps.dt.month - first.month)
    return np.round(months.to_numpy() / step).astype("int64")


def _grid(stamps: pd.Series, values: np.ndarray, frequency: str) -> tuple[str, np.ndarray]:
    """(start, values on the regular grid, gaps interpolated)."""
    import numpy as np
    import pandas as pd

    start = str(stamps.min())
    pos = _positions(stamps, frequency, start)
    frame = pd.DataFrame({"pos": pos, "value": values}).groupby("pos")["value"].mean()
    grid = pd.Series(np.nan, index=np.arange(int(pos.max()) + 1))
    grid[frame.index] = frame.to_numpy()
    grid = grid.interpolate(limit_direction="both")
    return start, grid.to_numpy(dtype="float64")


# ---- fitting ---------------------------------------------------------------------------------


def _wanted_seasons(options: Options, frequency: str) -> list[str] | None:
    """The season names `seasonalities` asks for (None: AUTO, test them all)."""
    given = [str(v).upper() for v in options.get("seasonalities", ["AUTO"])]
    if given == ["AUTO"]:
        return None
    if given == ["NO_SEASONALITY"]:
        return []
    bad = [v for v in given if v not in _SEASONALITY_NAMES]
    if bad:
        raise InvalidInput(
            f"seasonalities {bad} are not season names",
            hint="AUTO, NO_SEASONALITY, or a list of DAILY, WEEKLY, MONTHLY, QUARTERLY, YEARLY",
        )
    allowed = {name for name, _ in SEASONS[frequency]}
    outside = [v for v in given if v not in allowed]
    if outside:
        raise InvalidInput(
            f"{frequency} data cannot have the seasonality {', '.join(outside)}",
            hint=f"{frequency} data allows: {', '.join(sorted(allowed)) or 'none'}",
        )
    return given


def _seasonality(
    y: np.ndarray, frequency: str, horizon: int, wanted: list[str] | None = None
) -> tuple[list[str], dict[str, np.ndarray], np.ndarray]:
    """(kept period names, seasonal component per name over history + horizon, adjusted):
    the strong periods, or those in `wanted` (when they fit in the history)."""
    import numpy as np
    from statsmodels.tsa.seasonal import STL

    kept: list[str] = []
    components: dict[str, np.ndarray] = {}
    adjusted = y.copy()
    for name, period in SEASONS[frequency]:
        if len(y) < 2 * period + 1 or (wanted is not None and name not in wanted):
            continue
        result = STL(adjusted, period=period).fit()
        seasonal, resid = np.asarray(result.seasonal), np.asarray(result.resid)
        spread = np.var(seasonal + resid)
        strength = max(0.0, 1.0 - np.var(resid) / spread) if spread > 0 else 0.0
        if wanted is None and strength < SEASONAL_STRENGTH:
            continue
        last = seasonal[-period:]
        future = last[np.arange(horizon) % period]
        components[name] = np.concatenate([seasonal, future])
        adjusted = adjusted - seasonal
        kept.append(name)
    return kept, components, adjusted


def _trend(d: int, drift: bool) -> str:
    return "c" if d == 0 else ("t" if d == 1 and drift else "n")


def _arima(y: np.ndarray, order: tuple[int, int, int], drift: bool) -> Any:
    from statsmodels.tsa.arima.model import ARIMA

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ARIMA(y, order=order, trend=_trend(order[1], drift)).fit()


def _differences(y: np.ndarray) -> int:
    """d by repeated KPSS tests (level stationarity at 5 %), at most 2."""
    import numpy as np
    from statsmodels.tsa.stattools import kpss

    d, x = 0, y
    while d < 2 and len(x) > 10 and np.std(x) > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p_value = kpss(x, regression="c", nlags="auto")[1]
        if p_value >= 0.05:
            break
        x, d = np.diff(x), d + 1
    return d


def _manual_order(options: Options) -> tuple[int, int, int]:
    given = options.get("non_seasonal_order")
    values = list(given) if isinstance(given, list | tuple) else None
    if values is None or len(values) != 3 or not all(isinstance(v, int) and v >= 0 for v in values):
        raise InvalidInput(
            "auto_arima=FALSE needs non_seasonal_order=(p, d, q), three whole numbers",
            hint="e.g. non_seasonal_order=(1, 1, 1)",
        )
    if values[1] > 2:
        raise InvalidInput("non_seasonal_order's d is at most 2")
    return (values[0], values[1], values[2])


def _holiday_positions(
    cal: Calendar | None, start: str, frequency: str, n: int, horizon: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each holiday's grid positions in the history and in the horizon after it."""
    import pandas as pd

    if cal is None or frequency not in STEP_DAYS:
        return {}, {}
    every = cal.positions(pd.Timestamp(start), frequency, n + horizon)
    history = {k: v[v < n] for k, v in every.items() if (v < n).any()}
    future = {k: v[v >= n] - n for k, v in every.items() if (v >= n).any()}
    return history, future


def _prepare(
    y: np.ndarray, options: Options, frequency: str, start: str, horizon: int, cal: Calendar | None
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, float]]:
    """Steps 2 and 3 of the pipeline: (the series cleaned, step-adjusted and less its holiday
    effects; the components taken out; the holiday effects by name)."""
    import numpy as np

    from pmle.sqlml.families.arima_cleaning import spikes_and_dips, step_changes
    from pmle.sqlml.families.arima_holidays import fit_effects

    periods = [period for _, period in SEASONS[frequency]]
    history, future = _holiday_positions(cal, start, frequency, len(y), horizon)
    protected = np.zeros(len(y), dtype=bool)
    for positions in history.values():
        protected[positions] = True
    arrays: dict[str, np.ndarray] = {}
    if bool(options.get("clean_spikes_and_dips", True)):
        y, arrays["spikes_and_dips"] = spikes_and_dips(y, periods, protected)
    if bool(options.get("adjust_step_changes", True)):
        y, arrays["step_changes"], _ = step_changes(y, periods)
    effects: dict[str, float] = {}
    if cal is not None:
        fitted = fit_effects(y, history, future, periods, horizon)
        effects = fitted.effects
        arrays["holiday"], arrays["holiday_future"] = fitted.history, fitted.future
        y = y - fitted.history
    return y, arrays, effects


def _fit_series(
    y: np.ndarray, options: Options, horizon: int, frequency: str, wanted: list[str] | None
) -> tuple[Any, dict[str, Any], list[dict[str, Any]], list[str], dict[str, np.ndarray]]:
    import math

    import numpy as np

    kept, seasonal, adjusted = _seasonality(y, frequency, horizon, wanted)
    if not bool(options.get("auto_arima", True)):
        order = _manual_order(options)
        drift = bool(options.get("include_drift", False)) and order[1] == 1
        tries = [(order, drift)]
    else:
        if options.get("non_seasonal_order") is not None:
            raise InvalidInput("non_seasonal_order needs auto_arima=FALSE")
        low = int(options.get("auto_arima_min_order", 0))
        high = int(options.get("auto_arima_max_order", DEFAULT_MAX_ORDER))
        if low >= high:
            raise InvalidInput(
                f"auto_arima_min_order ({low}) must be below auto_arima_max_order ({high})"
            )
        d = _differences(adjusted)
        drifts = [False, True] if d == 1 else [False]
        tries = [
            ((p, d, q), drift)
            for p in range(high + 1)
            for q in range(high + 1 - p)
            if p + q >= low
            for drift in drifts
        ]
    best, best_key, candidates = None, None, []
    for order, drift in tries:
        try:
            result = _arima(adjusted, order, drift)
        except (ValueError, np.linalg.LinAlgError) as exc:
            candidates.append({"order": list(order), "drift": drift, "error": str(exc)})
            continue
        aic = float(result.aic)
        candidates.append(
            {
                "order": list(order),
                "drift": drift,
                "log_likelihood": float(result.llf),
                "aic": aic,
                "variance": float(result.params[-1]),
            }
        )
        if math.isfinite(aic) and (best is None or aic < best[0]):
            best, best_key = (aic, result), (order, drift)
    if best is None or best_key is None:
        raise InvalidInput("no ARIMA model could be fitted to the time series")
    result = best[1]
    forecast = result.get_forecast(horizon)
    arrays = {
        "adjusted": adjusted,
        "fitted": np.asarray(result.fittedvalues, dtype="float64"),
        "forecast": np.asarray(forecast.predicted_mean, dtype="float64"),
        "forecast_se": np.asarray(forecast.se_mean, dtype="float64"),
    }
    names = list(result.model.param_names)
    facts = {
        "order": best_key[0],
        "drift": best_key[1],
        "params": {n: float(v) for n, v in zip(names, result.params, strict=True)},
        "log_likelihood": float(result.llf),
        "aic": float(result.aic),
        "variance": float(result.params[names.index("sigma2")]),
    }
    return result, facts, candidates, kept, {**arrays, **_stack(seasonal, len(y), horizon)}


def _stack(seasonal: dict[str, np.ndarray], n: int, horizon: int) -> dict[str, np.ndarray]:
    """Seasonal components as one (periods × (n + horizon)) array, in SEASONS order."""
    import numpy as np

    if not seasonal:
        return {}
    stacked = np.vstack(list(seasonal.values()))
    return {"seasonal": stacked[:, :n], "seasonal_future": stacked[:, n:]}


def _calendar(options: Options, frequency: str, first: Any, last: Any, horizon: int) -> Any:
    """The holiday calendar `holiday_region` asks for (None when it is not set), covering the
    history and the horizon."""
    import pandas as pd

    from pmle.sqlml.families.arima_holidays import calendar, regions

    given = options.get("holiday_region")
    if given is None or given in ("NONE", ["NONE"]):
        return None
    codes = regions(given)
    if frequency not in STEP_DAYS:
        raise InvalidInput(
            f"holiday effects are modelled for DAILY and WEEKLY series, not {frequency}",
            hint="leave holiday_region out, or set data_frequency",
        )
    end = pd.Timestamp(last) + pd.Timedelta(days=STEP_DAYS[frequency] * horizon)
    return calendar(codes, pd.Timestamp(first).year, end.year)


def fit(
    train: pd.DataFrame,
    evaluation: pd.DataFrame | None,
    options: Options,
    label: str | None,
    features: list[str],
) -> Fitted:
    """Fit one ARIMA_PLUS series per time_series_id_col value."""
    import pandas as pd

    started = time.perf_counter()
    ts_col = options.get("time_series_timestamp_col")
    data_col = options.get("time_series_data_col")
    for name, value in (("time_series_timestamp_col", ts_col), ("time_series_data_col", data_col)):
        if value is None:
            raise InvalidInput(
                f"ARIMA_PLUS needs the option {name}",
                hint="e.g. OPTIONS(model_type='ARIMA_PLUS', time_series_timestamp_col='date', "
                "time_series_data_col='sales')",
            )
    id_given = options.get("time_series_id_col")
    id_cols = [id_given] if isinstance(id_given, str) else list(id_given or [])
    missing = [c for c in [ts_col, data_col, *id_cols] if c not in train.columns]
    if missing:
        raise InvalidInput(
            f"the training query lacks the column(s) {', '.join(missing)} named in OPTIONS",
            hint=f"columns: {', '.join(map(str, train.columns))}",
        )
    horizon = int(options.get("horizon", 1000))
    frame = train[[ts_col, data_col, *id_cols]].copy()
    frame[ts_col] = _timestamps(frame[ts_col], ts_col)
    frame[data_col] = pd.to_numeric(frame[data_col], errors="coerce")
    frame = frame.dropna(subset=[ts_col, data_col])
    groups = frame.groupby(id_cols, sort=True, dropna=False) if id_cols else [((), frame)]
    fitted: list[Series] = []
    info: list[dict[str, Any]] = []
    for key, part in groups:
        keys = key if isinstance(key, tuple) else (key,)
        ids = {c: python_value(v) for c, v in zip(id_cols, keys, strict=True)}
        requested = options.get("data_frequency", "AUTO_FREQUENCY")
        frequency = _infer_frequency(part[ts_col]) if requested == "AUTO_FREQUENCY" else requested
        wanted = _wanted_seasons(options, frequency)
        start, y = _grid(part[ts_col], part[data_col].to_numpy(dtype="float64"), frequency)
        if len(y) < 3:
            raise InvalidInput(f"a time series needs at least 3 points, got {len(y)}")
        cal = _calendar(options, frequency, part[ts_col].min(), part[ts_col].max(), horizon)
        cleaned, components, effects = _prepare(y, options, frequency, start, horizon, cal)
        _, facts, candidates, kept, arrays = _fit_series(
            cleaned, options, horizon, frequency, wanted
        )
        fitted.append(
            Series(
                ids=ids,
                frequency=frequency,
                start=start,
                seasonal_periods=kept,
                candidates=candidates,
                arrays={"data": y, **arrays, **components},
                holiday_effects=effects,
                **facts,
            )
        )
        info.append(
            {
                "training_run": 0,
                "iteration": len(info),
                "loss": -facts["log_likelihood"] / len(y),
                "eval_loss": None,
                "learning_rate": None,
                "duration_ms": int((time.perf_counter() - started) * 1000),
            }
        )
    if not fitted:
        raise InvalidInput("the training query has no rows with both a timestamp and a value")
    est = ArimaPlus(ts_col, data_col, id_cols, horizon, fitted)
    return Fitted(est, None, info, {"time_series_count": len(fitted)})


# ---- table functions -------------------------------------------------------------------------


def _level(args: CallArgs, name: str, default: float) -> float:
    value = args.setting(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise InvalidInput(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def _z(level: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2.0))


def _with_ids(est: ArimaPlus, s: Series, columns: dict[str, Any], n: int) -> pd.DataFrame:
    import pandas as pd

    ids = {c: [s.ids[c]] * n for c in est.id_cols}
    return pd.DataFrame({**ids, **columns})


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def ML_FORECAST(model: SqlModel, args: CallArgs) -> pd.DataFrame:
    """forecast_timestamp, forecast_value, standard_error, confidence_level and the
    prediction interval, for STRUCT(h AS horizon (default 3), c AS confidence_level (0.95))."""
    import numpy as np

    est: ArimaPlus = model.estimator
    horizon = args.setting("horizon", 3)
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise InvalidInput(f"horizon must be a positive whole number, got {horizon!r}")
    if horizon > est.horizon:
        raise InvalidInput(
            f"horizon {horizon} is beyond the model's horizon {est.horizon}",
            hint="retrain with a larger OPTIONS(horizon=...)",
        )
    level = _level(args, "confidence_level", 0.95)
    z = _z(level)
    frames = []
    for s in est.series:
        value, se = _future(s)
        value, se = value[:horizon], se[:horizon]
        n = len(s.arrays["data"])
        columns = {
            "forecast_timestamp": s.stamps(np.arange(n, n + horizon)),
            "forecast_value": value,
            "standard_error": se,
            "confidence_level": np.full(horizon, level),
            "prediction_interval_lower_bound": value - z * se,
            "prediction_interval_upper_bound": value + z * se,
        }
        frames.append(_with_ids(est, s, columns, horizon))
    return _concat(frames)


def _future(s: Series) -> tuple[np.ndarray, np.ndarray]:
    value = s.arrays["forecast"].copy()
    if "seasonal_future" in s.arrays:
        value = value + s.arrays["seasonal_future"].sum(axis=0)
    if "holiday_future" in s.arrays:
        value = value + s.arrays["holiday_future"]
    return value, s.arrays["forecast_se"]


def _expected(s: Series) -> np.ndarray:
    """The model's value of each history point: everything but the spikes and the noise."""
    n = len(s.arrays["data"])
    season = s.arrays["seasonal"].sum(axis=0) if "seasonal" in s.arrays else 0.0
    return s.arrays["fitted"] + season + s.component("holiday", n) + s.component("step_changes", n)


def _smoothed(trend: np.ndarray, window: int | None) -> np.ndarray:
    """`trend_smoothing_window_size`: a centred moving average, the ends padded with the
    first and last values."""
    import numpy as np

    if not window or window <= 1 or len(trend) == 0:
        return trend
    left, right = (window - 1) // 2, window // 2
    padded = np.concatenate([np.full(left, trend[0]), trend, np.full(right, trend[-1])])
    return np.convolve(padded, np.ones(window) / window, mode="valid")


def _seasonal_columns(s: Series, part: str, n: int) -> dict[str, Any]:
    import numpy as np

    out: dict[str, Any] = {}
    for name in _SEASONAL_COLUMNS:
        column = f"seasonal_period_{name.lower()}"
        if name in s.seasonal_periods:
            out[column] = s.arrays[part][s.seasonal_periods.index(name)][:n]
        else:
            out[column] = np.full(n, np.nan)
    return out


def _shown(s: Series, name: str, values: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """A component's values, or `empty` (NULLs) when the model does not have it."""
    return values if name in s.arrays else empty


def ML_EXPLAIN_FORECAST(model: SqlModel, args: CallArgs) -> pd.DataFrame:
    """History and forecast rows with their components: trend, seasonal periods, holiday
    effect, spikes and dips, step changes, residual."""
    import numpy as np

    est: ArimaPlus = model.estimator
    window = model.options.get("trend_smoothing_window_size")
    horizon = int(args.setting("horizon", 3))
    if horizon > est.horizon:
        raise InvalidInput(f"horizon {horizon} is beyond the model's horizon {est.horizon}")
    level = _level(args, "confidence_level", 0.95)
    z = _z(level)
    frames = []
    for s in est.series:
        data = s.arrays["data"]
        n = len(data)
        history_season = s.arrays["seasonal"].sum(axis=0) if "seasonal" in s.arrays else np.zeros(n)
        nan = np.full(n, np.nan)
        trend = _smoothed(s.arrays["fitted"], window)
        spikes, steps = s.component("spikes_and_dips", n), s.component("step_changes", n)
        holiday = s.component("holiday", n)
        history = {
            "time_series_timestamp": s.stamps(np.arange(n)),
            "time_series_type": ["history"] * n,
            "time_series_data": data,
            "time_series_adjusted_data": data - spikes - steps,
            "standard_error": np.full(n, np.sqrt(s.variance)),
            "confidence_level": nan,
            "prediction_interval_lower_bound": nan,
            "prediction_interval_upper_bound": nan,
            "trend": trend,
            **_seasonal_columns(s, "seasonal", n),
            "holiday_effect": _shown(s, "holiday", holiday, nan),
            "spikes_and_dips": _shown(s, "spikes_and_dips", spikes, nan),
            "step_changes": _shown(s, "step_changes", steps, nan),
            "residual": data - trend - history_season - holiday - spikes - steps,
        }
        value, se = _future(s)
        value, se = value[:horizon], se[:horizon]
        nah = np.full(horizon, np.nan)
        future = {
            "time_series_timestamp": s.stamps(np.arange(n, n + horizon)),
            "time_series_type": ["forecast"] * horizon,
            "time_series_data": value,
            "time_series_adjusted_data": value,
            "standard_error": se,
            "confidence_level": np.full(horizon, level),
            "prediction_interval_lower_bound": value - z * se,
            "prediction_interval_upper_bound": value + z * se,
            "trend": s.arrays["forecast"][:horizon],
            **_seasonal_columns(s, "seasonal_future", horizon),
            "holiday_effect": _shown(s, "holiday", s.component("holiday_future", horizon), nah),
            "spikes_and_dips": nah,
            "step_changes": nah,
            "residual": nah,
        }
        frames.append(_with_ids(est, s, history, n))
        frames.append(_with_ids(est, s, future, horizon))
    return _concat(frames)


def _evaluate_row(
    s: Series, order: list[int], drift: bool, facts: dict[str, Any]
) -> dict[str, Any]:
    return {
        "non_seasonal_p": order[0],
        "non_seasonal_d": order[1],
        "non_seasonal_q": order[2],
        "has_drift": drift,
        "log_likelihood": facts.get("log_likelihood"),
        "AIC": facts.get("aic"),
        "variance": facts.get("variance"),
        "seasonal_periods": s.seasonal_periods or ["NO_SEASONALITY"],
        "has_holiday_effect": bool(s.holiday_effects),
        "has_spikes_and_dips": s.has("spikes_and_dips"),
        "has_step_changes": s.has("step_changes"),
        "error_message": facts.get("error", ""),
    }


def ML_ARIMA_EVALUATE(model: SqlModel, args: CallArgs) -> pd.DataFrame:
    """The chosen model per series (every candidate with STRUCT(TRUE AS
    show_all_candidate_models)): orders, drift, log_likelihood, AIC, variance, seasonality."""
    import pandas as pd

    est: ArimaPlus = model.estimator
    every = bool(args.setting("show_all_candidate_models", False))
    rows = []
    for s in est.series:
        if every:
            ranked = sorted(s.candidates, key=lambda c: c.get("aic", float("inf")))
            for c in ranked:
                rows.append({**s.ids, **_evaluate_row(s, c["order"], c["drift"], c)})
        else:
            facts = {"log_likelihood": s.log_likelihood, "aic": s.aic, "variance": s.variance}
            rows.append({**s.ids, **_evaluate_row(s, list(s.order), s.drift, facts)})
    return pd.DataFrame(rows)


def ML_ARIMA_COEFFICIENTS(model: SqlModel, args: CallArgs) -> pd.DataFrame:
    """ar_coefficients, ma_coefficients and intercept_or_drift per series."""
    import pandas as pd

    est: ArimaPlus = model.estimator
    rows = []
    for s in est.series:
        ar = [v for k, v in s.params.items() if k.startswith("ar.L")]
        ma = [v for k, v in s.params.items() if k.startswith("ma.L")]
        constant = s.params.get("const", s.params.get("x1", 0.0))
        rows.append(
            {**s.ids, "ar_coefficients": ar, "ma_coefficients": ma, "intercept_or_drift": constant}
        )
    return pd.DataFrame(rows)


def _series_rows(est: ArimaPlus, s: Series, rows: pd.DataFrame) -> pd.DataFrame:
    mask = None
    for column, value in s.ids.items():
        hit = rows[column] == value
        mask = hit if mask is None else mask & hit
    return rows if mask is None else rows[mask]


def ML_DETECT_ANOMALIES(model: SqlModel, args: CallArgs) -> pd.DataFrame:
    """Anomalies of the training history (no rows) or of new rows after it:
    time_series_timestamp, time_series_data, is_anomaly, lower_bound, upper_bound,
    anomaly_probability, at STRUCT(p AS anomaly_prob_threshold) (default 0.95)."""
    import numpy as np
    from scipy.stats import norm

    est: ArimaPlus = model.estimator
    threshold = _level(args, "anomaly_prob_threshold", 0.95)
    z = _z(threshold)
    frames = []
    for s in est.series:
        data = s.arrays["data"]
        n = len(data)
        if args.rows is None:
            positions = np.arange(n)
            actual = data
            expected = _expected(s)
            se = np.full(n, np.sqrt(s.variance))
        else:
            rows = _series_rows(est, s, args.rows)
            for column in (est.timestamp_col, est.data_col):
                if column not in rows.columns:
                    raise InvalidInput(f"ML.DETECT_ANOMALIES needs the column {column!r}")
            positions = s.positions(_timestamps(rows[est.timestamp_col], est.timestamp_col))
            ahead = positions - n
            if ((ahead < 0) | (ahead >= est.horizon)).any():
                raise InvalidInput(
                    "ML.DETECT_ANOMALIES' rows must lie after the training data, within the "
                    f"model's horizon of {est.horizon} steps"
                )
            value, future_se = _future(s)
            actual = rows[est.data_col].to_numpy(dtype="float64")
            expected, se = value[ahead], future_se[ahead]
        score = np.abs(actual - expected) / np.where(se > 0, se, np.inf)
        probability = 2.0 * norm.cdf(score) - 1.0
        columns = {
            "time_series_timestamp": s.stamps(positions),
            "time_series_data": actual,
            "is_anomaly": probability > threshold,
            "lower_bound": expected - z * se,
            "upper_bound": expected + z * se,
            "anomaly_probability": probability,
        }
        frames.append(_with_ids(est, s, columns, len(positions)))
    return _concat(frames)


def ML_EVALUATE(model: SqlModel, args: CallArgs) -> pd.DataFrame:
    """Without rows, ML.ARIMA_EVALUATE; with rows of actual values after the training data,
    the forecasts' errors per series."""
    import numpy as np
    import pandas as pd

    if args.rows is None:
        return ML_ARIMA_EVALUATE(model, args)
    est: ArimaPlus = model.estimator
    out = []
    for s in est.series:
        rows = _series_rows(est, s, args.rows)
        if rows.empty:
            continue
        positions = s.positions(_timestamps(rows[est.timestamp_col], est.timestamp_col))
        ahead = positions - len(s.arrays["data"])
        keep = (ahead >= 0) & (ahead < est.horizon)
        if not keep.any():
            continue
        actual = rows[est.data_col].to_numpy(dtype="float64")[keep]
        predicted = _future(s)[0][ahead[keep]]
        error = actual - predicted
        with np.errstate(divide="ignore", invalid="ignore"):
            mape = float(np.mean(np.abs(error / actual)) * 100)
            smape = float(np.mean(2 * np.abs(error) / (np.abs(actual) + np.abs(predicted))) * 100)
        out.append(
            {
                **s.ids,
                "mean_absolute_error": float(np.mean(np.abs(error))),
                "mean_squared_error": float(np.mean(error**2)),
                "root_mean_squared_error": float(np.sqrt(np.mean(error**2))),
                "mean_absolute_percentage_error": mape,
                "symmetric_mean_absolute_percentage_error": smape,
            }
        )
    if not out:
        raise InvalidInput("none of the evaluation rows falls within the model's forecast horizon")
    return pd.DataFrame(out)


def ML_PREDICT(model: SqlModel, args: CallArgs) -> pd.DataFrame:
    """Not for time series: ML.FORECAST is."""
    return model.estimator.predict_output(args.rows, None)


def evaluate(
    estimator: ArimaPlus, frame: pd.DataFrame, label: str | None, options: Options
) -> dict[str, Any]:
    """The stored evaluation (for the registry): log_likelihood, AIC and variance, summed over
    the series (one series: its own)."""
    series = estimator.series
    return {
        "metrics": {
            "log_likelihood": sum(s.log_likelihood for s in series),
            "AIC": sum(s.aic for s in series),
            "variance": sum(s.variance for s in series) / len(series),
            "time_series_count": len(series),
        }
    }
