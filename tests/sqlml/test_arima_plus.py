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


def test_unmodelled_options_are_refused(ws: Workspace) -> None:
    ws.sql(
        "CREATE TABLE s AS SELECT DATE '2020-01-01' + INTERVAL (i) DAY AS d, i % 7 + i / 10 AS y "
        "FROM range(60) t(i)"
    )
    for option in ("holiday_region='US'", "clean_spikes_and_dips=TRUE", "adjust_step_changes=TRUE"):
        with pytest.raises(InvalidInput, match="does not model"):
            ws.sql(
                "CREATE MODEL f OPTIONS(model_type='ARIMA_PLUS', time_series_timestamp_col='d', "
                f"time_series_data_col='y', {option}) AS SELECT * FROM s"
            )
