"""ARIMA_PLUS's holiday effects (`holiday_region`): the calendars of BigQuery ML's regions and
the effect of each holiday on a series.

Calendars come from the `holidays` package (shipped data, no download), in English where the
package has a translation. A region is a country code (`'US'`), one of BigQuery ML's areas
(`'NA'`, `'LAC'`, `'EMEA'`, `'JAPAC'`: the union of their countries' holidays, merged by name)
or `'GLOBAL'` (every listed country); `holiday_region` takes one or a list.

Effects are modelled, as BigQuery ML documents, for DAILY and WEEKLY series; a holiday needs at
least two occurrences in the history (so in practice more than a year of data). For each
holiday the effect is the mean, over its occurrences, of the series' distance from a baseline —
a robust STL fit of trend and shortest season over the series with every holiday interpolated
away — estimated jointly by least squares when holidays share dates. A holiday whose effect is
within :data:`MIN_T` standard errors of zero is dropped. Effects are additive, and repeat on the
holiday's future dates in forecasts.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["AREAS", "COUNTRIES", "Calendar", "HolidayFit", "calendar", "fit_effects", "regions"]


def _codes(spaced: str) -> tuple[str, ...]:
    return tuple(spaced.split())


#: BigQuery ML's holiday areas and the countries each covers
AREAS: dict[str, tuple[str, ...]] = {
    "NA": ("US", "CA", "MX"),
    "LAC": _codes("AR BR CL CO EC MX PE VE"),
    "EMEA": _codes(
        "AE AT BE CH CZ DE DK DZ EE EG ES FI FR GB GR HU IE IL IR IT LV MA NG NL NO PL PT RO "
        "RS RU SA SE SI SK TR UA ZA"
    ),
    "JAPAC": _codes("AU CN HK ID IN JP KR MY NZ PH PK SG TH TW VN"),
}
#: the country codes holiday_region accepts
COUNTRIES: tuple[str, ...] = tuple(sorted({c for members in AREAS.values() for c in members}))
#: how many standard errors from zero a kept effect is
MIN_T = 3.0
#: frequencies whose holiday effects are modelled, and their step in days
STEP_DAYS = {"DAILY": 1, "WEEKLY": 7}


def regions(value: Any) -> list[str]:
    """holiday_region's value as a list of region codes; InvalidInput naming a bad one."""
    given = value if isinstance(value, list | tuple) else [value]
    out: list[str] = []
    for item in given:
        code = str(item).strip().upper() if isinstance(item, str) else None
        if code is None or (code not in COUNTRIES and code not in AREAS and code != "GLOBAL"):
            raise InvalidInput(
                f"holiday_region {item!r} is not a region",
                hint="GLOBAL, NA, LAC, EMEA, JAPAC or a country code: " + ", ".join(COUNTRIES),
            )
        if code not in out:
            out.append(code)
    return out


def _countries(codes: list[str]) -> list[str]:
    out: list[str] = []
    for code in codes:
        members = COUNTRIES if code == "GLOBAL" else AREAS.get(code, (code,))
        out.extend(c for c in members if c not in out)
    return out


@dataclass
class Calendar:
    """Holiday dates by holiday name, for the years asked."""

    dates: dict[str, list[dt.date]] = field(default_factory=dict)

    def positions(self, start: pd.Timestamp, frequency: str, length: int) -> dict[str, np.ndarray]:
        """Grid positions in [0, length) of each holiday's dates (a weekly grid point holds
        the holidays of its 7 days)."""
        import numpy as np

        step = STEP_DAYS[frequency]
        origin = start.normalize().date()
        out: dict[str, np.ndarray] = {}
        for name, days in self.dates.items():
            pos = np.array(sorted({(d - origin).days // step for d in days}), dtype="int64")
            pos = pos[(pos >= 0) & (pos < length)]
            if len(pos):
                out[name] = pos
        return out


def calendar(codes: list[str], first_year: int, last_year: int) -> Calendar:
    """The holidays of the regions `codes` from `first_year` to `last_year`."""
    import holidays

    cal = Calendar()
    merged: dict[str, set[dt.date]] = {}
    for country in _countries(codes):
        try:
            with warnings.catch_warnings():  # "available only from year …": outside, none
                warnings.simplefilter("ignore")
                table = holidays.country_holidays(
                    country, years=range(first_year, last_year + 1), language="en_US"
                )
        except NotImplementedError:  # a country the installed package lacks
            continue
        for day in table:
            for name in table.get_list(day):
                merged.setdefault(str(name), set()).add(day)
    cal.dates = {name: sorted(days) for name, days in sorted(merged.items())}
    return cal


@dataclass
class HolidayFit:
    """Fitted holiday effects: per name, and as components over history and future."""

    effects: dict[str, float]
    history: np.ndarray
    future: np.ndarray


def fit_effects(
    y: np.ndarray,
    history: dict[str, np.ndarray],
    future: dict[str, np.ndarray],
    periods: list[int],
    horizon: int,
) -> HolidayFit:
    """The holiday effects of series `y` given each holiday's positions in the history and in
    the `horizon` steps after it (positions counted from the end of the history)."""
    import numpy as np

    from pmle.sqlml.families.arima_cleaning import deseasonalised, robust_scale

    n = len(y)
    none = HolidayFit({}, np.zeros(n), np.zeros(horizon))
    names = [name for name, pos in history.items() if len(pos) >= 2]
    if not names:
        return none
    masked = np.zeros(n, dtype=bool)
    for pos in history.values():
        masked[pos] = True
    idx = np.arange(n)
    if masked.all():
        return none
    filled = y.copy()
    filled[masked] = np.interp(idx[masked], idx[~masked], y[~masked])
    seasonal = filled - deseasonalised(filled, periods)
    baseline = _smooth(filled - seasonal) + seasonal
    resid = y - baseline
    noise = robust_scale(resid[~masked])
    if noise <= 0:
        return none

    def solve(chosen: list[str]) -> tuple[np.ndarray, np.ndarray]:
        design = np.zeros((n, len(chosen)))
        for j, name in enumerate(chosen):
            design[history[name], j] = 1.0
        rows = design.any(axis=1)
        beta, *_ = np.linalg.lstsq(design[rows], resid[rows], rcond=None)
        return beta, beta / (noise / np.sqrt(design.sum(axis=0)))

    for _ in range(3):  # fit, drop the insignificant, fit again on the rest
        beta, t = solve(names)
        kept = [name for name, tv in zip(names, t, strict=True) if abs(tv) >= MIN_T]
        if not kept:
            return none
        if kept == names:
            break
        names = kept
    else:
        beta, _ = solve(names)
    effects = {name: float(b) for name, b in zip(names, beta, strict=True)}
    past, ahead = np.zeros(n), np.zeros(horizon)
    for name, effect in effects.items():
        past[history[name]] += effect
        ahead[future.get(name, np.array([], dtype="int64"))] += effect
    return HolidayFit(effects, past, ahead)


def _smooth(z: np.ndarray) -> np.ndarray:
    """A centred running median of a week of points (the trend the holidays sit on)."""
    import pandas as pd

    return pd.Series(z).rolling(7, center=True, min_periods=1).median().to_numpy("float64")
