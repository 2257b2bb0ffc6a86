"""Synthetic arrival series with known structure, for the forecasting tests (and checks of the generator).

Other forecast test modules import :func:`synthetic_arrivals` from here.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl
import pytest

from patients.forecast import ARRIVAL_SERIES_SCHEMA

WEEKLY_SHAPE = np.array([1.35, 1.1, 1.0, 0.95, 1.0, 0.75, 0.85])  # Monday busiest, Saturday quietest
HOURLY_SHAPE = 0.4 + np.exp(-0.5 * ((np.arange(24) - 14.0) / 4.5) ** 2)  # afternoon peak


def expected_arrivals(
    periods: int,
    *,
    freq: str = "day",
    start: datetime = datetime(2019, 1, 7),  # a Monday
    arrivals_per_day: float = 120.0,
    weekly: float = 1.0,
    yearly_amplitude: float = 0.0,
    trend_per_year: float = 0.0,
    level_walk_sd: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Period starts and expected arrivals: weekly shape (scaled by ``weekly``), yearly cycle, trend, walk."""
    step = np.timedelta64(1, "h") if freq == "hour" else np.timedelta64(1, "D")
    t = np.datetime64(start, "us") + (np.arange(periods) * step).astype("timedelta64[us]")
    days = (t - t[0]).astype("timedelta64[D]").astype(np.int64)
    weekday = (t.astype("datetime64[D]").astype(np.int64) + 3) % 7
    shape = 1.0 + weekly * (WEEKLY_SHAPE[weekday] - 1.0)
    years = days / 365.25
    rate = (
        arrivals_per_day
        * shape
        * (1.0 + yearly_amplitude * np.cos(2 * np.pi * years))
        * np.exp(trend_per_year * years)
    )
    if level_walk_sd:
        walk = np.cumsum(np.random.default_rng(seed + 1).normal(0.0, level_walk_sd, days[-1] + 1))
        rate = rate * np.exp(walk[days])
    if freq == "hour":
        hour = t.astype("datetime64[h]").astype(np.int64) % 24
        rate = rate * HOURLY_SHAPE[hour] / HOURLY_SHAPE.sum()
    return t, rate


def synthetic_arrivals(periods: int, *, seed: int = 0, **structure: float | str | datetime) -> pl.DataFrame:
    """A Poisson arrival series (``t``, ``arrivals``, ``expected``) around :func:`expected_arrivals`."""
    t, rate = expected_arrivals(periods, seed=seed, **structure)  # type: ignore[arg-type]
    arrivals = np.random.default_rng(seed).poisson(rate).astype(np.float64)
    return pl.DataFrame({"t": t, "arrivals": arrivals, "expected": rate}).with_columns(
        pl.col("t").cast(pl.Datetime("us"))
    )


def test_synthetic_series_has_the_arrival_schema_and_its_mean() -> None:
    series = synthetic_arrivals(7 * 200, seed=3)
    assert {k: series.schema[k] for k in ARRIVAL_SERIES_SCHEMA} == ARRIVAL_SERIES_SCHEMA
    assert abs(series["arrivals"].mean() / series["expected"].mean() - 1.0) < 0.01  # type: ignore[operator]


def test_hourly_synthetic_series_sums_to_the_daily_rate() -> None:
    series = synthetic_arrivals(24 * 7 * 4, freq="hour", weekly=0.0)
    assert series["expected"].sum() / 28 == pytest.approx(120.0)
