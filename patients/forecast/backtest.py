"""Backtest of arrival forecasting on held-out data, with naive baselines scored in the same run.

Protocol
--------
1. The series is split at ``test_start``: everything before is training data, the rest is the test period.
2. The model is *chosen* on the training data alone (:func:`~patients.forecast.arrivals.select_arrival_model`,
   rolling origins over the last weeks of training).
3. Rolling origins run through the test period, one every ``step`` periods; from each origin the next
   ``horizon`` periods are forecast using only the data before it. The chosen model's parameters are
   re-estimated every ``refit_every`` periods and its state updated at every origin.
4. Baselines are forecast from the same origins: seasonal naive (same hour / weekday last week) and the
   training mean of the hour of week / weekday (fitted once on training data).
5. Scores: MAE, RMSE, MASE (scaled by the seasonal naive MAE *in the training data*), 90 % interval coverage
   (p05–p95), mean pinball loss over p05/p50/p95 — overall and by step ahead.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from patients.forecast import metrics
from patients.forecast.arrivals import (
    MODEL_SELECTION_SCHEMA,
    SelectionMetric,
    arrival_history,
    default_candidates,
    default_validation,
    select_arrival_model,
)
from patients.forecast.base import QUANTILE_LEVELS, ArrivalModelSpec
from patients.forecast.baselines import SeasonalNaiveSpec, WeeklyMeanSpec, weekly_mean_name
from patients.forecast.rolling import RollingForecasts, origin_indices, rolling_origin_forecasts
from patients.forecast.series import (
    PERIODS_PER_DAY,
    SEASON_LENGTH,
    ArrivalHistory,
    Frequency,
    SeriesError,
    check_frequency,
)

MODEL_ROLE = "model"
BASELINE_ROLE = "baseline"

BACKTEST_FORECAST_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String(),
    "role": pl.String(),
    "origin": pl.Datetime("us"),
    "t": pl.Datetime("us"),
    "step_ahead": pl.Int64(),
    "actual": pl.Float64(),
    "mean": pl.Float64(),
    "p05": pl.Float64(),
    "p50": pl.Float64(),
    "p95": pl.Float64(),
}
"""Every forecast of the backtest: which model, from which origin (first forecast period), for what period."""

BACKTEST_METRICS_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String(),
    "role": pl.String(),
    "forecasts": pl.Int64(),
    "mae": pl.Float64(),
    "rmse": pl.Float64(),
    "mase": pl.Float64(),
    "mean_pinball_loss": pl.Float64(),
    "coverage_90": pl.Float64(),
    "interval_width_90": pl.Float64(),
}
"""Scores over the whole test period, one row per model (ours first, then the baselines)."""

METRICS_BY_STEP_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String(),
    "role": pl.String(),
    "step_ahead": pl.Int64(),
    "mae": pl.Float64(),
    "rmse": pl.Float64(),
    "coverage_90": pl.Float64(),
}
"""Scores by how many periods ahead the forecast was made."""


@dataclass(frozen=True)
class BacktestResult:
    """Everything a backtest measured.

    Attributes
    ----------
    freq
        Series frequency.
    horizon, step, refit_every
        Protocol: periods forecast per origin, periods between origins, periods between refits.
    training_start, test_start, test_end
        First training period, first and last test period.
    origins
        Number of forecast origins.
    selected_model
        The candidate chosen on the training data.
    selection
        Its validation scores and those of the other candidates (:data:`MODEL_SELECTION_SCHEMA`).
    refits
        Times the chosen model's parameters were estimated during the test.
    mase_scale
        In-sample seasonal naive MAE of the training data [arrivals per period].
    forecasts, metrics, metrics_by_step
        :data:`BACKTEST_FORECAST_SCHEMA`, :data:`BACKTEST_METRICS_SCHEMA`, :data:`METRICS_BY_STEP_SCHEMA`.
    seconds
        Wall-clock time of the whole backtest.
    regressors
        Regressors used (including ``public_holiday`` when a holiday country was given).
    """

    freq: Frequency
    horizon: int
    step: int
    refit_every: int
    training_start: datetime
    test_start: datetime
    test_end: datetime
    origins: int
    selected_model: str
    selection: pl.DataFrame
    refits: int
    mase_scale: float
    forecasts: pl.DataFrame
    metrics: pl.DataFrame
    metrics_by_step: pl.DataFrame
    seconds: float
    regressors: tuple[str, ...]

    def model_metrics(self, model: str) -> dict[str, Any]:
        """The metrics row of one model as a dict."""
        rows = self.metrics.filter(pl.col("model") == model).to_dicts()
        if not rows:
            raise KeyError(f"no model '{model}' in the backtest; there are {self.metrics['model'].to_list()}")
        return rows[0]

    def skill(self, baseline: str, metric: str = "mase") -> float:
        """Relative improvement of our model over a baseline, ``1 - ours / baseline`` (0.1 = 10 % better)."""
        ours = self.model_metrics(self.selected_model)[metric]
        theirs = self.model_metrics(baseline)[metric]
        return float(1.0 - ours / theirs)

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary: protocol, selected model, metrics of every model, skill over the baselines."""
        baselines = self.metrics.filter(pl.col("role") == BASELINE_ROLE)["model"].to_list()
        return {
            "freq": self.freq,
            "protocol": {
                "training": [
                    _label(self.training_start, self.freq),
                    _label(_before(self.test_start, self.freq), self.freq),
                ],
                "test": [_label(self.test_start, self.freq), _label(self.test_end, self.freq)],
                "horizon": self.horizon,
                "step": self.step,
                "refit_every": self.refit_every,
                "origins": self.origins,
                "regressors": list(self.regressors),
            },
            "selected_model": self.selected_model,
            "selection": self.selection.to_dicts(),
            "refits": self.refits,
            "mase_scale": self.mase_scale,
            "metrics": {row.pop("model"): row for row in self.metrics.to_dicts()},
            "skill_vs_baselines": {
                baseline: {m: self.skill(baseline, m) for m in ("mae", "rmse", "mase", "mean_pinball_loss")}
                for baseline in baselines
            },
            "seconds": round(self.seconds, 2),
        }


def _label(moment: datetime, freq: Frequency) -> str:
    """``2016-04-01`` for days, ``2016-04-01T13:00`` for hours."""
    return moment.date().isoformat() if freq == "day" else moment.isoformat(timespec="minutes")


def _before(moment: datetime, freq: Frequency) -> datetime:
    return moment - (timedelta(hours=1) if freq == "hour" else timedelta(days=1))


def _as_datetime(value: np.datetime64) -> datetime:
    return datetime.fromisoformat(str(value.astype("datetime64[us]")))


def _forecast_rows(
    name: str, role: str, history: ArrivalHistory, forecasts: RollingForecasts
) -> pl.DataFrame:
    origins, horizon = forecasts.actual.shape
    period_index = forecasts.origins[:, None] + np.arange(horizon)[None, :]
    return pl.DataFrame(
        {
            "model": np.full(origins * horizon, name),
            "role": np.full(origins * horizon, role),
            "origin": np.repeat(history.t[forecasts.origins], horizon),
            "t": history.t[period_index].ravel(),
            "step_ahead": np.tile(np.arange(1, horizon + 1), origins),
            "actual": forecasts.actual.ravel(),
            "mean": forecasts.mean.ravel(),
            "p05": forecasts.p05.ravel(),
            "p50": forecasts.p50.ravel(),
            "p95": forecasts.p95.ravel(),
        },
        schema=BACKTEST_FORECAST_SCHEMA,
    )


def _scores(name: str, role: str, forecasts: RollingForecasts, training: ArrivalHistory) -> dict[str, Any]:
    actual = forecasts.actual.ravel()
    return {
        "model": name,
        "role": role,
        "forecasts": int(actual.size),
        "mae": metrics.mean_absolute_error(actual, forecasts.mean.ravel()),
        "rmse": metrics.root_mean_squared_error(actual, forecasts.mean.ravel()),
        "mase": metrics.mean_absolute_scaled_error(
            actual, forecasts.mean.ravel(), training.arrivals, SEASON_LENGTH[training.freq]
        ),
        "mean_pinball_loss": metrics.mean_pinball_loss(
            actual,
            dict(
                zip(
                    QUANTILE_LEVELS,
                    (forecasts.p05.ravel(), forecasts.p50.ravel(), forecasts.p95.ravel()),
                    strict=True,
                )
            ),
        ),
        "coverage_90": metrics.interval_coverage(actual, forecasts.p05.ravel(), forecasts.p95.ravel()),
        "interval_width_90": metrics.interval_width(forecasts.p05.ravel(), forecasts.p95.ravel()),
    }


def _scores_by_step(name: str, role: str, forecasts: RollingForecasts) -> list[dict[str, Any]]:
    return [
        {
            "model": name,
            "role": role,
            "step_ahead": step + 1,
            "mae": metrics.mean_absolute_error(forecasts.actual[:, step], forecasts.mean[:, step]),
            "rmse": metrics.root_mean_squared_error(forecasts.actual[:, step], forecasts.mean[:, step]),
            "coverage_90": metrics.interval_coverage(
                forecasts.actual[:, step], forecasts.p05[:, step], forecasts.p95[:, step]
            ),
        }
        for step in range(forecasts.actual.shape[1])
    ]


def _as_moment(value: date | datetime | str) -> np.datetime64:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise SeriesError(None, f"cannot read test start {value!r} as a date (YYYY-MM-DD)") from None
    return np.datetime64(value).astype("datetime64[us]")


def backtest_arrivals(
    series: pl.DataFrame,
    freq: Frequency,
    test_start: date | datetime | str,
    horizon: int,
    *,
    step: int = 1,
    refit_every: int | None = None,
    regressors: Sequence[str] = (),
    holiday_country: str | None = None,
    candidates: Sequence[ArrivalModelSpec] | None = None,
    selection_metric: SelectionMetric = "mae",
    test_end: date | datetime | str | None = None,
) -> BacktestResult:
    """Rolling-origin backtest of the chosen arrival model and the naive baselines (see the module protocol).

    Parameters
    ----------
    series
        An arrival series (``t``, ``arrivals``, regressors).
    freq
        ``"hour"`` or ``"day"``.
    test_start
        First period of the test; the model is chosen and first fitted on the periods before it.
    horizon
        Periods forecast from each origin.
    step
        Periods between origins.
    refit_every
        Periods between re-estimations of the chosen model's parameters; default four weeks.
    regressors, holiday_country, candidates, selection_metric
        As for :func:`~patients.forecast.arrivals.fit_arrival_model`.
    test_end
        Last period of the test (inclusive); default the end of the series.

    Returns
    -------
    BacktestResult

    Raises
    ------
    SeriesError
        When the training or test period is too short, or the series is unusable.
    """
    started = time.perf_counter()
    freq = check_frequency(freq)
    if horizon < 1 or step < 1:
        raise ValueError("horizon and step must be at least 1")
    refit = refit_every if refit_every is not None else 28 * PERIODS_PER_DAY[freq]
    history = arrival_history(series, freq, regressors, holiday_country)
    split = int(np.searchsorted(history.t, _as_moment(test_start)))
    stop = (
        len(history)
        if test_end is None
        else int(np.searchsorted(history.t, _as_moment(test_end), side="right"))
    )
    season = SEASON_LENGTH[freq]
    if split < 8 * season + 2 * horizon:
        raise SeriesError(
            "t", f"only {split} periods before the test start {test_start}: too little training data"
        )
    origins = origin_indices(split, stop, horizon, step)
    if origins.shape[0] == 0:
        raise SeriesError("t", f"the test period from {test_start} is shorter than the horizon of {horizon}")
    training = history.head(split)

    validation_length, validation_step = default_validation(freq, split, horizon)
    spec, selection = select_arrival_model(
        training,
        candidates if candidates is not None else default_candidates(freq),
        horizon,
        validation_periods=validation_length,
        validation_step=validation_step,
        metric=selection_metric,
    )
    runs: list[tuple[str, str, RollingForecasts]] = [
        (spec.name, MODEL_ROLE, rolling_origin_forecasts(spec, history, origins, horizon, refit_every=refit))
    ]
    for baseline in (SeasonalNaiveSpec(), WeeklyMeanSpec(name=weekly_mean_name(freq))):
        runs.append(
            (baseline.name, BASELINE_ROLE, rolling_origin_forecasts(baseline, history, origins, horizon))
        )

    return BacktestResult(
        freq=freq,
        horizon=horizon,
        step=step,
        refit_every=refit,
        training_start=_as_datetime(history.t[0]),
        test_start=_as_datetime(history.t[split]),
        test_end=_as_datetime(history.t[int(origins[-1]) + horizon - 1]),
        origins=int(origins.shape[0]),
        selected_model=spec.name,
        selection=selection,
        refits=runs[0][2].refits,
        mase_scale=metrics.seasonal_naive_scale(training.arrivals, season),
        forecasts=pl.concat([_forecast_rows(name, role, history, run) for name, role, run in runs]),
        metrics=pl.DataFrame(
            [_scores(name, role, run, training) for name, role, run in runs], schema=BACKTEST_METRICS_SCHEMA
        ),
        metrics_by_step=pl.DataFrame(
            [row for name, role, run in runs for row in _scores_by_step(name, role, run)],
            schema=METRICS_BY_STEP_SCHEMA,
        ),
        seconds=time.perf_counter() - started,
        regressors=tuple(history.regressors),
    )


__all__ = [
    "BACKTEST_FORECAST_SCHEMA",
    "BACKTEST_METRICS_SCHEMA",
    "BASELINE_ROLE",
    "METRICS_BY_STEP_SCHEMA",
    "MODEL_ROLE",
    "MODEL_SELECTION_SCHEMA",
    "BacktestResult",
    "backtest_arrivals",
]
