"""Arrivals by service: one statsmodels model per arrival stream, chosen by rolling-origin backtest.

An **arrival stream** is the encounters that enter the hospital through one unit under one service, as the
census Monte Carlo routes them and the hospital model takes them:

- ED attendances that are admitted under each service (``entry_unit="ED"``, ``service="cardiology"``...),
  counted at their ED arrival, which is where the hospital model's emergency admissions of a service are
  counted too;
- ED attendances that go home (``service`` null);
- admissions that begin elsewhere (elective patients entering recovery from theatre, direct admissions),
  by the unit they enter and their service.

For each stream the daily totals on the hospital's local calendar are forecast by a model chosen among
statsmodels candidates (:func:`service_candidates`: Poisson count regression with a moving level, ETS,
unobserved components; weekly seasonality always, yearly seasonality once there are 18 months of history,
public holidays and any given regressor such as temperature), by the mean absolute error of its forecasts
from rolling origins over the last weeks of history (:func:`patients.forecast.fit_arrival_model`). Each
day's total is then shared out over its hours by the stream's hour-of-week profile. A stream with too
little history keeps the **hour-of-week mean** of its last weeks instead, and the selection table says so.

Examples
--------
>>> arrivals = arrivals_from_segments(segments, origin)  # doctest: +SKIP
>>> model = fit_service_arrivals(arrivals, origin, calendar=ArrivalCalendar.of(scenario))  # doctest: +SKIP
>>> model.forecast(origin, hours=336)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from numpy.typing import NDArray

from patients.forecast.arrivals import MODEL_SELECTION_SCHEMA, ArrivalModel, fit_arrival_model
from patients.forecast.base import ArrivalModelSpec, count_predictive, negative_binomial_dispersion
from patients.forecast.models import (
    CountRegressionSpec,
    ExponentialSmoothingSpec,
    UnobservedComponentsSpec,
)
from patients.forecast.series import SeriesError
from scenarios.schema import Scenario

__all__ = [
    "ARRIVALS_SCHEMA",
    "FALLBACK_MODEL",
    "SERVICE_ARRIVAL_FORECAST_SCHEMA",
    "SERVICE_MODEL_SELECTION_SCHEMA",
    "ArrivalCalendar",
    "ArrivalStream",
    "HourlyArrivals",
    "ServiceArrivalModel",
    "arrivals_from_events",
    "arrivals_from_segments",
    "fit_service_arrivals",
    "service_candidates",
]

ARRIVALS_SCHEMA: dict[str, pl.DataType] = {
    "encounter_id": pl.String(),
    "arrived_at": pl.Datetime("us", "UTC"),  # first event of the encounter (ED registration, admission)
    "entry_unit": pl.String(),  # the unit it entered
    "service": pl.String(),  # service admitted under, as known at the reading; null when not admitted
}
"""One row per encounter: when and where it entered the hospital, and under which service."""

SERVICE_ARRIVAL_FORECAST_SCHEMA: dict[str, pl.DataType] = {
    "t": pl.Datetime("us", "UTC"),  # start of the hour
    "entry_unit": pl.String(),
    "service": pl.String(),  # null: ED attendances that go home
    "mean": pl.Float64(),  # expected arrivals in the hour
    "p05": pl.Float64(),
    "p50": pl.Float64(),
    "p95": pl.Float64(),
    "model": pl.String(),  # the stream's chosen model, or FALLBACK_MODEL
}
"""One row per arrival stream and hour: the forecast arrivals in that hour (mean and 90 % interval)."""

SERVICE_MODEL_SELECTION_SCHEMA: dict[str, pl.DataType] = {
    "entry_unit": pl.String(),
    "service": pl.String(),
    "days": pl.Int64(),  # whole days of history the stream was fitted on
    "arrivals_per_day": pl.Float64(),  # their mean
    **MODEL_SELECTION_SCHEMA,
}
"""One row per stream and candidate model (validation scores, chosen or not, and why not)."""

FALLBACK_MODEL = "hour_of_week_mean"
"""Model name of a stream forecast by its recent hour-of-week mean (too little history for the others)."""

MIN_TRAINING_DAYS = 28
"""Days the candidates are fitted on before the validation window, at least [days]."""

VALIDATION_DAYS = 56
"""Longest validation window at the end of the history (weekly origins) [days]."""

YEARLY_SEASONALITY_DAYS = 548
"""History from which the candidates include yearly Fourier terms (18 months) [days]."""

TREND_DAYS = 365
"""History from which the count regression includes a linear trend [days]."""

FALLBACK_DAYS = 56
"""Days of recent history the hour-of-week mean of a fallback stream is taken over [days]."""

SETTLE_HOURS = 24.0
"""An ED attendance's service is known once it is admitted: days ending less than this before the
reading are left out of the history, so that their admissions are all counted [hours]."""

_MIN_ARRIVALS_PER_WEEK = 2.0  # below this a stream has too few arrivals for a model
_PROFILE_PRIOR_ARRIVALS = 50.0  # shrinks each weekday's hourly shares towards the hour-of-day profile
_Z90 = 1.6448536269514722


@dataclass(frozen=True)
class ArrivalCalendar:
    """The hospital's clock for arrivals: its time zone (days and hours of the week) and public holidays.

    Attributes
    ----------
    timezone
        IANA zone of the hospital's wall clock (e.g. ``"Europe/London"``).
    holiday_country, holiday_subdivision
        Public holidays (``holidays`` package) used as a regressor; ``None`` for none.
    """

    timezone: str = "UTC"
    holiday_country: str | None = None
    holiday_subdivision: str | None = None

    @classmethod
    def of(cls, scenario: Scenario) -> ArrivalCalendar:
        """The calendar of a scenario's hospital."""
        season = scenario.hospital.seasonality
        return cls(scenario.hospital.timezone, season.holidays_country, season.holidays_subdivision)


@dataclass(frozen=True)
class ArrivalStream:
    """One arrival stream: where its encounters enter, under which service, and its fitted forecast.

    Attributes
    ----------
    entry_unit, service
        The stream (``service`` ``None`` for ED attendances that go home).
    model
        The chosen model of its daily totals; ``None`` when it has too little history (then
        ``hour_of_week_mean`` is its forecast).
    share
        Share of a weekday's arrivals in each hour of that day, by local hour of the week (168 values, each
        day's 24 adding up to 1).
    hour_dispersion
        Negative binomial dispersion of the hourly counts around day total × share (training).
    hour_of_week_mean
        Mean arrivals per local hour of the week over the last :data:`FALLBACK_DAYS` days.
    note
        Why the stream has no model (empty when it has one).
    """

    entry_unit: str
    service: str | None
    model: ArrivalModel | None
    share: NDArray[np.float64]
    hour_dispersion: float
    hour_of_week_mean: NDArray[np.float64]
    note: str = ""

    @property
    def model_name(self) -> str:
        """The chosen model's name, or :data:`FALLBACK_MODEL`."""
        return self.model.name if self.model is not None else FALLBACK_MODEL


@dataclass(frozen=True)
class HourlyArrivals:
    """Forecast arrivals of every stream on an hourly grid, as the census Monte Carlo takes them.

    Attributes
    ----------
    start
        First hour [UTC].
    mean
        Expected arrivals per stream and hour, shape ``(streams, hours)``.
    day
        Local day of each hour, counted from the first forecast day (``hours`` values).
    day_excess
        Variance of each stream's daily total beyond Poisson, relative to its mean squared (the squared
        coefficient of variation of the daily rate), shape ``(streams, days)``; ``nan`` for fallback streams.
    modelled
        Whether each stream has a fitted model.
    """

    start: datetime
    mean: NDArray[np.float64]
    day: NDArray[np.int64]
    day_excess: NDArray[np.float64]
    modelled: NDArray[np.bool_]


@dataclass(frozen=True)
class ServiceArrivalModel:
    """Fitted arrival models of every stream; forecasts arrivals by stream and hour.

    Attributes
    ----------
    calendar
        The hospital's clock.
    streams
        One per stream, ED streams first.
    fitted_until
        The reading the model was fitted at [UTC].
    first_forecast_day
        First local day after the history (the settled days end the day before).
    selection
        :data:`SERVICE_MODEL_SELECTION_SCHEMA`.
    regressors
        Daily regressors given at fitting (local day ``t`` and columns), with their future values.
    """

    calendar: ArrivalCalendar
    streams: tuple[ArrivalStream, ...]
    fitted_until: datetime
    first_forecast_day: date
    selection: pl.DataFrame
    regressors: pl.DataFrame | None = None

    def stream_index(self, entry_unit: str, service: str | None) -> int | None:
        """Position of a stream in :attr:`streams`, or ``None`` when there is no such stream."""
        for number, stream in enumerate(self.streams):
            if stream.entry_unit == entry_unit and stream.service == service:
                return number
        return None

    def hourly(self, start: datetime, hours: int) -> HourlyArrivals:
        """Expected arrivals of every stream for ``hours`` hours from ``start`` (see :class:`HourlyArrivals`).

        Parameters
        ----------
        start
            First hour [UTC, timezone-aware]; not before :attr:`first_forecast_day`.
        hours
            Hours to forecast.

        Raises
        ------
        ValueError
            When ``start`` lies inside the history or has no time zone.
        """
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        if hours < 1:
            raise ValueError(f"hours must be at least 1, got {hours}")
        local_date, position = _local_hours(start, hours, self.calendar.timezone)
        day = np.array([(d - self.first_forecast_day).days for d in local_date], dtype=np.int64)
        if day.min() < 0:
            raise ValueError(
                f"start {start.isoformat()} lies inside the history "
                f"(forecasts begin {self.first_forecast_day})"
            )
        days = int(day.max()) + 1
        mean = np.zeros((len(self.streams), hours))
        excess = np.full((len(self.streams), days), np.nan)
        modelled = np.zeros(len(self.streams), dtype=bool)
        for number, stream in enumerate(self.streams):
            if stream.model is None:
                mean[number] = stream.hour_of_week_mean[position]
                continue
            daily = stream.model.forecast(days, future_regressors=self.regressors)
            day_mean = np.maximum(daily["mean"].to_numpy(), 1e-9)
            spread = (daily["p95"].to_numpy() - daily["p05"].to_numpy()) / (2.0 * _Z90)
            excess[number] = np.maximum(spread**2 - day_mean, 0.0) / day_mean**2
            mean[number] = day_mean[day] * stream.share[position]
            modelled[number] = True
        return HourlyArrivals(start=start, mean=mean, day=day, day_excess=excess, modelled=modelled)

    def forecast(self, start: datetime, hours: int) -> pl.DataFrame:
        """Forecast arrivals by stream and hour, with 90 % intervals.

        The interval of an hour combines the daily forecast's spread with the hour-to-hour noise around the
        hour's share (negative binomial); a fallback stream's hours are Poisson around its hour-of-week mean.

        Parameters
        ----------
        start
            First hour [UTC, timezone-aware].
        hours
            Hours to forecast.

        Returns
        -------
        polars.DataFrame
            :data:`SERVICE_ARRIVAL_FORECAST_SCHEMA`, one row per stream and hour.
        """
        grid = self.hourly(start, hours)
        first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        times = [first + timedelta(hours=k) for k in range(hours)]
        frames = []
        for number, stream in enumerate(self.streams):
            mean = grid.mean[number]
            if grid.modelled[number]:
                dispersion = stream.hour_dispersion + grid.day_excess[number][grid.day]
            else:
                dispersion = np.zeros(hours)
            predictive = count_predictive(mean, dispersion)
            frames.append(
                pl.DataFrame(
                    {
                        "t": times,
                        "entry_unit": [stream.entry_unit] * hours,
                        "service": pl.Series([stream.service] * hours, dtype=pl.String),
                        "mean": mean,
                        "p05": predictive.p05,
                        "p50": predictive.p50,
                        "p95": predictive.p95,
                        "model": [stream.model_name] * hours,
                    },
                    schema=SERVICE_ARRIVAL_FORECAST_SCHEMA,
                )
            )
        if not frames:
            return pl.DataFrame(schema=SERVICE_ARRIVAL_FORECAST_SCHEMA)
        return pl.concat(frames)


def service_candidates(history_days: int) -> tuple[ArrivalModelSpec, ...]:
    """The candidate models of a stream with ``history_days`` of daily totals.

    Weekly seasonality always; yearly Fourier terms once there are :data:`YEARLY_SEASONALITY_DAYS` (a
    shorter history cannot tell a season from a level change) and a trend after a year. ETS starts from
    the heuristic initial states, which keeps a dozen streams within seconds.
    """
    yearly = 3 if history_days >= YEARLY_SEASONALITY_DAYS else 0
    return (
        CountRegressionSpec(fourier_order=yearly, trend=history_days >= TREND_DAYS),
        ExponentialSmoothingSpec(initialization="heuristic"),
        UnobservedComponentsSpec(fourier_order=yearly),
    )


def arrivals_from_segments(segments: pl.DataFrame, until: datetime) -> pl.DataFrame:
    """The arrivals of a history of unit segments, as known at ``until``.

    Parameters
    ----------
    segments
        :data:`patients.los.SEGMENTS_SCHEMA`.
    until
        The reading: encounters that began later are left out; a service counts only when the encounter
        was admitted before it [UTC].

    Returns
    -------
    polars.DataFrame
        :data:`ARRIVALS_SCHEMA`, sorted by arrival.
    """
    first = segments.filter((pl.col("segment") == 0) & (pl.col("started_at") < until))
    known = pl.col("admitted_at").is_not_null() & (pl.col("admitted_at") < until)
    return (
        first.select(
            "encounter_id",
            pl.col("started_at").alias("arrived_at"),
            pl.col("unit").alias("entry_unit"),
            pl.when(known).then(pl.col("service")).otherwise(None).alias("service"),
        )
        .cast(pl.Schema(ARRIVALS_SCHEMA))
        .sort("arrived_at")
    )


def arrivals_from_events(events: pl.DataFrame, until: datetime) -> pl.DataFrame:
    """The arrivals of a history of register and admit events (fewer rows to read than all ADT).

    The first register or admit event of an encounter with a unit gives its arrival and entry unit; the
    service of its first admission before ``until`` its service.

    Parameters
    ----------
    events
        Events with :data:`patients.events.EVENT_SCHEMA` (other kinds are ignored).
    until
        The reading [UTC].

    Returns
    -------
    polars.DataFrame
        :data:`ARRIVALS_SCHEMA`, sorted by arrival.
    """
    entering = events.filter(
        pl.col("kind").is_in(["register", "admit"])
        & (pl.col("occurred_at") < until)
        & pl.col("encounter_id").is_not_null()
    ).sort("occurred_at", pl.col("kind") != "register")
    firsts = (
        entering.filter(pl.col("unit").is_not_null())
        .group_by("encounter_id")
        .agg(pl.col("occurred_at").first().alias("arrived_at"), pl.col("unit").first().alias("entry_unit"))
    )
    services = (
        entering.filter((pl.col("kind") == "admit") & pl.col("service").is_not_null())
        .group_by("encounter_id")
        .agg(pl.col("service").first())
    )
    return (
        firsts.join(services, on="encounter_id", how="left")
        .select(list(ARRIVALS_SCHEMA))
        .cast(pl.Schema(ARRIVALS_SCHEMA))
        .sort("arrived_at")
    )


def fit_service_arrivals(
    arrivals: pl.DataFrame,
    until: datetime,
    *,
    calendar: ArrivalCalendar | None = None,
    since: datetime | None = None,
    horizon_days: int = 16,
    regressors: pl.DataFrame | None = None,
    candidates: Sequence[ArrivalModelSpec] | None = None,
    settle_hours: float = SETTLE_HOURS,
) -> ServiceArrivalModel:
    """Fit one arrival model per stream on the history before ``until``, each chosen by backtest.

    Parameters
    ----------
    arrivals
        :data:`ARRIVALS_SCHEMA` (e.g. :func:`arrivals_from_segments`); later arrivals are ignored.
    until
        The reading [UTC, timezone-aware]. The history ends at the last local midnight at least
        ``settle_hours`` before it.
    calendar
        The hospital's clock (default UTC, no holidays).
    since
        Start of the complete record [UTC]; the history begins at the first local midnight after it.
        Default: the first arrival.
    horizon_days
        Longest forecast the models are chosen and calibrated for [days]; longer ones are allowed.
    regressors
        Optional daily regressors (e.g. a temperature forecast): a local day ``t`` (date or datetime) and
        numeric columns, covering the history and the forecast days.
    candidates
        Models to choose from; default :func:`service_candidates` of the history's length.
    settle_hours
        See :data:`SETTLE_HOURS`.

    Returns
    -------
    ServiceArrivalModel
        Every stream seen in the history, with its model or the hour-of-week mean fallback.

    Examples
    --------
    >>> model = fit_service_arrivals(arrivals, origin, calendar=ArrivalCalendar("Europe/London"))
    ... # doctest: +SKIP
    >>> model.selection.filter(pl.col("selected"))  # doctest: +SKIP
    """
    if until.tzinfo is None:
        raise ValueError("until must be timezone-aware (UTC)")
    calendar = calendar or ArrivalCalendar()
    known = arrivals.filter(pl.col("arrived_at") < until)
    zone = calendar.timezone
    local_until = (until - timedelta(hours=settle_hours)).astimezone(_zone(zone)).date()
    first_arrival = known["arrived_at"].min() if known.height else None
    begin = since if since is not None else first_arrival
    if isinstance(begin, datetime):
        local_begin = begin.astimezone(_zone(zone))
        first_day = local_begin.date() + timedelta(days=0 if local_begin.time() == datetime.min.time() else 1)
    else:
        first_day = local_until
    days = max((local_until - first_day).days, 0)
    local = known.with_columns(
        pl.col("arrived_at").dt.convert_time_zone(zone).dt.replace_time_zone(None).alias("_local")
    ).with_columns(
        pl.col("_local").dt.date().alias("_day"),
        (
            (pl.col("_local").dt.weekday().cast(pl.Int64) - 1) * 24
            + pl.col("_local").dt.hour().cast(pl.Int64)
        ).alias("_how"),
    )
    in_history = local.filter((pl.col("_day") >= first_day) & (pl.col("_day") < local_until))
    # streams of the history only: an extract also holds stays begun before its record is complete,
    # whose first event in it may be a late admission to a ward (not an arrival)
    stream_keys = (
        in_history.select("entry_unit", "service")
        .unique()
        .sort([pl.col("entry_unit"), pl.col("service")], nulls_last=False)
        .iter_rows()
    )
    streams: list[ArrivalStream] = []
    selections: list[pl.DataFrame] = []
    day_range = [first_day + timedelta(days=k) for k in range(days)]
    for entry_unit, service in _ed_first(list(stream_keys), in_history):
        mine = in_history.filter(
            (pl.col("entry_unit") == entry_unit)
            & (pl.col("service").is_null() if service is None else pl.col("service") == service)
        )
        stream, selection = _fit_stream(
            entry_unit,
            service,
            mine,
            day_range,
            until=until,
            calendar=calendar,
            horizon_days=horizon_days,
            regressors=regressors,
            candidates=candidates,
        )
        streams.append(stream)
        selections.append(selection)
    selection_frame = (
        pl.concat(selections) if selections else pl.DataFrame(schema=SERVICE_MODEL_SELECTION_SCHEMA)
    )
    return ServiceArrivalModel(
        calendar=calendar,
        streams=tuple(streams),
        fitted_until=until,
        first_forecast_day=local_until,
        selection=selection_frame,
        regressors=_regressor_frame(regressors),
    )


def _ed_first(keys: list[tuple[str, str | None]], arrivals: pl.DataFrame) -> list[tuple[str, str | None]]:
    """Streams ordered by entry unit, busiest unit first (the ED), then by service (home first)."""
    volume = dict(arrivals.group_by("entry_unit").len().iter_rows())
    return sorted(keys, key=lambda key: (-volume.get(key[0], 0), key[0], key[1] or ""))


def _fit_stream(
    entry_unit: str,
    service: str | None,
    arrivals: pl.DataFrame,
    day_range: list[date],
    *,
    until: datetime,
    calendar: ArrivalCalendar,
    horizon_days: int,
    regressors: pl.DataFrame | None,
    candidates: Sequence[ArrivalModelSpec] | None,
) -> tuple[ArrivalStream, pl.DataFrame]:
    """Fit one stream: daily totals → chosen model; hour-of-week shares; the fallback hour-of-week mean."""
    days = len(day_range)
    day_index = {day: number for number, day in enumerate(day_range)}
    totals = np.zeros(days)
    hourly = np.zeros((days, 24))
    for day, how in arrivals.select("_day", "_how").iter_rows():
        number = day_index.get(day)
        if number is not None:
            totals[number] += 1.0
            hourly[number, how % 24] += 1.0
    weekday = np.array([day.weekday() for day in day_range], dtype=np.int64)
    share = _hour_of_week_shares(hourly, weekday)
    recent = slice(max(days - FALLBACK_DAYS, 0), days)
    hour_of_week_mean = _hour_of_week_mean(hourly[recent], weekday[recent])
    expected = totals[:, None] * share.reshape(7, 24)[weekday]
    hour_dispersion = negative_binomial_dispersion(hourly.ravel(), expected.ravel()) if days else 0.0
    per_day = float(totals.mean()) if days else 0.0
    base = {
        "entry_unit": entry_unit,
        "service": service,
        "days": days,
        "arrivals_per_day": per_day,
    }

    def fallback(note: str) -> tuple[ArrivalStream, pl.DataFrame]:
        row = {**base, "model": FALLBACK_MODEL, "mae": None, "rmse": None, "mean_pinball_loss": None}
        row.update({"coverage_90": None, "forecasts": 0, "selected": True, "note": note})
        stream = ArrivalStream(entry_unit, service, None, share, hour_dispersion, hour_of_week_mean, note)
        return stream, pl.DataFrame([row], schema=SERVICE_MODEL_SELECTION_SCHEMA)

    needed = MIN_TRAINING_DAYS + horizon_days
    if days < needed:
        return fallback(f"{days} days of history, {needed} needed for a model")
    if per_day * 7 < _MIN_ARRIVALS_PER_WEEK:
        return fallback(f"{per_day * 7:.1f} arrivals a week, too few for a model")
    series = pl.DataFrame(
        {"t": [datetime.combine(day, datetime.min.time()) for day in day_range], "arrivals": totals},
        schema={"t": pl.Datetime("us"), "arrivals": pl.Float64()},
    )
    names: list[str] = []
    if regressors is not None:
        frame = _regressor_frame(regressors)
        assert frame is not None
        names = [column for column in frame.columns if column != "t"]
        series = series.join(frame, on="t", how="left")
        missing = [name for name in names if series[name].null_count()]
        if missing:
            raise SeriesError(missing[0], "regressors must cover every day of the history")
    validation = min(VALIDATION_DAYS, days - MIN_TRAINING_DAYS)
    try:
        model = fit_arrival_model(
            series,
            "day",
            names,
            horizon=horizon_days,
            candidates=candidates if candidates is not None else service_candidates(days),
            holiday_country=calendar.holiday_country,
            holiday_subdivision=calendar.holiday_subdivision,
            validation_periods=validation,
            validation_step=7,
            min_training_periods=MIN_TRAINING_DAYS,
        )
    except (ValueError, np.linalg.LinAlgError) as error:
        return fallback(f"no model could be fitted: {error}")
    selection = model.selection.select(
        *(pl.lit(value).alias(name) for name, value in base.items()), *MODEL_SELECTION_SCHEMA
    ).cast(pl.Schema(SERVICE_MODEL_SELECTION_SCHEMA))
    stream = ArrivalStream(entry_unit, service, model, share, hour_dispersion, hour_of_week_mean)
    return stream, selection


def _hour_of_week_shares(hourly: NDArray[np.float64], weekday: NDArray[np.int64]) -> NDArray[np.float64]:
    """Each weekday's hourly shares, shrunk towards the hour-of-day profile of all days (168 values)."""
    by_weekday = np.zeros((7, 24))
    np.add.at(by_weekday, weekday, hourly)
    pooled = by_weekday.sum(axis=0)
    profile = pooled / pooled.sum() if pooled.sum() > 0 else np.full(24, 1.0 / 24.0)
    prior = _PROFILE_PRIOR_ARRIVALS * profile
    shares = (by_weekday + prior) / (by_weekday.sum(axis=1, keepdims=True) + _PROFILE_PRIOR_ARRIVALS)
    return np.asarray(shares.ravel(), dtype=np.float64)


def _hour_of_week_mean(hourly: NDArray[np.float64], weekday: NDArray[np.int64]) -> NDArray[np.float64]:
    """Mean arrivals per local hour of the week (168 values; 0 for weekdays not seen)."""
    sums = np.zeros((7, 24))
    np.add.at(sums, weekday, hourly)
    counts = np.bincount(weekday, minlength=7).astype(np.float64)
    means = np.where(counts[:, None] > 0, sums / np.maximum(counts[:, None], 1.0), 0.0)
    return np.asarray(means.ravel(), dtype=np.float64)


def _regressor_frame(regressors: pl.DataFrame | None) -> pl.DataFrame | None:
    """Daily regressors with ``t`` as a naive midnight datetime and Float64 columns."""
    if regressors is None:
        return None
    if "t" not in regressors.columns:
        raise SeriesError("t", "daily regressors need a 't' column with the local day")
    values = regressors.get_column("t")
    day = values.cast(pl.Date) if values.dtype != pl.Date else values
    return regressors.with_columns(day.cast(pl.Datetime("us")).alias("t")).with_columns(
        pl.exclude("t").cast(pl.Float64)
    )


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local_hours(start: datetime, hours: int, zone: str) -> tuple[list[date], NDArray[np.int64]]:
    """Local day and local hour of the week (Monday 00 = 0) of ``hours`` UTC hours from ``start``."""
    first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    tz = _zone(zone)
    local = [(first + timedelta(hours=k)).astimezone(tz) for k in range(hours)]
    position = np.array([moment.weekday() * 24 + moment.hour for moment in local], dtype=np.int64)
    return [moment.date() for moment in local], position
