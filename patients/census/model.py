"""What the census Monte Carlo learns from history: arrival rates, routes and unit stays.

Fitted by :func:`fit_census_model` from the unit segments of the history before the forecast origin:

- **arrival streams**: new encounters by the unit they enter (the ED for attendances, the admitting unit
  for direct and elective admissions) and the service they are admitted under (none for ED attendances
  sent home), forecast by the arrival model of each stream (:mod:`patients.forecast.services`:
  statsmodels models chosen by rolling-origin backtest, weekly and yearly seasonality, holidays); a
  stream with too little history for a model keeps its hour-of-week mean over the last
  ``training_days``, with a day-level gamma multiplier shared by those streams for the extra-Poisson
  variation of busy days;
- **routes**: whole encounter trajectories of recent history (unit, start and end relative to arrival,
  acuity band), drawn for each forecast arrival among those of the same stream that arrived at the same
  hour of the day. This routes arrivals along the pathways as the hospital really ran them;
- **unit stays**: completed segments per unit (duration, next unit, next band), from which a patient in
  hospital now draws when it next moves, conditioned on the time already spent in the unit;
- the **length-of-stay model** (:mod:`patients.los`) for the discharge of patients in hospital now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import polars as pl
from numpy.typing import NDArray

from patients.census.schema import ACUITY_BANDS
from patients.forecast.services import (
    ArrivalCalendar,
    ServiceArrivalModel,
    arrivals_from_segments,
    fit_service_arrivals,
)
from patients.los import LengthOfStayModel, fit_length_of_stay
from patients.los.segments import complete_from

TRAINING_DAYS = 56
"""Days of history before the origin that arrival rates and routes are learnt from [days]."""

LIBRARY_GAP_DAYS = 14
"""Routes come from encounters that began at least this long before the origin [days], so that the
route of a stay still open at the origin is known for this long."""

_MIN_SAME_HOUR = 5  # fewer routes than this entering a unit at an hour of the day: use every hour
_NO_SERVICE = "\x00none"  # join key of the streams without a service (ED attendances sent home)


@dataclass(frozen=True)
class UnitStayLibrary:
    """Completed unit segments, per unit, sorted by duration.

    Attributes
    ----------
    pointer
        ``pointer[u]:pointer[u+1]`` are the segments of unit ``u``.
    duration_hours
        Time spent in the unit [hours].
    next_unit
        Index of the unit moved to, ``-1`` when the segment ended the stay.
    next_band
        Acuity band index in the next unit (``-1`` when none).
    """

    pointer: NDArray[np.int64]
    duration_hours: NDArray[np.float64]
    next_unit: NDArray[np.int64]
    next_band: NDArray[np.int64]


@dataclass(frozen=True)
class RouteLibrary:
    """Encounter trajectories relative to their arrival, grouped by entry unit and hour of the day.

    Attributes
    ----------
    pointer
        ``pointer[r]:pointer[r+1]`` are the segments of route ``r``.
    unit, band
        Unit and acuity band index of each segment.
    start_hours, end_hours
        Segment start and end after the arrival [hours]; ``inf`` for a segment still open.
    entry_unit, arrival_hour
        Unit and UTC hour of the day each route began in.
    stream
        Arrival stream of each route (index into :attr:`CensusModel.streams`).
    first_duration_hours
        Length of each route's first segment [hours].
    by_entry_hour
        ``by_entry_hour[s, h]`` = (first, count) into ``order``: routes of stream ``s`` that arrived at
        UTC hour ``h``.
    order
        Route numbers grouped by stream and hour.
    """

    pointer: NDArray[np.int64]
    unit: NDArray[np.int64]
    band: NDArray[np.int64]
    start_hours: NDArray[np.float64]
    end_hours: NDArray[np.float64]
    entry_unit: NDArray[np.int64]
    arrival_hour: NDArray[np.int64]
    stream: NDArray[np.int64]
    first_duration_hours: NDArray[np.float64]
    by_entry_hour: NDArray[np.int64]
    order: NDArray[np.int64]


@dataclass(frozen=True)
class CensusModel:
    """Everything the census Monte Carlo needs, learnt from history before ``fitted_until``.

    Attributes
    ----------
    units
        Unit ids, the index every array uses (the scenario's units, then others seen in history).
    length_of_stay
        Remaining-stay model of admitted patients.
    streams
        Arrival streams: (entry unit index, service or ``None``), the index :attr:`arrivals_per_hour`
        and the routes use.
    arrivals_per_hour
        Mean new encounters of each stream by hour of the week (Monday 00 UTC = 0) over the training
        days, shape ``(streams, 168)``: the forecast of streams without an arrival model.
    day_factor_shape
        Shape of the gamma day multiplier of those streams (mean 1, variance ``1 / shape``); ``inf`` for
        none.
    unit_stays, routes
        See :class:`UnitStayLibrary` and :class:`RouteLibrary`.
    fitted_until
        End of the history the model saw [UTC].
    arrival_model
        The arrival forecast by stream (``None``: every stream uses its hour-of-week mean).
    stream_model_row
        For each stream, its row in ``arrival_model.streams`` when that has a fitted model, else -1.
    """

    units: tuple[str, ...]
    length_of_stay: LengthOfStayModel
    arrivals_per_hour: NDArray[np.float64]
    day_factor_shape: float
    unit_stays: UnitStayLibrary
    routes: RouteLibrary
    fitted_until: datetime
    details: dict[str, float] = field(default_factory=dict)
    streams: tuple[tuple[int, str | None], ...] = ()
    arrival_model: ServiceArrivalModel | None = None
    stream_model_row: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64))


def _hours(delta: pl.Expr) -> pl.Expr:
    return delta.dt.total_microseconds() / 3.6e9


def fit_census_model(
    segments: pl.DataFrame,
    units: tuple[str, ...],
    until: datetime,
    *,
    training_days: int = TRAINING_DAYS,
    length_of_stay: LengthOfStayModel | None = None,
    arrival_model: ServiceArrivalModel | None = None,
    arrival_calendar: ArrivalCalendar | None = None,
    forecast_arrivals: bool = True,
) -> CensusModel:
    """Learn arrival streams, routes and unit stays from the segments of history before ``until``.

    Parameters
    ----------
    segments
        :data:`patients.los.SEGMENTS_SCHEMA` (anything after ``until`` is cut off here).
    units
        Unit ids in forecast order (usually the scenario's).
    until
        The forecast origin: the model sees only what was known then [UTC].
    training_days
        Days before ``until`` for the routes and the hour-of-week mean arrivals.
    length_of_stay
        A fitted stay model to reuse; fitted here on the same history when absent.
    arrival_model
        A fitted arrival model by stream to reuse (e.g. fitted on a longer history); fitted here on the
        same history when absent and ``forecast_arrivals`` is true.
    arrival_calendar
        The hospital's clock for the arrival models (time zone, holidays); default UTC without holidays.
    forecast_arrivals
        Forecast arrivals with the statsmodels models; ``False`` keeps every stream's hour-of-week mean.

    Returns
    -------
    CensusModel

    Raises
    ------
    ValueError
        When the history before ``until`` is shorter than a week.
    """
    known = _as_known_at(segments, until)
    if known.height == 0:
        raise ValueError("segments: no unit segment before the forecast origin")
    extra = sorted(set(known["unit"].unique().to_list()) - set(units))
    all_units = tuple(units) + tuple(extra)
    unit_index = {unit: number for number, unit in enumerate(all_units)}
    band_index = {band: number for number, band in enumerate(ACUITY_BANDS)}
    known = known.with_columns(
        pl.col("unit").replace_strict(unit_index, return_dtype=pl.Int64).alias("_unit"),
        pl.col("next_unit").replace_strict(unit_index, default=-1, return_dtype=pl.Int64).alias("_next"),
        pl.col("acuity_band").replace_strict(band_index, default=0, return_dtype=pl.Int64).alias("_band"),
        # the service an encounter is admitted under is known once it is admitted
        pl.when(pl.col("admitted_at").is_not_null())
        .then(pl.col("service"))
        .otherwise(None)
        .alias("_service"),
    )
    first_seen = complete_from(known)
    assert first_seen is not None
    window_days = min(float(training_days), (until - first_seen).total_seconds() / 86400.0)
    if window_days < 7:
        raise ValueError(f"segments: {window_days:.1f} days of history before the origin; a week is needed")
    window_start = until - timedelta(days=window_days)

    if arrival_model is None and forecast_arrivals:
        arrival_model = fit_service_arrivals(
            arrivals_from_segments(known.filter(pl.col("started_at") >= first_seen), until),
            until,
            calendar=arrival_calendar,
            since=first_seen,
        )
    arrivals = known.filter((pl.col("segment") == 0) & (pl.col("started_at") >= window_start))
    streams = _streams(arrivals, arrival_model, all_units)
    stream_table = pl.DataFrame(
        {
            "_unit": [unit for unit, _ in streams],
            "_key": [_NO_SERVICE if service is None else service for _, service in streams],
            "_stream": list(range(len(streams))),
        },
        schema={"_unit": pl.Int64, "_key": pl.String, "_stream": pl.Int64},
    )
    first_rows = known.filter(pl.col("segment") == 0).select(
        "encounter_id", "_unit", pl.col("_service").fill_null(_NO_SERVICE).alias("_key")
    )
    known = known.join(
        first_rows.join(stream_table, on=["_unit", "_key"], how="left").select("encounter_id", "_stream"),
        on="encounter_id",
        how="left",
    ).with_columns(pl.col("_stream").fill_null(-1))
    arrivals = known.filter((pl.col("segment") == 0) & (pl.col("started_at") >= window_start))
    rates, shape = _arrival_rates(arrivals, len(streams), window_start, window_days)
    stays = _unit_stays(known, len(all_units), until)
    routes = _routes(
        known, len(all_units), len(streams), window_start, until - timedelta(days=LIBRARY_GAP_DAYS)
    )
    model = length_of_stay if length_of_stay is not None else fit_length_of_stay(known, until, first_seen)
    model_rows = np.full(len(streams), -1, dtype=np.int64)
    if arrival_model is not None:
        for number, (unit, service) in enumerate(streams):
            row = arrival_model.stream_index(all_units[unit], service)
            if row is not None and arrival_model.streams[row].model is not None:
                model_rows[number] = row
    return CensusModel(
        units=all_units,
        length_of_stay=model,
        arrivals_per_hour=rates,
        day_factor_shape=shape,
        unit_stays=stays,
        routes=routes,
        fitted_until=until,
        details={
            "training_days": window_days,
            "routes": float(routes.entry_unit.size),
            "streams": float(len(streams)),
            "streams_modelled": float((model_rows >= 0).sum()),
        },
        streams=streams,
        arrival_model=arrival_model,
        stream_model_row=model_rows,
    )


def _streams(
    arrivals: pl.DataFrame, arrival_model: ServiceArrivalModel | None, units: tuple[str, ...]
) -> tuple[tuple[int, str | None], ...]:
    """Streams seen in the training window, then those of the arrival model not seen there."""
    keys: list[tuple[int, str | None]] = sorted(
        {(int(unit), service) for unit, service in arrivals.select("_unit", "_service").iter_rows()},
        key=lambda key: (key[0], key[1] or ""),
    )
    if arrival_model is not None:
        index = {unit: number for number, unit in enumerate(units)}
        for stream in arrival_model.streams:
            key = (index.get(stream.entry_unit, -1), stream.service)
            if key[0] >= 0 and key not in keys and stream.model is not None:
                keys.append(key)
    return tuple(keys)


def _as_known_at(segments: pl.DataFrame, until: datetime) -> pl.DataFrame:
    """Segments as they were known at ``until``: later starts dropped, later ends and moves unknown."""
    later = pl.col("ended_at") > until
    return segments.filter(pl.col("started_at") < until).with_columns(
        pl.when(later).then(None).otherwise(pl.col("ended_at")).alias("ended_at"),
        pl.when(later).then(None).otherwise(pl.col("next_unit")).alias("next_unit"),
        pl.when(pl.col("discharged_at") > until)
        .then(None)
        .otherwise(pl.col("discharged_at"))
        .alias("discharged_at"),
        pl.when(pl.col("admitted_at") > until)
        .then(None)
        .otherwise(pl.col("admitted_at"))
        .alias("admitted_at"),
    )


def _arrival_rates(
    arrivals: pl.DataFrame, n_streams: int, window_start: datetime, window_days: float
) -> tuple[NDArray[np.float64], float]:
    moments = arrivals["started_at"]
    weekday = moments.dt.weekday().to_numpy().astype(np.int64) - 1  # Monday 0 (polars gives int8)
    hour_of_week = weekday * 24 + moments.dt.hour().to_numpy().astype(np.int64)
    counts = np.zeros((max(n_streams, 1), 168))
    stream = arrivals["_stream"].to_numpy().astype(np.int64)
    inside = stream >= 0
    np.add.at(counts, (stream[inside], hour_of_week[inside]), 1.0)
    rates = counts[:n_streams] / (window_days / 7.0)
    # day multiplier: the variance of daily totals beyond Poisson, relative to the weekday mean
    day = ((moments - window_start).dt.total_seconds() // 86400).to_numpy().astype(np.int64)
    full_days = int(window_days)
    daily = np.bincount(day[day < full_days], minlength=full_days).astype(np.float64)[:full_days]
    weekday = (np.arange(full_days) + window_start.weekday()) % 7
    expected = np.array([daily[weekday == d].mean() if np.any(weekday == d) else 0.0 for d in range(7)])[
        weekday
    ]
    usable = expected > 0
    if usable.sum() < 7:
        return rates, float("inf")
    ratio = daily[usable] / expected[usable]
    excess = float(np.var(ratio, ddof=1) - np.mean(1.0 / expected[usable]))
    return rates, (1.0 / excess if excess > 1e-4 else float("inf"))


def _unit_stays(known: pl.DataFrame, n_units: int, until: datetime) -> UnitStayLibrary:
    done = known.filter(pl.col("ended_at").is_not_null()).with_columns(
        _hours(pl.col("ended_at") - pl.col("started_at")).alias("_hours")
    )
    admitted = done.filter(pl.col("status") == "admitted")
    parts = []
    for unit in range(n_units):
        rows = admitted.filter(pl.col("_unit") == unit)
        if rows.height < 20:  # too few admitted stays there (e.g. ED boarders): use every stay in it
            rows = done.filter(pl.col("_unit") == unit)
        next_band = rows.join(
            known.select(
                "encounter_id", (pl.col("segment") - 1).alias("segment"), pl.col("_band").alias("_next_band")
            ),
            on=["encounter_id", "segment"],
            how="left",
        )
        parts.append(
            next_band.select("_unit", "_hours", "_next", pl.col("_next_band").fill_null(-1)).with_columns(
                pl.lit(unit, dtype=pl.Int64).alias("_unit")
            )
        )
    table = pl.concat(parts).sort(["_unit", "_hours"])
    counts = np.bincount(table["_unit"].to_numpy(), minlength=n_units)
    return UnitStayLibrary(
        pointer=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        duration_hours=table["_hours"].to_numpy().astype(np.float64),
        next_unit=table["_next"].to_numpy().astype(np.int64),
        next_band=table["_next_band"].to_numpy().astype(np.int64),
    )


def _routes(
    known: pl.DataFrame, n_units: int, n_streams: int, window_start: datetime, latest_start: datetime
) -> RouteLibrary:
    began = known.group_by("encounter_id").agg(pl.col("started_at").min().alias("_arrived"))
    chosen = began.filter((pl.col("_arrived") >= window_start) & (pl.col("_arrived") < latest_start))
    if chosen.height == 0:  # a short history: take what there is
        chosen = began
    rows = (
        known.join(chosen, on="encounter_id", how="inner")
        .with_columns(
            _hours(pl.col("started_at") - pl.col("_arrived")).alias("_start"),
            _hours(pl.col("ended_at") - pl.col("_arrived")).fill_null(float("inf")).alias("_end"),
        )
        .sort(["encounter_id", "segment"])
    )
    counts = rows.group_by("encounter_id", maintain_order=True).len()["len"].to_numpy()
    pointer = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    firsts = rows.filter(pl.col("segment") == pl.col("segment").min().over("encounter_id"))
    entry = firsts["_unit"].to_numpy().astype(np.int64)
    stream = firsts["_stream"].to_numpy().astype(np.int64)
    hour = firsts["_arrived"].dt.hour().to_numpy().astype(np.int64)  # before any arithmetic (int8)
    first_duration = (firsts["_end"] - firsts["_start"]).to_numpy().astype(np.float64)
    # routes of no known stream go last (key n_streams * 24), never drawn for a new arrival
    key = np.where(stream >= 0, stream * 24 + hour, n_streams * 24)
    order = np.argsort(key, kind="stable").astype(np.int64)
    per_key = np.bincount(key, minlength=n_streams * 24 + 1)[: n_streams * 24].reshape(n_streams, 24)
    starts = np.concatenate([[0], np.cumsum(per_key.ravel())[:-1]]).reshape(n_streams, 24)
    by_entry_hour = np.stack([starts, per_key], axis=-1).astype(np.int64)
    return RouteLibrary(
        pointer=pointer,
        unit=rows["_unit"].to_numpy().astype(np.int64),
        band=rows["_band"].to_numpy().astype(np.int64),
        start_hours=rows["_start"].to_numpy().astype(np.float64),
        end_hours=rows["_end"].to_numpy().astype(np.float64),
        entry_unit=entry,
        arrival_hour=hour,
        stream=stream,
        first_duration_hours=first_duration,
        by_entry_hour=by_entry_hour,
        order=order,
    )
