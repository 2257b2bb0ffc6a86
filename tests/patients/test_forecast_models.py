"""Arrival models: forecast schema, interval calibration on simulated Poisson counts, regressors, updates."""

from __future__ import annotations

from datetime import datetime

import holidays
import numpy as np
import polars as pl
import pytest
from scipy import stats

from patients.forecast import (
    ARRIVAL_FORECAST_SCHEMA,
    CountRegressionSpec,
    DailyProfileSpec,
    ExponentialSmoothingSpec,
    SeriesError,
    UnobservedComponentsSpec,
    fit_arrival_model,
)
from patients.forecast.base import ArrivalModelSpec
from patients.forecast.baselines import SeasonalNaiveSpec, WeeklyMeanSpec
from patients.forecast.rolling import origin_indices, rolling_origin_forecasts
from patients.forecast.series import ArrivalHistory
from tests.patients.test_forecast_synthetic import WEEKLY_SHAPE, expected_arrivals, synthetic_arrivals

DAILY_SPECS: list[ArrivalModelSpec] = [
    CountRegressionSpec(),
    ExponentialSmoothingSpec(),
    UnobservedComponentsSpec(),
    SeasonalNaiveSpec(),
    WeeklyMeanSpec(),
]
HOURLY_SPECS: list[ArrivalModelSpec] = [
    CountRegressionSpec(),
    DailyProfileSpec(),
    SeasonalNaiveSpec(),
    WeeklyMeanSpec(),
]


def check_forecast(forecast: pl.DataFrame, after: datetime, horizon: int, freq: str) -> None:
    assert forecast.schema == ARRIVAL_FORECAST_SCHEMA
    assert forecast.height == horizon
    step = np.timedelta64(1, "h" if freq == "hour" else "D")
    expected_t = np.datetime64(after, "us") + (np.arange(1, horizon + 1) * step).astype("timedelta64[us]")
    assert (forecast["t"].to_numpy() == expected_t).all()
    values = forecast.select("mean", "p05", "p50", "p95").to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    assert (forecast["p05"] <= forecast["p50"]).all() and (forecast["p50"] <= forecast["p95"]).all()
    assert (forecast["p05"] <= forecast["mean"]).all() and (forecast["mean"] <= forecast["p95"]).all()


@pytest.mark.parametrize("spec", DAILY_SPECS, ids=lambda s: s.name)
def test_daily_forecast_has_the_declared_schema(spec: ArrivalModelSpec) -> None:
    series = synthetic_arrivals(2 * 365, seed=1, yearly_amplitude=0.1)
    model = fit_arrival_model(series.drop("expected"), "day", horizon=14, candidates=[spec])
    assert model.name == spec.name
    check_forecast(model.forecast(), series["t"][-1], 14, "day")
    check_forecast(model.forecast(30), series["t"][-1], 30, "day")


@pytest.mark.parametrize("spec", HOURLY_SPECS, ids=lambda s: s.name)
def test_hourly_forecast_has_the_declared_schema(spec: ArrivalModelSpec) -> None:
    series = synthetic_arrivals(24 * 7 * 16, freq="hour", seed=2)
    model = fit_arrival_model(series.drop("expected"), "hour", horizon=48, candidates=[spec])
    check_forecast(model.forecast(), series["t"][-1], 48, "hour")


def test_count_regression_recovers_the_weekly_profile() -> None:
    series = synthetic_arrivals(4 * 365, seed=4, arrivals_per_day=200.0)
    history = ArrivalHistory.from_frame(series, "day")
    fitted = CountRegressionSpec(fourier_order=0, trend=False).fit(history, 7)
    monday = np.datetime64("2030-01-07", "us")  # a Monday
    week = ArrivalHistory.from_frame(
        pl.DataFrame({"t": monday + np.arange(7).astype("timedelta64[D]").astype("timedelta64[us]")}), "day"
    )
    profile = fitted.expected(week)
    np.testing.assert_allclose(profile / profile.mean(), WEEKLY_SHAPE / WEEKLY_SHAPE.mean(), rtol=0.03)


def test_intervals_cover_the_nominal_share_of_simulated_poisson_arrivals() -> None:
    """p05–p95 holds the actual count as often as exact Poisson quantiles would, within a 99 % binomial CI."""
    inside, exact_coverage = [], []
    for seed in range(3):
        series = synthetic_arrivals(4 * 365, seed=seed, arrivals_per_day=60.0, yearly_amplitude=0.15)
        history = ArrivalHistory.from_frame(series, "day")
        origins = origin_indices(3 * 365, len(history), horizon=7, step=7)
        forecasts = rolling_origin_forecasts(CountRegressionSpec(), history, origins, 7)
        inside.append(((forecasts.actual >= forecasts.p05) & (forecasts.actual <= forecasts.p95)).ravel())
        # What an exact forecaster would reach: with counts, P(q05 <= Y <= q95) is a bit above 90 %.
        rate = series["expected"].to_numpy()[origins[:, None] + np.arange(7)[None, :]].ravel()
        low, high = stats.poisson.ppf(0.05, rate), stats.poisson.ppf(0.95, rate)
        exact_coverage.append(stats.poisson.cdf(high, rate) - stats.poisson.cdf(low - 1, rate))
    hits = np.concatenate(inside)
    nominal = float(np.mean(np.concatenate(exact_coverage)))
    low, high = stats.binom.interval(0.99, hits.size, nominal)
    assert low <= hits.sum() <= high, (hits.mean(), nominal, hits.size)


@pytest.mark.parametrize(
    "spec", [UnobservedComponentsSpec(), ExponentialSmoothingSpec()], ids=lambda s: s.name
)
def test_state_space_intervals_widen_with_horizon(spec: ArrivalModelSpec) -> None:
    series = synthetic_arrivals(3 * 365, seed=5, level_walk_sd=0.02)
    model = fit_arrival_model(series.drop("expected"), "day", horizon=28, candidates=[spec])
    width = (model.forecast()["p95"] - model.forecast()["p05"]).to_numpy()
    assert width[-7:].mean() > width[:7].mean()
    assert np.all(np.diff(width[::7]) >= -1e-9)  # same weekday, further ahead: never narrower


def test_forecasts_use_only_data_before_the_origin() -> None:
    """Changing the arrivals after an origin leaves the forecasts made at that origin unchanged."""
    series = synthetic_arrivals(2 * 365, seed=6)
    history = ArrivalHistory.from_frame(series, "day")
    altered = ArrivalHistory(
        freq="day", t=history.t, arrivals=np.where(np.arange(len(history)) >= 600, 0.0, history.arrivals)
    )
    origins = np.array([500, 550, 600])
    for spec in (CountRegressionSpec(), UnobservedComponentsSpec(), SeasonalNaiveSpec()):
        original = rolling_origin_forecasts(spec, history, origins, 14, refit_every=50)
        changed = rolling_origin_forecasts(spec, altered, origins, 14, refit_every=50)
        np.testing.assert_allclose(original.mean, changed.mean, err_msg=spec.name)
        np.testing.assert_allclose(original.p95, changed.p95, err_msg=spec.name)


def with_temperature(seed: int) -> pl.DataFrame:
    """Daily arrivals 20 % higher per standard deviation of a temperature-like regressor."""
    t, rate = expected_arrivals(2 * 365, seed=seed)
    temperature = np.random.default_rng(seed + 10).normal(15.0, 8.0, t.shape[0])
    rate = rate * np.exp(0.2 * (temperature - 15.0) / 8.0)
    arrivals = np.random.default_rng(seed).poisson(rate).astype(float)
    return pl.DataFrame({"t": t, "arrivals": arrivals, "temperature": temperature})


def future_temperature(model, values: list[float]) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    """Future regressor frame for the periods after the model's history."""
    t = model.history.next_times(len(values))
    return pl.DataFrame({"t": t, "temperature": values}).with_columns(pl.col("t").cast(pl.Datetime("us")))


def test_regressors_steer_the_forecast() -> None:
    series = with_temperature(7)
    model = fit_arrival_model(series, "day", ["temperature"], horizon=7, candidates=[CountRegressionSpec()])
    cold = model.forecast(7, future_temperature(model, [15.0] * 7))
    warm = model.forecast(7, future_temperature(model, [31.0] * 7))
    ratio = (warm["mean"] / cold["mean"]).to_numpy()
    np.testing.assert_allclose(ratio, np.exp(0.2 * 16.0 / 8.0), rtol=0.05)


def test_missing_future_regressors_are_named() -> None:
    series = with_temperature(8)
    model = fit_arrival_model(series, "day", ["temperature"], horizon=7, candidates=[CountRegressionSpec()])
    with pytest.raises(SeriesError, match="column 'temperature': future values"):
        model.forecast(7)
    with pytest.raises(SeriesError, match="column 'temperature': not found"):
        model.forecast(7, pl.DataFrame({"t": [datetime(2021, 1, 1)], "temp": [1.0]}))
    future = future_temperature(model, [1.0, 2.0])
    with pytest.raises(SeriesError, match="column 'temperature': no future value for the period starting"):
        model.forecast(3, future)


def test_public_holidays_from_the_country_calendar() -> None:
    """Arrivals halve on US public holidays; with ``holiday_country="US"`` so does the 1 January forecast."""
    t, rate = expected_arrivals(3 * 365, start=datetime(2018, 1, 1))
    days = t.astype("datetime64[D]")
    calendar = holidays.country_holidays("US", years=range(2018, 2022))
    on_holiday = np.isin(days, np.array(sorted(calendar), dtype="datetime64[D]"))
    series = pl.DataFrame(
        {
            "t": t,
            "arrivals": np.random.default_rng(9)
            .poisson(np.where(on_holiday, rate * 0.5, rate))
            .astype(float),
        }
    )
    with_calendar = fit_arrival_model(series, "day", holiday_country="US", candidates=[CountRegressionSpec()])
    without = fit_arrival_model(series, "day", candidates=[CountRegressionSpec()])
    assert with_calendar.history.t[-1] == np.datetime64("2020-12-30")
    new_year = pl.col("t") == datetime(2021, 1, 1)
    ratio = (
        with_calendar.forecast().filter(new_year)["mean"][0] / without.forecast().filter(new_year)["mean"][0]
    )
    assert 0.4 < ratio < 0.6


def test_update_moves_the_forecast_on() -> None:
    series = synthetic_arrivals(2 * 365 + 14, seed=10).drop("expected")
    model = fit_arrival_model(series.head(2 * 365), "day", horizon=7, candidates=[CountRegressionSpec()])
    updated = model.update(series.tail(14))
    assert updated.last_period == series["t"][-1]
    check_forecast(updated.forecast(), series["t"][-1], 7, "day")
    with pytest.raises(SeriesError, match="must start at"):
        model.update(series.tail(7))


def test_too_short_a_series_is_refused() -> None:
    series = synthetic_arrivals(40).drop("expected")
    with pytest.raises(SeriesError, match="too few"):
        fit_arrival_model(series, "day")
