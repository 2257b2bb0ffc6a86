"""What every arrival model provides: the forecast schema, predictive quantiles and the model protocols."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import polars as pl
from scipy import stats

from patients.forecast.series import ArrivalHistory, FloatArray, Frequency, TimeArray

QUANTILE_LEVELS: tuple[float, float, float] = (0.05, 0.50, 0.95)
"""Quantiles reported with every forecast: the p05–p95 band is a 90 % prediction interval."""

ARRIVAL_FORECAST_SCHEMA: dict[str, pl.DataType] = {
    "t": pl.Datetime("us"),
    "mean": pl.Float64(),
    "p05": pl.Float64(),
    "p50": pl.Float64(),
    "p95": pl.Float64(),
}
"""One row per future period: its start ``t`` and the forecast arrivals (mean and quantiles)."""


@dataclass(frozen=True)
class Predictive:
    """Forecast arrivals for consecutive periods: mean and the :data:`QUANTILE_LEVELS` quantiles.

    Attributes
    ----------
    mean, p05, p50, p95
        Arrays of the same length, one value per period [arrivals per period].
    """

    mean: FloatArray
    p05: FloatArray
    p50: FloatArray
    p95: FloatArray

    def frame(self, t: TimeArray) -> pl.DataFrame:
        """The forecast as a frame with :data:`ARRIVAL_FORECAST_SCHEMA`."""
        return pl.DataFrame(
            {"t": t, "mean": self.mean, "p05": self.p05, "p50": self.p50, "p95": self.p95},
            schema=ARRIVAL_FORECAST_SCHEMA,
        )


def count_predictive(mean: FloatArray, dispersion: FloatArray | float) -> Predictive:
    """Quantiles of negative binomial counts with the given means and dispersions.

    The variance is ``mean + dispersion * mean**2``; a dispersion of 0 is a Poisson count.

    Parameters
    ----------
    mean
        Expected arrivals per period.
    dispersion
        Negative binomial ``alpha`` per period (or one for all).
    """
    mean = np.maximum(np.asarray(mean, dtype=np.float64), 1e-9)
    alpha = np.broadcast_to(np.asarray(dispersion, dtype=np.float64), mean.shape)
    levels = np.array(QUANTILE_LEVELS)[:, None]
    quantiles = np.empty((len(QUANTILE_LEVELS), mean.shape[0]))
    poisson = alpha < 1e-9
    if poisson.any():
        quantiles[:, poisson] = stats.poisson.ppf(levels, mean[poisson])
    if not poisson.all():
        size = 1.0 / alpha[~poisson]
        quantiles[:, ~poisson] = stats.nbinom.ppf(levels, size, size / (size + mean[~poisson]))
    return Predictive(mean=mean, p05=quantiles[0], p50=quantiles[1], p95=quantiles[2])


def gaussian_predictive(mean: FloatArray, standard_deviation: FloatArray) -> Predictive:
    """Quantiles of normal forecasts, cut at zero arrivals."""
    mean = np.asarray(mean, dtype=np.float64)
    z = stats.norm.ppf(QUANTILE_LEVELS[2])
    return Predictive(
        mean=np.maximum(mean, 0.0),
        p05=np.maximum(mean - z * standard_deviation, 0.0),
        p50=np.maximum(mean, 0.0),
        p95=np.maximum(mean + z * standard_deviation, 0.0),
    )


def negative_binomial_dispersion(actual: FloatArray, expected: FloatArray) -> float:
    """Moment estimate of the negative binomial ``alpha`` from counts and their expected values.

    Solves ``sum((actual - expected)**2) = sum(expected + alpha * expected**2)``; never negative.
    """
    keep = np.isfinite(actual) & np.isfinite(expected) & (expected > 0)
    actual, expected = actual[keep], expected[keep]
    denominator = float(np.sum(expected**2))
    if denominator <= 0:
        return 0.0
    return max(0.0, float(np.sum((actual - expected) ** 2 - expected)) / denominator)


class FittedArrivalModel(Protocol):
    """A model fitted on an :class:`ArrivalHistory`, ready to forecast the periods that follow it."""

    def predict(self, future: ArrivalHistory) -> Predictive:
        """Forecast the periods of ``future`` (which start right after the history; arrivals unknown)."""
        ...

    def update(self, history: ArrivalHistory) -> FittedArrivalModel:
        """The same parameters conditioned on a longer history (which starts with the one fitted on)."""
        ...


class ArrivalModelSpec(Protocol):
    """A candidate arrival model: how to fit it."""

    @property
    def name(self) -> str:
        """Short name used in reports and model selection."""
        ...

    def supports(self, freq: Frequency) -> bool:
        """Whether the model can forecast series of this frequency."""
        ...

    def fit(self, history: ArrivalHistory, horizon: int) -> FittedArrivalModel:
        """Estimate the parameters on ``history``, for forecasts up to ``horizon`` periods ahead."""
        ...
