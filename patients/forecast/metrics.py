"""Forecast accuracy measures: pure functions of actual and forecast values.

All take array-likes of equal length and return a float. NaN inputs are not skipped: drop them first.

Examples
--------
>>> mean_absolute_error([10, 12, 8], [11, 12, 5])
1.3333333333333333
>>> pinball_loss([10, 20], [12, 12], level=0.9)
3.7
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike


def _pair(actual: ArrayLike, forecast: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype=np.float64)
    f = np.asarray(forecast, dtype=np.float64)
    if a.shape != f.shape:
        raise ValueError(f"actual and forecast differ in shape: {a.shape} and {f.shape}")
    if a.size == 0:
        raise ValueError("no forecasts to score")
    return a, f


def mean_absolute_error(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Mean of ``|actual - forecast|`` [arrivals]."""
    a, f = _pair(actual, forecast)
    return float(np.mean(np.abs(a - f)))


def root_mean_squared_error(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Square root of the mean of ``(actual - forecast)**2`` [arrivals]."""
    a, f = _pair(actual, forecast)
    return float(np.sqrt(np.mean((a - f) ** 2)))


def seasonal_naive_scale(history: ArrayLike, season: int) -> float:
    """In-sample mean absolute error of the seasonal naive forecast, ``mean |y[t] - y[t - season]|``.

    The denominator of :func:`mean_absolute_scaled_error` (Hyndman & Koehler, 2006).

    Parameters
    ----------
    history
        The training series, in time order.
    season
        Seasonal lag in periods (7 for daily series, 168 for hourly series with weekly seasonality).
    """
    y = np.asarray(history, dtype=np.float64)
    if season < 1 or y.shape[0] <= season:
        raise ValueError(f"need more than {season} training values for a seasonal lag of {season}")
    return float(np.mean(np.abs(y[season:] - y[:-season])))


def mean_absolute_scaled_error(
    actual: ArrayLike, forecast: ArrayLike, history: ArrayLike, season: int
) -> float:
    """Mean absolute error divided by the in-sample seasonal naive error of ``history``.

    Below 1: better than the seasonal naive forecast was on the training data.

    Raises
    ------
    ValueError
        When the training series is constant at that lag (the scale is zero).
    """
    scale = seasonal_naive_scale(history, season)
    if scale == 0:
        raise ValueError("the seasonal naive scale is zero: the training series repeats exactly")
    return mean_absolute_error(actual, forecast) / scale


def interval_coverage(actual: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Share of actual values inside ``[lower, upper]`` (bounds included)."""
    a, lo = _pair(actual, lower)
    _, hi = _pair(actual, upper)
    return float(np.mean((a >= lo) & (a <= hi)))


def pinball_loss(actual: ArrayLike, quantile: ArrayLike, level: float) -> float:
    """Mean pinball (quantile) loss of a forecast of the ``level`` quantile.

    ``level * (y - q)`` when the actual value ``y`` is above the quantile ``q``, ``(1 - level) * (q - y)``
    when below. At ``level = 0.5`` it is half the absolute error.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"quantile level must be strictly between 0 and 1, not {level}")
    a, q = _pair(actual, quantile)
    difference = a - q
    return float(np.mean(np.maximum(level * difference, (level - 1.0) * difference)))


def mean_pinball_loss(actual: ArrayLike, quantiles: dict[float, ArrayLike]) -> float:
    """Pinball loss averaged over several quantile forecasts, given as ``{level: values}``."""
    if not quantiles:
        raise ValueError("no quantile forecasts given")
    return float(np.mean([pinball_loss(actual, values, level) for level, values in quantiles.items()]))


def interval_width(lower: ArrayLike, upper: ArrayLike) -> float:
    """Mean width of the intervals ``[lower, upper]`` [arrivals]."""
    lo, hi = _pair(lower, upper)
    return float(np.mean(hi - lo))
