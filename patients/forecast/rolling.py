"""Rolling-origin forecasting: the protocol behind both model selection and the backtest.

At each origin the model has seen every period before it and forecasts the next ``horizon`` periods. Origins
advance ``step`` periods at a time. Parameters are re-estimated every ``refit_every`` periods; in between the
fitted model is only *updated* (its state conditioned on the new arrivals, its parameters kept), which keeps a
year of hourly origins affordable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from patients.forecast import metrics
from patients.forecast.base import QUANTILE_LEVELS, ArrivalModelSpec
from patients.forecast.features import IntArray
from patients.forecast.series import ArrivalHistory, FloatArray


@dataclass(frozen=True)
class RollingForecasts:
    """Forecasts made at successive origins; 2-D arrays are ``(origin, step ahead - 1)``.

    Attributes
    ----------
    origins
        Index of the first forecast period of each origin.
    actual, mean, p05, p50, p95
        Actual and forecast arrivals.
    refits
        Number of parameter estimations (the first fit included).
    """

    origins: IntArray
    actual: FloatArray
    mean: FloatArray
    p05: FloatArray
    p50: FloatArray
    p95: FloatArray
    refits: int

    def scores(self) -> dict[str, float]:
        """MAE, RMSE, mean pinball loss over p05/p50/p95 and 90 % interval coverage, over all forecasts."""
        actual = self.actual.ravel()
        return {
            "mae": metrics.mean_absolute_error(actual, self.mean.ravel()),
            "rmse": metrics.root_mean_squared_error(actual, self.mean.ravel()),
            "mean_pinball_loss": metrics.mean_pinball_loss(
                actual,
                dict(
                    zip(QUANTILE_LEVELS, (self.p05.ravel(), self.p50.ravel(), self.p95.ravel()), strict=True)
                ),
            ),
            "coverage_90": metrics.interval_coverage(actual, self.p05.ravel(), self.p95.ravel()),
        }


def origin_indices(start: int, stop: int, horizon: int, step: int) -> IntArray:
    """Origins from ``start`` every ``step`` periods whose whole horizon ends by ``stop``."""
    if horizon < 1 or step < 1:
        raise ValueError("horizon and step must be at least 1")
    return np.arange(start, stop - horizon + 1, step, dtype=np.int64)


def rolling_origin_forecasts(
    spec: ArrivalModelSpec,
    history: ArrivalHistory,
    origins: IntArray,
    horizon: int,
    *,
    refit_every: int | None = None,
    fit_horizon: int | None = None,
) -> RollingForecasts:
    """Forecast ``horizon`` periods from each origin, refitting every ``refit_every`` periods.

    Parameters
    ----------
    spec
        The model to fit.
    history
        The whole series; the model only ever sees the periods before each origin.
    origins
        Indices of the first forecast period, increasing.
    horizon
        Periods forecast from each origin.
    refit_every
        Periods between parameter estimations; ``None`` fits once, at the first origin.
    fit_horizon
        Horizon the model is fitted for (defaults to ``horizon``).

    Raises
    ------
    ValueError
        When there is no origin.
    """
    if origins.shape[0] == 0:
        raise ValueError("no forecast origin: the evaluation period is shorter than the horizon")
    shape = (origins.shape[0], horizon)
    actual, mean, p05, p50, p95 = (np.empty(shape) for _ in range(5))
    fitted_at = int(origins[0])
    model = spec.fit(history.head(fitted_at), fit_horizon or horizon)
    refits = 1
    for row, origin in enumerate(origins.tolist()):
        if refit_every is not None and origin - fitted_at >= refit_every:
            model = spec.fit(history.head(origin), fit_horizon or horizon)
            fitted_at = origin
            refits += 1
        else:
            model = model.update(history.head(origin))
        future = history.window(origin, origin + horizon)
        forecast = model.predict(future.without_arrivals())
        actual[row] = future.arrivals
        mean[row], p05[row], p50[row], p95[row] = forecast.mean, forecast.p05, forecast.p50, forecast.p95
    return RollingForecasts(
        origins=origins, actual=actual, mean=mean, p05=p05, p50=p50, p95=p95, refits=refits
    )
