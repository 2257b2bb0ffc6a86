"""Candidate arrival models (statsmodels): a spec with ``fit``, a fitted model with ``predict``, ``update``.

- :class:`CountRegressionSpec` — Poisson regression (statsmodels GLM) on the weekly profile (weekday or hour
  of week), yearly Fourier terms, a linear trend and regressors, times a slowly moving level learnt from
  recent arrivals; negative binomial prediction intervals whose dispersion is measured at each horizon.
- :class:`ExponentialSmoothingSpec` — ETS with damped trend and weekly seasonality on daily totals
  (statsmodels ``ETSModel``).
- :class:`UnobservedComponentsSpec` — local level, weekday seasonal, yearly Fourier terms and regressors in a
  state space model on daily totals (statsmodels ``UnobservedComponents``).
- :class:`DailyProfileSpec` — hourly: a daily model's forecast shared out by the hour-of-week profile.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import signal
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from statsmodels.tsa.statespace.structural import UnobservedComponents

from patients.forecast.base import (
    ArrivalModelSpec,
    FittedArrivalModel,
    Predictive,
    count_predictive,
    gaussian_predictive,
    negative_binomial_dispersion,
)
from patients.forecast.features import CalendarDesign, IntArray, weekly_position
from patients.forecast.series import (
    PERIODS_PER_DAY,
    SEASON_LENGTH,
    ArrivalHistory,
    FloatArray,
    Frequency,
)


def _discounted_sums(values: FloatArray, discount: float, initial: float = 0.0) -> FloatArray:
    """``s[t] = discount * s[t-1] + values[t]`` with ``s[-1] = initial``."""
    if values.shape[0] == 0:
        return np.empty(0)
    sums, _ = signal.lfilter([1.0], [1.0, -discount], values, zi=np.array([discount * initial]))
    return np.asarray(sums, dtype=np.float64)


def _evaluation_horizons(horizon: int, count: int = 12) -> IntArray:
    """A few horizons from 1 to ``horizon``, denser at the start."""
    return np.unique(np.round(np.geomspace(1, max(horizon, 1), num=min(horizon, count))).astype(np.int64))


# ---------------------------------------------------------------------------------------------------------
# Count regression with a moving level


@dataclass(frozen=True)
class CountRegressionSpec:
    """Poisson regression of arrivals on the calendar, with a moving level and negative binomial intervals.

    ``log E[arrivals_t] = weekly[position_t] + yearly Fourier + trend + regressors`` is fitted by Poisson
    maximum likelihood (statsmodels GLM; the weekly profile is updated in closed form between GLM fits, which
    keeps the 168 hour-of-week effects out of the design matrix). Forecasts multiply that expectation by a
    *level*: the ratio of recent arrivals to their expectation, discounted with the given half-life and shrunk
    towards 1 by a prior worth some days of arrivals (a Poisson–gamma discount filter). Half-life
    and prior are chosen on the training data by the squared error of forecasts made from past data only.

    Parameters
    ----------
    fourier_order
        Yearly harmonics.
    trend
        Include a linear trend (per year).
    level_half_lives_days
        Half-lives tried for the moving level [days]; empty for no level.
    level_prior_days
        Prior strengths tried [days of average arrivals].
    """

    fourier_order: int = 3
    trend: bool = True
    level_half_lives_days: tuple[float, ...] = (1.0, 3.0, 7.0, 14.0, 28.0, 56.0)
    level_prior_days: tuple[float, ...] = (0.0, 1.0, 3.0, 10.0)
    name: str = "count_regression"

    def supports(self, freq: Frequency) -> bool:
        """Hourly and daily series."""
        return True

    def fit(self, history: ArrivalHistory, horizon: int) -> FittedCountRegression:
        """Fit on ``history`` for forecasts up to ``horizon`` periods ahead."""
        freq = history.freq
        design = CalendarDesign.learn(
            history.t, history.regressors, fourier_order=self.fourier_order, trend=self.trend
        )
        position = weekly_position(history.t, freq)
        raw = design.matrix(history.t, history.regressors)
        column_means = _centre_within(raw, position, SEASON_LENGTH[freq])
        matrix = raw - column_means[position]
        profile, coefficients = _fit_poisson_profile(history.arrivals, position, SEASON_LENGTH[freq], matrix)
        expected = np.exp(profile[position] + matrix @ coefficients)
        arrivals_per_day = float(np.mean(history.arrivals)) * PERIODS_PER_DAY[freq]
        discount, prior = _choose_level(
            history.arrivals,
            expected,
            horizon,
            half_lives=[h * PERIODS_PER_DAY[freq] for h in self.level_half_lives_days],
            priors=[p * arrivals_per_day for p in self.level_prior_days],
            burn_in=min(28 * PERIODS_PER_DAY[freq], len(history) // 4),
        )
        level = _level_path(history.arrivals, expected, discount, prior)
        dispersion = np.array(
            [
                negative_binomial_dispersion(history.arrivals[h:], expected[h:] * level[:-h])
                for h in range(1, horizon + 1)
            ]
        )
        sums = (
            (
                float(_discounted_sums(history.arrivals, discount)[-1]),
                float(_discounted_sums(expected, discount)[-1]),
            )
            if discount is not None
            else (0.0, 0.0)
        )
        return FittedCountRegression(
            freq=freq,
            design=design,
            profile=profile,
            coefficients=coefficients,
            column_means=column_means,
            discount=discount,
            prior=prior,
            level_sums=sums,
            dispersion=dispersion,
            periods_seen=len(history),
        )


def _fit_poisson_profile(
    arrivals: FloatArray, position: IntArray, positions: int, matrix: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Poisson maximum likelihood for ``log mu = profile[position] + matrix @ coefficients``.

    Alternates the closed-form profile update (each position's log ratio of observed to expected arrivals)
    with a statsmodels GLM for the coefficients, the profile entering as an offset. The design columns should
    be centred within each position (see :func:`_centre_within`) so that the two blocks barely interact and
    the alternation converges in a few rounds.
    """
    counts = np.bincount(position, weights=arrivals, minlength=positions)
    # A position never seen, or with no arrivals at all, gets a small positive rate rather than -inf.
    counts = np.maximum(counts, 0.5)
    coefficients = np.zeros(matrix.shape[1])
    profile = np.zeros(positions)
    for _ in range(30):
        smooth = matrix @ coefficients
        profile = np.log(counts / np.bincount(position, weights=np.exp(smooth), minlength=positions))
        if matrix.shape[1] == 0:
            break
        glm = sm.GLM(arrivals, matrix, family=sm.families.Poisson(), offset=profile[position], hasconst=False)
        result = glm.fit(start_params=coefficients, maxiter=100, tol=1e-8)
        new = np.asarray(result.params, dtype=np.float64)
        change = float(np.max(np.abs(new - coefficients)))
        coefficients = new
        if change < 1e-5:  # a relative change of 0.001 % in a rate: far below the forecast error
            break
    smooth = matrix @ coefficients
    profile = np.log(counts / np.bincount(position, weights=np.exp(smooth), minlength=positions))
    return profile, coefficients


def _centre_within(matrix: FloatArray, position: IntArray, positions: int) -> FloatArray:
    """Mean of each design column within each weekly position; shape ``(positions, columns)``.

    Hourly temperature, for instance, follows the hour of the day; subtracting its mean per hour of week
    leaves a column nearly orthogonal to the weekly profile without changing the model (the means are
    absorbed by the profile).
    """
    periods = np.maximum(np.bincount(position, minlength=positions), 1)
    return (
        np.column_stack(
            [
                np.bincount(position, weights=matrix[:, j], minlength=positions) / periods
                for j in range(matrix.shape[1])
            ]
        )
        if matrix.shape[1]
        else np.zeros((positions, 0))
    )


def _level_path(
    arrivals: FloatArray, expected: FloatArray, discount: float | None, prior: float
) -> FloatArray:
    """Level after each period: discounted arrivals over discounted expectation, shrunk by ``prior``."""
    if discount is None:
        return np.ones_like(arrivals)
    return (_discounted_sums(arrivals, discount) + prior) / (_discounted_sums(expected, discount) + prior)


def _choose_level(
    arrivals: FloatArray,
    expected: FloatArray,
    horizon: int,
    *,
    half_lives: list[float],
    priors: list[float],
    burn_in: int,
) -> tuple[float | None, float]:
    """Discount and prior of the level with the least squared error over horizons 1 … ``horizon``.

    Each forecast uses the level known at its origin only, so the comparison is out of sample in time
    (the regression coefficients are shared). "No level" (``None``) is one of the choices.
    """
    horizons = _evaluation_horizons(horizon)

    def score(level: FloatArray) -> float:
        total = 0.0
        for h in horizons:
            forecast = expected[burn_in + h :] * level[burn_in : len(level) - h]
            total += float(np.mean((arrivals[burn_in + h :] - forecast) ** 2))
        return total / len(horizons)

    best: tuple[float, float | None, float] = (score(np.ones_like(arrivals)), None, 0.0)
    for half_life in half_lives:
        discount = 0.5 ** (1.0 / half_life)
        numerator = _discounted_sums(arrivals, discount)
        denominator = _discounted_sums(expected, discount)
        for prior in priors:
            candidate = score((numerator + prior) / (denominator + prior))
            if candidate < best[0]:
                best = (candidate, discount, prior)
    return best[1], best[2]


@dataclass(frozen=True)
class FittedCountRegression:
    """A fitted :class:`CountRegressionSpec`.

    Attributes
    ----------
    freq
        Series frequency.
    design
        Smooth part of the design (Fourier, trend, regressors).
    profile
        Log arrivals rate by weekly position (weekday or hour of week), before the smooth part.
    coefficients
        Coefficients of the smooth design columns (log scale), centred by ``column_means``.
    column_means
        Training mean of each design column per weekly position.
    discount
        Level discount per period, or ``None`` without a level.
    prior
        Level prior [expected arrivals].
    level_sums
        Discounted arrivals and discounted expected arrivals at the end of the history.
    dispersion
        Negative binomial ``alpha`` of forecasts 1, 2, … periods ahead.
    periods_seen
        Length of the history conditioned on.
    """

    freq: Frequency
    design: CalendarDesign
    profile: FloatArray
    coefficients: FloatArray
    column_means: FloatArray
    discount: float | None
    prior: float
    level_sums: tuple[float, float]
    dispersion: FloatArray
    periods_seen: int

    def expected(self, periods: ArrivalHistory) -> FloatArray:
        """Expected arrivals from the calendar and regressors alone (level 1)."""
        position = weekly_position(periods.t, self.freq)
        matrix = self.design.matrix(periods.t, periods.regressors) - self.column_means[position]
        return np.asarray(np.exp(self.profile[position] + matrix @ self.coefficients), dtype=np.float64)

    @property
    def level(self) -> float:
        """Current level: recent arrivals relative to the calendar's expectation (1 without a level)."""
        if self.discount is None:
            return 1.0
        return (self.level_sums[0] + self.prior) / (self.level_sums[1] + self.prior)

    def predict(self, future: ArrivalHistory) -> Predictive:
        """Negative binomial forecast of the periods of ``future``."""
        mean = self.expected(future) * self.level
        steps = np.minimum(np.arange(len(future)), self.dispersion.shape[0] - 1)
        return count_predictive(mean, self.dispersion[steps])

    def update(self, history: ArrivalHistory) -> FittedCountRegression:
        """Advance the level over the periods of ``history`` not seen yet."""
        if len(history) == self.periods_seen or self.discount is None:
            return replace(self, periods_seen=len(history))
        new = history.window(self.periods_seen, len(history))
        arrivals_sum = _discounted_sums(new.arrivals, self.discount, self.level_sums[0])[-1]
        expected_sum = _discounted_sums(self.expected(new), self.discount, self.level_sums[1])[-1]
        return replace(self, level_sums=(float(arrivals_sum), float(expected_sum)), periods_seen=len(history))


# ---------------------------------------------------------------------------------------------------------
# Exponential smoothing (ETS) on daily totals


@dataclass(frozen=True)
class ExponentialSmoothingSpec:
    """ETS(A, Ad, A): additive errors, damped additive trend, additive weekday seasonality (daily series).

    Fitted by maximum likelihood with statsmodels ``ETSModel``; regressors are not used. Prediction intervals
    are the model's analytic ones. ``update`` re-runs the smoother with the fitted parameters.

    Parameters
    ----------
    damped_trend
        Damp the trend (recommended for horizons beyond a few days).
    initialization
        ``"estimated"``: the initial level, trend and weekday states are fitted by maximum likelihood with
        the smoothing parameters; ``"heuristic"``: they come from a decomposition of the first weeks and
        only the smoothing parameters are fitted (about ten times faster, for many small series).
    """

    damped_trend: bool = True
    initialization: Literal["estimated", "heuristic"] = "estimated"
    name: str = "exponential_smoothing"

    def supports(self, freq: Frequency) -> bool:
        """Daily series only (an hourly weekly season of 168 is beyond ETS)."""
        return freq == "day"

    def model(self, arrivals: FloatArray) -> ETSModel:
        """The statsmodels model for these arrivals."""
        # A pandas series: statsmodels' ETS prediction intervals fail on a bare numpy array.
        return ETSModel(
            pd.Series(arrivals),
            error="add",
            trend="add",
            damped_trend=self.damped_trend,
            seasonal="add",
            seasonal_periods=SEASON_LENGTH["day"],
            initialization_method=self.initialization,
        )

    def fit(self, history: ArrivalHistory, horizon: int) -> FittedExponentialSmoothing:
        """Maximum likelihood fit on ``history``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = self.model(history.arrivals).fit(disp=False, maxiter=1000)
        return FittedExponentialSmoothing(
            spec=self, params=np.asarray(result.params), result=result, periods_seen=len(history)
        )


@dataclass(frozen=True)
class FittedExponentialSmoothing:
    """A fitted :class:`ExponentialSmoothingSpec` (statsmodels results kept for forecasting)."""

    spec: ExponentialSmoothingSpec
    params: FloatArray
    result: Any
    periods_seen: int

    def predict(self, future: ArrivalHistory) -> Predictive:
        """Forecast with 90 % analytic prediction intervals."""
        start = self.periods_seen
        summary = self.result.get_prediction(start=start, end=start + len(future) - 1).summary_frame(
            alpha=0.1
        )
        mean = np.asarray(summary["mean"], dtype=np.float64)
        # Symmetric normal intervals: the half-width over 1.645 is the forecast standard deviation.
        spread = (np.asarray(summary["pi_upper"], dtype=np.float64) - mean) / 1.6448536269514722
        return gaussian_predictive(mean, spread)

    def update(self, history: ArrivalHistory) -> FittedExponentialSmoothing:
        """Smooth the longer history with the fitted parameters."""
        if len(history) == self.periods_seen:
            return self
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = self.spec.model(history.arrivals).smooth(self.params)
        return replace(self, result=result, periods_seen=len(history))


# ---------------------------------------------------------------------------------------------------------
# Unobserved components (structural time series) on daily totals


@dataclass(frozen=True)
class UnobservedComponentsSpec:
    """Local level + weekday seasonal + yearly Fourier terms and regressors, as a Gaussian state space model.

    statsmodels ``UnobservedComponents`` with the regression coefficients in the state vector (estimated by
    the Kalman filter, so only three variances are fitted by maximum likelihood). ``update`` filters the new
    days with the fitted parameters.

    Parameters
    ----------
    fourier_order
        Yearly harmonics.
    """

    fourier_order: int = 3
    name: str = "unobserved_components"

    def supports(self, freq: Frequency) -> bool:
        """Daily series only (an hourly Kalman filter over years of data is too slow to backtest)."""
        return freq == "day"

    def fit(self, history: ArrivalHistory, horizon: int) -> FittedUnobservedComponents:
        """Maximum likelihood fit of the variances on ``history``."""
        design = CalendarDesign.learn(
            history.t, history.regressors, fourier_order=self.fourier_order, trend=False
        )
        exog = design.matrix(history.t, history.regressors)
        model = UnobservedComponents(
            history.arrivals,
            level="llevel",
            seasonal=SEASON_LENGTH["day"],
            exog=exog if exog.shape[1] else None,
            mle_regression=False,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = model.fit(disp=False, maxiter=200, cov_type="none")
        return FittedUnobservedComponents(design=design, result=result, periods_seen=len(history))


@dataclass(frozen=True)
class FittedUnobservedComponents:
    """A fitted :class:`UnobservedComponentsSpec` (statsmodels results kept for forecasting)."""

    design: CalendarDesign
    result: Any
    periods_seen: int

    def _exog(self, periods: ArrivalHistory) -> FloatArray | None:
        return self.design.matrix(periods.t, periods.regressors) if self.design.width else None

    def predict(self, future: ArrivalHistory) -> Predictive:
        """Gaussian forecast (cut at zero)."""
        forecast = self.result.get_forecast(steps=len(future), exog=self._exog(future))
        mean = np.asarray(forecast.predicted_mean, dtype=np.float64)
        spread = np.sqrt(np.maximum(np.asarray(forecast.var_pred_mean, dtype=np.float64), 0.0))
        return gaussian_predictive(mean, spread)

    def update(self, history: ArrivalHistory) -> FittedUnobservedComponents:
        """Filter the days not seen yet with the fitted parameters."""
        if len(history) == self.periods_seen:
            return self
        new = history.window(self.periods_seen, len(history))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = self.result.extend(new.arrivals, exog=self._exog(new))
        return replace(self, result=result, periods_seen=len(history))


# ---------------------------------------------------------------------------------------------------------
# Hourly forecasts as a daily forecast shared out by the hour-of-week profile


def whole_days(history: ArrivalHistory) -> tuple[ArrivalHistory, int]:
    """Daily totals of the whole days of an hourly history, and the index of the first hour used.

    Regressors become daily means. Hours before the first midnight and after the last whole day are left out.
    """
    hour = weekly_position(history.t, "hour") % 24
    first = int(np.argmax(hour == 0)) if np.any(hour == 0) else len(history)
    days = (len(history) - first) // 24
    stop = first + 24 * days

    def by_day(values: FloatArray) -> FloatArray:
        return np.asarray(values[first:stop].reshape(days, 24), dtype=np.float64)

    return (
        ArrivalHistory(
            freq="day",
            t=history.t[first:stop:24].astype("datetime64[D]").astype("datetime64[us]"),
            arrivals=by_day(history.arrivals).sum(axis=1),
            regressors={name: by_day(values).mean(axis=1) for name, values in history.regressors.items()},
        ),
        first,
    )


@dataclass(frozen=True)
class DailyProfileSpec:
    """Hourly arrivals = a daily model's forecast of the day's total × the hour's share of that weekday.

    The shares are the training arrivals in each hour of the week over the arrivals of those weekdays. The
    interval of an hour combines the daily forecast's spread with the hour-to-hour noise around its share
    (negative binomial, dispersion measured on training).

    Parameters
    ----------
    daily
        The daily model (default :class:`ExponentialSmoothingSpec`).
    use_regressors
        Pass daily means of the regressors to the daily model (off by default: with it, daily forecasts can no
        longer be reused across the hours of a day, which makes hourly backtests slow).
    """

    daily: ArrivalModelSpec = field(default_factory=ExponentialSmoothingSpec)
    use_regressors: bool = False
    name: str = "daily_profile"

    def supports(self, freq: Frequency) -> bool:
        """Hourly series only."""
        return freq == "hour" and self.daily.supports("day")

    def _days(self, history: ArrivalHistory) -> tuple[ArrivalHistory, int]:
        days, first = whole_days(history)
        if not self.use_regressors:
            days = replace(days, regressors={})
        return days, first

    def fit(self, history: ArrivalHistory, horizon: int) -> FittedDailyProfile:
        """Fit the daily model on whole days and learn the hour-of-week shares."""
        days, first = self._days(history)
        if len(days) < 4 * SEASON_LENGTH["day"]:
            raise ValueError("the daily profile model needs at least four weeks of whole days")
        daily = self.daily.fit(days, horizon // 24 + 2)
        used = history.window(first, first + 24 * len(days))
        position = weekly_position(used.t, "hour")
        day_total = np.repeat(days.arrivals, 24)
        share = np.bincount(position, weights=used.arrivals, minlength=168) / np.maximum(
            np.bincount(position, weights=day_total, minlength=168), 1e-9
        )
        dispersion = negative_binomial_dispersion(used.arrivals, day_total * share[position])
        return FittedDailyProfile(
            spec=self,
            daily=daily,
            share=share,
            dispersion=dispersion,
            days_seen=len(days),
            periods_seen=len(history),
            cache={},
        )


@dataclass(frozen=True)
class FittedDailyProfile:
    """A fitted :class:`DailyProfileSpec`."""

    spec: DailyProfileSpec
    daily: FittedArrivalModel
    share: FloatArray
    dispersion: float
    days_seen: int
    periods_seen: int
    cache: dict[int, Predictive] = field(compare=False)

    def predict(self, future: ArrivalHistory) -> Predictive:
        """Share the daily forecast of each future day out over its hours."""
        day = future.t.astype("datetime64[D]")
        day_index = (day - day[0]).astype(np.int64)
        days_ahead = int(day_index[-1]) + 1
        # The daily model has seen whole days only: today's total is still a forecast, one day ahead.
        daily = self.cache.get(days_ahead)
        if daily is None:
            starts = day[0] + np.arange(days_ahead).astype("timedelta64[D]")
            regressors: Mapping[str, FloatArray] = {}
            if self.spec.use_regressors:
                regressors = {
                    name: np.bincount(day_index, weights=values) / np.bincount(day_index)
                    for name, values in future.regressors.items()
                }
            daily = self.daily.predict(
                ArrivalHistory(
                    freq="day",
                    t=starts.astype("datetime64[us]"),
                    arrivals=np.full(days_ahead, np.nan),
                    regressors=regressors,
                )
            )
            if not self.spec.use_regressors:
                self.cache[days_ahead] = daily
        daily_mean = np.maximum(daily.mean[day_index], 1e-9)
        # Normal spread of the day's total, from its 90 % interval.
        daily_variance = ((daily.p95 - daily.p05)[day_index] / (2 * 1.6448536269514722)) ** 2
        mean = daily_mean * self.share[weekly_position(future.t, "hour")]
        return count_predictive(mean, self.dispersion + daily_variance / daily_mean**2)

    def update(self, history: ArrivalHistory) -> FittedDailyProfile:
        """Update the daily model when whole days have been added."""
        days, _ = self.spec._days(history)
        if len(days) == self.days_seen:
            return replace(self, periods_seen=len(history))
        return replace(
            self,
            daily=self.daily.update(days),
            days_seen=len(days),
            periods_seen=len(history),
            cache={},
        )
