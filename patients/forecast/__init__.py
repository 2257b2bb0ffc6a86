"""Arrival forecasting: statsmodels models chosen by rolling-origin validation, backtests against baselines.

Public entry points:

- :func:`fit_arrival_model` → :class:`ArrivalModel` with ``forecast(horizon, future_regressors)`` returning a
  frame with :data:`ARRIVAL_FORECAST_SCHEMA` (``t, mean, p05, p50, p95``);
- :func:`fit_service_arrivals` → :class:`ServiceArrivalModel`: one such model per arrival stream (entry unit
  and service) of a history, with ``forecast(start, hours)`` returning
  :data:`SERVICE_ARRIVAL_FORECAST_SCHEMA` (``t, entry_unit, service, mean, p05, p50, p95, model``);
- :func:`backtest_arrivals` → :class:`BacktestResult` (our model and the naive baselines, same origins);
- :func:`write_backtest_report` → a markdown report with PNG plots;
- :func:`read_arrival_series_csv` / :func:`arrival_series_from_frame` → an arrival series from a file;
- :mod:`patients.forecast.metrics` → MAE, RMSE, MASE, interval coverage, pinball loss.
"""

from patients.forecast.arrivals import (
    DEFAULT_HORIZON,
    HOLIDAY_REGRESSOR,
    MODEL_SELECTION_SCHEMA,
    ArrivalModel,
    SelectionMetric,
    default_candidates,
    fit_arrival_model,
)
from patients.forecast.backtest import (
    BACKTEST_FORECAST_SCHEMA,
    BACKTEST_METRICS_SCHEMA,
    METRICS_BY_STEP_SCHEMA,
    BacktestResult,
    backtest_arrivals,
)
from patients.forecast.base import ARRIVAL_FORECAST_SCHEMA, QUANTILE_LEVELS
from patients.forecast.models import (
    CountRegressionSpec,
    DailyProfileSpec,
    ExponentialSmoothingSpec,
    UnobservedComponentsSpec,
)
from patients.forecast.report import write_backtest_report
from patients.forecast.series import (
    ARRIVAL_SERIES_SCHEMA,
    Frequency,
    SeriesError,
    arrival_series_from_frame,
    daily_totals,
    read_arrival_series_csv,
)
from patients.forecast.services import (
    ARRIVALS_SCHEMA,
    SERVICE_ARRIVAL_FORECAST_SCHEMA,
    SERVICE_MODEL_SELECTION_SCHEMA,
    ArrivalCalendar,
    ServiceArrivalModel,
    arrivals_from_events,
    arrivals_from_segments,
    fit_service_arrivals,
)

__all__ = [
    "ARRIVALS_SCHEMA",
    "ARRIVAL_FORECAST_SCHEMA",
    "ARRIVAL_SERIES_SCHEMA",
    "BACKTEST_FORECAST_SCHEMA",
    "BACKTEST_METRICS_SCHEMA",
    "DEFAULT_HORIZON",
    "HOLIDAY_REGRESSOR",
    "METRICS_BY_STEP_SCHEMA",
    "MODEL_SELECTION_SCHEMA",
    "QUANTILE_LEVELS",
    "SERVICE_ARRIVAL_FORECAST_SCHEMA",
    "SERVICE_MODEL_SELECTION_SCHEMA",
    "ArrivalCalendar",
    "ArrivalModel",
    "BacktestResult",
    "CountRegressionSpec",
    "DailyProfileSpec",
    "ExponentialSmoothingSpec",
    "Frequency",
    "SelectionMetric",
    "SeriesError",
    "ServiceArrivalModel",
    "UnobservedComponentsSpec",
    "arrival_series_from_frame",
    "arrivals_from_events",
    "arrivals_from_segments",
    "backtest_arrivals",
    "daily_totals",
    "default_candidates",
    "fit_arrival_model",
    "fit_service_arrivals",
    "read_arrival_series_csv",
    "write_backtest_report",
]
