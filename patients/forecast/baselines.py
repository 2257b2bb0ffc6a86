"""Naive baselines every arrival model is measured against, in the same backtest run.

- :class:`SeasonalNaiveSpec` — the same hour (or weekday) last week.
- :class:`WeeklyMeanSpec` — the training mean of the hour of week (or weekday), never updated.

Both give 90 % intervals from their own training errors, so that coverage and pinball loss compare fairly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from patients.forecast.base import QUANTILE_LEVELS, Predictive
from patients.forecast.features import weekly_position
from patients.forecast.series import SEASON_LENGTH, ArrivalHistory, FloatArray, Frequency


@dataclass(frozen=True)
class SeasonalNaiveSpec:
    """Forecast each period by the same period one week earlier (two weeks for horizons beyond a week, ...).

    The interval adds the training quantiles of the week-on-week differences at the same lag.
    """

    name: str = "seasonal_naive"

    def supports(self, freq: Frequency) -> bool:
        """Any frequency."""
        return True

    def fit(self, history: ArrivalHistory, horizon: int) -> FittedSeasonalNaive:
        """Learn the spread of week-on-week differences for lags of 1 … ``ceil(horizon / week)`` weeks."""
        season = SEASON_LENGTH[history.freq]
        weeks = -(-max(horizon, 1) // season)
        if len(history) <= weeks * season:
            raise ValueError(
                f"the seasonal naive forecast needs more than {weeks * season} periods of history"
            )
        differences = np.array(
            [
                np.quantile(history.arrivals[k * season :] - history.arrivals[: -k * season], QUANTILE_LEVELS)
                for k in range(1, weeks + 1)
            ]
        )
        return FittedSeasonalNaive(season=season, differences=differences, arrivals=history.arrivals)


@dataclass(frozen=True)
class FittedSeasonalNaive:
    """A fitted :class:`SeasonalNaiveSpec`.

    Attributes
    ----------
    season
        Periods in a week.
    differences
        Quantiles (rows: lag in weeks, 1, 2, …; columns: :data:`QUANTILE_LEVELS`) of training differences.
    arrivals
        Arrivals seen so far.
    """

    season: int
    differences: FloatArray
    arrivals: FloatArray

    def predict(self, future: ArrivalHistory) -> Predictive:
        """Repeat last week's arrivals."""
        step = np.arange(len(future))
        weeks = step // self.season + 1
        point = self.arrivals[len(self.arrivals) - weeks * self.season + step]
        quantiles = self.differences[np.minimum(weeks, self.differences.shape[0]) - 1]
        return Predictive(
            mean=point,
            p05=np.maximum(point + quantiles[:, 0], 0.0),
            p50=np.maximum(point + quantiles[:, 1], 0.0),
            p95=np.maximum(point + quantiles[:, 2], 0.0),
        )

    def update(self, history: ArrivalHistory) -> FittedSeasonalNaive:
        """Remember the newer arrivals."""
        return replace(self, arrivals=history.arrivals)


@dataclass(frozen=True)
class WeeklyMeanSpec:
    """Forecast each period by the training mean of its hour of week (hourly) or weekday (daily).

    The interval is the training quantiles of that hour of week or weekday. ``update`` changes nothing:
    the baseline is the training profile.
    """

    name: str = "weekly_mean"

    def supports(self, freq: Frequency) -> bool:
        """Any frequency."""
        return True

    def fit(self, history: ArrivalHistory, horizon: int) -> FittedWeeklyMean:
        """Means and quantiles by position in the week."""
        season = SEASON_LENGTH[history.freq]
        position = weekly_position(history.t, history.freq)
        if np.unique(position).shape[0] < season:
            raise ValueError("the weekly mean needs at least one full week of history")
        mean = np.bincount(position, weights=history.arrivals, minlength=season) / np.bincount(
            position, minlength=season
        )
        quantiles = np.array(
            [np.quantile(history.arrivals[position == k], QUANTILE_LEVELS) for k in range(season)]
        )
        return FittedWeeklyMean(freq=history.freq, mean=mean, quantiles=quantiles)


@dataclass(frozen=True)
class FittedWeeklyMean:
    """A fitted :class:`WeeklyMeanSpec`: mean and quantiles by position in the week."""

    freq: Frequency
    mean: FloatArray
    quantiles: FloatArray

    def predict(self, future: ArrivalHistory) -> Predictive:
        """The training profile at the future periods."""
        position = weekly_position(future.t, self.freq)
        return Predictive(
            mean=self.mean[position],
            p05=self.quantiles[position, 0],
            p50=self.quantiles[position, 1],
            p95=self.quantiles[position, 2],
        )

    def update(self, history: ArrivalHistory) -> FittedWeeklyMean:
        """Unchanged: the baseline keeps the training profile."""
        return self


def weekly_mean_name(freq: Frequency) -> str:
    """Report name of the weekly mean baseline: ``hour_of_week_mean`` or ``weekday_mean``."""
    return "hour_of_week_mean" if freq == "hour" else "weekday_mean"
