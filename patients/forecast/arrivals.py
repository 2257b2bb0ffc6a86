"""Arrival forecasting: fit candidate models, choose one by rolling-origin validation, forecast with bands.

The model is chosen on how well it *forecast* the last weeks of the training series from earlier data
(rolling origins, the same protocol as :mod:`patients.forecast.backtest`), never on in-sample fit.

Examples
--------
>>> model = fit_arrival_model(series, "day", regressors=["temperature"], horizon=14)  # doctest: +SKIP
>>> model.name, model.selection  # doctest: +SKIP
>>> model.forecast(14, future_regressors=weather_forecast)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

import numpy as np
import polars as pl

from patients.forecast.base import (
    ARRIVAL_FORECAST_SCHEMA,
    ArrivalModelSpec,
    FittedArrivalModel,
)
from patients.forecast.features import public_holiday_flags
from patients.forecast.models import (
    CountRegressionSpec,
    DailyProfileSpec,
    ExponentialSmoothingSpec,
    UnobservedComponentsSpec,
)
from patients.forecast.rolling import origin_indices, rolling_origin_forecasts
from patients.forecast.series import (
    ARRIVAL_SERIES_SCHEMA,
    PERIODS_PER_DAY,
    SEASON_LENGTH,
    ArrivalHistory,
    Frequency,
    SeriesError,
    check_frequency,
    check_regular,
)

__all__ = [
    "ARRIVAL_FORECAST_SCHEMA",
    "DEFAULT_HORIZON",
    "HOLIDAY_REGRESSOR",
    "MODEL_SELECTION_SCHEMA",
    "ArrivalModel",
    "SelectionMetric",
    "arrival_history",
    "default_candidates",
    "default_validation",
    "fit_arrival_model",
    "select_arrival_model",
]

SelectionMetric = Literal["mae", "rmse", "mean_pinball_loss"]
"""Validation score that picks the model: lower is better."""

DEFAULT_HORIZON: dict[Frequency, int] = {"hour": 168, "day": 14}
"""Forecast horizon when none is given: a week of hours, or two weeks of days [periods]."""

HOLIDAY_REGRESSOR = "public_holiday"
"""Name of the regressor added when a holiday country is given (1 on public holidays)."""

MODEL_SELECTION_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String(),
    "mae": pl.Float64(),
    "rmse": pl.Float64(),
    "mean_pinball_loss": pl.Float64(),
    "coverage_90": pl.Float64(),
    "forecasts": pl.Int64(),
    "selected": pl.Boolean(),
    "note": pl.String(),
}
"""One row per candidate: its validation scores, and whether it was chosen."""

_MIN_TRAINING_WEEKS = 8


def default_candidates(freq: Frequency) -> tuple[ArrivalModelSpec, ...]:
    """The candidate models tried for a series of this frequency."""
    if freq == "day":
        return (CountRegressionSpec(), ExponentialSmoothingSpec(), UnobservedComponentsSpec())
    return (CountRegressionSpec(), DailyProfileSpec())


def default_validation(freq: Frequency, periods: int, horizon: int) -> tuple[int, int]:
    """Validation length and origin spacing: the last 26 weeks (daily) or 4 weeks (hourly), ≤ a third."""
    weeks = 26 if freq == "day" else 4
    length = min(weeks * SEASON_LENGTH[freq], periods // 3)
    step = min(horizon, SEASON_LENGTH[freq] if freq == "day" else PERIODS_PER_DAY[freq])
    return length, step


def select_arrival_model(
    history: ArrivalHistory,
    candidates: Sequence[ArrivalModelSpec],
    horizon: int,
    *,
    validation_periods: int,
    validation_step: int,
    metric: SelectionMetric = "mae",
) -> tuple[ArrivalModelSpec, pl.DataFrame]:
    """Choose among ``candidates`` by rolling-origin forecasts over the last ``validation_periods``.

    Each candidate is fitted on the periods before the validation window, then updated (not refitted) at each
    origin, ``validation_step`` periods apart, and scored over ``horizon`` periods ahead.

    Returns
    -------
    spec, selection
        The chosen candidate and a :data:`MODEL_SELECTION_SCHEMA` frame. A candidate that fails to fit is
        listed with its error in ``note`` and never chosen.

    Raises
    ------
    ValueError
        When no candidate could be scored.
    """
    usable = [c for c in candidates if c.supports(history.freq)]
    if not usable:
        raise ValueError(f"no candidate model supports {history.freq}ly series")
    origins = origin_indices(len(history) - validation_periods, len(history), horizon, validation_step)
    rows = []
    for spec in usable:
        row: dict[str, object] = {"model": spec.name, "forecasts": 0, "selected": False, "note": ""}
        if len(usable) == 1:
            row["note"] = "only candidate"
        else:
            try:
                forecasts = rolling_origin_forecasts(spec, history, origins, horizon)
            except (ValueError, np.linalg.LinAlgError) as exc:
                row["note"] = f"failed: {exc}"
            else:
                row.update(forecasts.scores())
                row["forecasts"] = int(forecasts.actual.size)
        rows.append(row)
    selection = pl.DataFrame(rows, schema=MODEL_SELECTION_SCHEMA)
    if len(usable) == 1:
        chosen = 0
    else:
        scores = selection.get_column(metric).to_numpy()
        if np.all(np.isnan(scores)):
            raise ValueError("no candidate model could be fitted: " + "; ".join(selection["note"].to_list()))
        chosen = int(np.nanargmin(scores))
    selection = selection.with_columns(selected=pl.int_range(pl.len()) == chosen)
    return usable[chosen], selection


def arrival_history(
    series: pl.DataFrame,
    freq: Frequency,
    regressors: Sequence[str],
    holiday_country: str | None,
    holiday_subdivision: str | None = None,
) -> ArrivalHistory:
    """Arrays of a validated arrival series, with the public holiday regressor added when asked for."""
    for column in ARRIVAL_SERIES_SCHEMA:
        if column not in series.columns:
            raise SeriesError(
                column, f"not found; an arrival series has columns {', '.join(ARRIVAL_SERIES_SCHEMA)}"
            )
    if series.get_column("arrivals").null_count():
        raise SeriesError("arrivals", "has empty values")
    check_regular(series, freq)
    history = ArrivalHistory.from_frame(series, freq, regressors)
    if holiday_country:
        flags = public_holiday_flags(history.t, holiday_country, holiday_subdivision)
        history = replace(history, regressors={**history.regressors, HOLIDAY_REGRESSOR: flags})
    return history


def fit_arrival_model(
    series: pl.DataFrame,
    freq: Frequency,
    regressors: Sequence[str] = (),
    *,
    horizon: int | None = None,
    candidates: Sequence[ArrivalModelSpec] | None = None,
    holiday_country: str | None = None,
    holiday_subdivision: str | None = None,
    validation_periods: int | None = None,
    validation_step: int | None = None,
    selection_metric: SelectionMetric = "mae",
    min_training_periods: int | None = None,
) -> ArrivalModel:
    """Fit arrival models to a series, choose one by rolling-origin validation, and refit it on all of it.

    Parameters
    ----------
    series
        An arrival series (:data:`~patients.forecast.series.ARRIVAL_SERIES_SCHEMA` plus regressor columns),
        regular and in time order.
    freq
        ``"hour"`` or ``"day"``.
    regressors
        Columns of ``series`` used as regressors (e.g. temperature, holiday flags). Their future values must
        be given to :meth:`ArrivalModel.forecast`.
    horizon
        Longest forecast wanted [periods]; the models are chosen and their intervals calibrated for it.
        Default :data:`DEFAULT_HORIZON`.
    candidates
        Models to choose from; default :func:`default_candidates`.
    holiday_country
        Add a ``public_holiday`` regressor from the ``holidays`` package calendar of this country (e.g.
        ``"US"``, ``"GB"``); its future values are computed, not asked for.
    holiday_subdivision
        Subdivision of that country's calendar (e.g. ``"ENG"`` for England), if any.
    validation_periods, validation_step
        Length of the validation window at the end of ``series`` and spacing of its origins [periods].
        Default: the last 26 weeks with weekly origins (daily), the last 4 weeks with daily origins (hourly),
        never more than a third of the series.
    selection_metric
        Validation score that chooses the model.
    min_training_periods
        Periods the candidates are fitted on before the validation window, at least; default eight weeks.
        Lower it only with candidates that need little history (no yearly terms).

    Returns
    -------
    ArrivalModel
        The chosen model fitted on the whole series, with the validation scores of every candidate.

    Raises
    ------
    SeriesError
        When the series lacks a column, has gaps, or is shorter than the minimum training (eight weeks by
        default) plus the validation window.
    """
    freq = check_frequency(freq)
    horizon = horizon or DEFAULT_HORIZON[freq]
    if horizon < 1:
        raise ValueError("the horizon must be at least one period")
    history = arrival_history(series, freq, regressors, holiday_country, holiday_subdivision)
    default_length, default_step = default_validation(freq, len(history), horizon)
    length = validation_periods if validation_periods is not None else default_length
    minimum = (
        min_training_periods
        if min_training_periods is not None
        else _MIN_TRAINING_WEEKS * SEASON_LENGTH[freq]
    )
    if len(history) - length < minimum or length < horizon:
        raise SeriesError(
            "arrivals",
            f"{len(history)} periods are too few: "
            f"need {minimum} to fit and {max(length, horizon)} to validate",
        )
    spec, selection = select_arrival_model(
        history,
        candidates if candidates is not None else default_candidates(freq),
        horizon,
        validation_periods=length,
        validation_step=validation_step or default_step,
        metric=selection_metric,
    )
    return ArrivalModel(
        name=spec.name,
        freq=freq,
        regressors=tuple(regressors),
        holiday_country=holiday_country,
        horizon=horizon,
        selection=selection,
        spec=spec,
        fitted=spec.fit(history, horizon),
        history=history,
        holiday_subdivision=holiday_subdivision,
    )


@dataclass(frozen=True)
class ArrivalModel:
    """A fitted arrival model, chosen by rolling-origin validation; forecasts the periods after its history.

    Attributes
    ----------
    name
        Name of the chosen candidate (``count_regression``, ``exponential_smoothing``, ...).
    freq
        Period length of the series.
    regressors
        Regressor columns the forecast needs future values of.
    holiday_country
        Country of the built-in public holiday regressor, if any.
    horizon
        Horizon the model was chosen and calibrated for [periods].
    selection
        Validation scores of every candidate (:data:`MODEL_SELECTION_SCHEMA`).
    spec
        The chosen candidate.
    fitted
        The fitted candidate.
    history
        The series it has seen.
    holiday_subdivision
        Subdivision of the holiday calendar, if any.
    """

    name: str
    freq: Frequency
    regressors: tuple[str, ...]
    holiday_country: str | None
    horizon: int
    selection: pl.DataFrame
    spec: ArrivalModelSpec
    fitted: FittedArrivalModel
    history: ArrivalHistory
    holiday_subdivision: str | None = None

    @property
    def last_period(self) -> datetime:
        """Start of the last period seen."""
        return _as_datetime(self.history.t[-1])

    def _future(self, times: np.ndarray, future_regressors: pl.DataFrame | None) -> ArrivalHistory:
        values = {}
        if self.regressors:
            if future_regressors is None:
                raise SeriesError(
                    self.regressors[0], "future values of the regressors are needed to forecast"
                )
            if "t" not in future_regressors.columns:
                raise SeriesError("t", "future regressors need a 't' column with the period starts")
            wanted = pl.DataFrame({"t": times}, schema={"t": pl.Datetime("us")})
            given = future_regressors.with_columns(pl.col("t").cast(pl.Datetime("us")))
            for name in self.regressors:
                if name not in given.columns:
                    raise SeriesError(name, "not found in the future regressors")
            joined = wanted.join(given.select("t", *self.regressors), on="t", how="left")
            for name in self.regressors:
                column = joined.get_column(name)
                if column.null_count():
                    first = joined.filter(pl.col(name).is_null()).get_column("t")[0]
                    raise SeriesError(name, f"no future value for the period starting {first}")
                values[name] = column.cast(pl.Float64).to_numpy().astype(np.float64)
        if self.holiday_country:
            values[HOLIDAY_REGRESSOR] = public_holiday_flags(
                times, self.holiday_country, self.holiday_subdivision
            )
        return ArrivalHistory(
            freq=self.freq, t=times, arrivals=np.full(times.shape[0], np.nan), regressors=values
        )

    def forecast(
        self, horizon: int | None = None, future_regressors: pl.DataFrame | None = None
    ) -> pl.DataFrame:
        """Forecast arrivals for the ``horizon`` periods after the last one seen.

        Parameters
        ----------
        horizon
            Periods to forecast; default the horizon the model was fitted for. Longer horizons are allowed;
            their intervals use the dispersion measured at the fitted horizon.
        future_regressors
            A frame with ``t`` and every regressor column, covering the forecast periods (extra rows are
            ignored). Needed when the model has regressors.

        Returns
        -------
        polars.DataFrame
            :data:`~patients.forecast.base.ARRIVAL_FORECAST_SCHEMA`: ``t, mean, p05, p50, p95``.

        Raises
        ------
        SeriesError
            Naming the regressor that is missing or lacks a value for a forecast period.
        """
        horizon = horizon or self.horizon
        if horizon < 1:
            raise ValueError("the horizon must be at least one period")
        times = self.history.next_times(horizon)
        return self.fitted.predict(self._future(times, future_regressors)).frame(times)

    def update(self, observations: pl.DataFrame) -> ArrivalModel:
        """The same model conditioned on newer arrivals (parameters kept; :func:`fit_arrival_model` refits).

        Parameters
        ----------
        observations
            An arrival series with the same regressor columns, starting with the period after
            :attr:`last_period`.

        Raises
        ------
        SeriesError
            When the observations do not follow on from the history or miss a column.
        """
        if observations.height == 0:
            return self
        new = arrival_history(
            observations, self.freq, self.regressors, self.holiday_country, self.holiday_subdivision
        )
        expected = self.history.next_times(1)[0]
        if new.t[0] != expected:
            raise SeriesError(
                "t",
                f"new observations must start at {_as_datetime(expected)}, not {_as_datetime(new.t[0])}",
            )
        history = ArrivalHistory(
            freq=self.freq,
            t=np.concatenate([self.history.t, new.t]),
            arrivals=np.concatenate([self.history.arrivals, new.arrivals]),
            regressors={
                name: np.concatenate([values, new.regressors[name]])
                for name, values in self.history.regressors.items()
            },
        )
        return replace(self, fitted=self.fitted.update(history), history=history)


def _as_datetime(value: np.datetime64) -> datetime:
    return datetime.fromisoformat(str(value.astype("datetime64[us]")))
