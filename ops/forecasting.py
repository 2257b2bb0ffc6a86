"""The census forecast pipeline on the store: history → models → twins → Monte Carlo → saved forecast."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, String, literal_column, select, type_coerce

from ops.live import load_twins
from ops.store import Store
from ops.store.event_log import events_frame
from ops.store.schema import events as event_table
from patients.census import CensusForecast, CensusModel, census_forecast, fit_census_model, observed_census
from patients.census.backtest import (
    BACKTEST_FORECASTS_SCHEMA,
    BASELINE_WEEKS,
    MODELS,
    CensusBacktest,
    baseline_forecasts,
    naive_scale,
)
from patients.census.model import LIBRARY_GAP_DAYS, TRAINING_DAYS
from patients.events import EVENT_SCHEMA, EventKind
from patients.forecast.services import (
    ArrivalCalendar,
    ServiceArrivalModel,
    arrivals_from_events,
    fit_service_arrivals,
)
from patients.los import segments_from_events, unit_kinds
from patients.los.segments import complete_from
from scenarios import Scenario

CENSUS_FORECAST_NAME = "census"
"""Name the census forecast summary is kept under in the store."""

HISTORY_DAYS = 365
"""Days of history before the origin the stay and route models are fitted on [days]."""

ARRIVAL_HISTORY_DAYS = 730
"""Days of history the arrival models are fitted on [days]: two years let them learn the yearly season
(only register and admit events are read for them, a small share of the log)."""

_ADT_KINDS = [kind.value for kind in EventKind if kind is not EventKind.OBSERVATION]
_ARRIVAL_KINDS = [EventKind.REGISTER.value, EventKind.ADMIT.value]
_ARRIVAL_EVENT_SCHEMA: dict[str, pl.DataType] = {
    name: EVENT_SCHEMA[name] for name in ("encounter_id", "kind", "occurred_at", "unit", "service")
}
_SETTLING_DAYS = 2
_MODEL_CACHE: OrderedDict[tuple[str, str, str, int], CensusModel] = OrderedDict()
_ARRIVAL_CACHE: OrderedDict[tuple[str, str, str, int], ServiceArrivalModel] = OrderedDict()
_MODEL_CACHE_SIZE = 8
_CACHE_LOCK = threading.Lock()


def history_segments(
    store: Store, scenario: Scenario, origin: datetime, days: int = HISTORY_DAYS
) -> pl.DataFrame:
    """Unit segments of the ADT events stored in the ``days`` before ``origin``.

    Only ADT events are read (vital signs are not needed to learn stays), so a year of a large hospital
    reads in about a second.

    Returns
    -------
    polars.DataFrame
        :data:`patients.los.SEGMENTS_SCHEMA`.
    """
    events = store.read_events(start=origin - timedelta(days=days), end=origin, kinds=_ADT_KINDS)
    return segments_from_events(events, scenario)


def arrival_history(store: Store, origin: datetime, days: int = ARRIVAL_HISTORY_DAYS) -> pl.DataFrame:
    """Arrivals (:data:`patients.forecast.services.ARRIVALS_SCHEMA`) of the ``days`` before ``origin``.

    Only the five columns of register and admit events that tell an arrival are read: an encounter's first
    such event gives its arrival and entry unit, its admission (before ``origin``) its service.
    """
    # On SQLite, "+column" makes the planner scan the table once instead of walking an index row by row
    # (as in ops.live): a third faster on two years of events.
    sqlite = store.dialect == "sqlite"

    def column(name: str) -> ColumnElement[Any]:
        original = event_table.c[name]
        return literal_column(f"+{event_table.name}.{name}", type_=original.type) if sqlite else original

    query = select(
        event_table.c.encounter_id,
        event_table.c.kind,
        type_coerce(event_table.c.occurred_at, String).label("occurred_at"),
        event_table.c.unit,
        event_table.c.service,
    ).where(
        column("kind").in_(_ARRIVAL_KINDS),
        column("occurred_at") >= origin - timedelta(days=days),
        column("occurred_at") < origin,
    )
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    return arrivals_from_events(events_frame(rows, _ARRIVAL_EVENT_SCHEMA), origin)


def fit_arrival_model_from_store(
    store: Store, scenario: Scenario, origin: datetime, *, history_days: int = ARRIVAL_HISTORY_DAYS
) -> ServiceArrivalModel:
    """Arrival models by stream (entry unit and service) on the store's history before ``origin``.

    Each stream's model is chosen by rolling-origin backtest (:func:`patients.forecast.services
    .fit_service_arrivals`) on the hospital's local calendar and public holidays; streams with too little
    history keep their hour-of-week mean. Kept in memory for the same store, scenario, day of the origin
    and number of stored events.

    Raises
    ------
    ValueError
        When ``origin`` has no time zone.
    """
    if origin.tzinfo is None:
        raise ValueError("origin must be timezone-aware (UTC)")
    key = (store.url, scenario.digest(), origin.date().isoformat(), store.last_seq())
    with _CACHE_LOCK:
        cached = _ARRIVAL_CACHE.get(key)
        if cached is not None:
            _ARRIVAL_CACHE.move_to_end(key)
            return cached
    arrivals = arrival_history(store, origin, history_days)
    starts = arrivals.select(pl.lit(0).alias("segment"), pl.col("arrived_at").alias("started_at"))
    complete = complete_from(starts)
    # Stays that began before the read window show up with a later admission as their first event;
    # none is left two days in (an ED stay is shorter), so the arrival history starts there.
    since = complete + timedelta(days=_SETTLING_DAYS) if complete is not None else None
    model = fit_service_arrivals(arrivals, origin, calendar=ArrivalCalendar.of(scenario), since=since)
    with _CACHE_LOCK:
        _ARRIVAL_CACHE[key] = model
        while len(_ARRIVAL_CACHE) > _MODEL_CACHE_SIZE:
            _ARRIVAL_CACHE.popitem(last=False)
    return model


def fit_census_model_from_store(
    store: Store, scenario: Scenario, origin: datetime, *, history_days: int = HISTORY_DAYS
) -> CensusModel:
    """The census model learnt from the store's history before ``origin`` (kept for reuse in memory).

    Stays and routes come from the last ``history_days``; arrivals from the arrival models by stream of
    :func:`fit_arrival_model_from_store`. A model is reused for the same store, scenario, day of the
    origin and number of stored events.
    """
    key = (store.url, scenario.digest(), origin.date().isoformat(), store.last_seq())
    with _CACHE_LOCK:
        cached = _MODEL_CACHE.get(key)
        if cached is not None:
            _MODEL_CACHE.move_to_end(key)
            return cached
    segments = history_segments(store, scenario, origin, history_days)
    model = fit_census_model(
        segments,
        tuple(unit.id for unit in scenario.hospital.units),
        origin,
        arrival_model=fit_arrival_model_from_store(store, scenario, origin),
        arrival_calendar=ArrivalCalendar.of(scenario),
    )
    with _CACHE_LOCK:
        _MODEL_CACHE[key] = model
        while len(_MODEL_CACHE) > _MODEL_CACHE_SIZE:
            _MODEL_CACHE.popitem(last=False)
    return model


def census_forecast_from_store(
    store: Store,
    scenario: Scenario,
    origin: datetime,
    hours: int = 336,
    n_paths: int = 1000,
    seed: int = 0,
    progress: Callable[..., Any] | None = None,
    cancel: threading.Event | None = None,
    *,
    save: bool = True,
) -> CensusForecast:
    """Forecast the census by unit and hour from the store, and keep the summary in it.

    Fits (or reuses) the length-of-stay and arrival models on the store's history before ``origin``,
    loads the twins at ``origin`` (:func:`ops.live.load_twins`), runs the Monte Carlo
    (:func:`patients.census.census_forecast`) and saves the summary with
    :meth:`ops.store.Store.save_forecast` under :data:`CENSUS_FORECAST_NAME`.

    Parameters
    ----------
    store
        Events in, forecast out.
    scenario
        The hospital (units, beds).
    origin
        Forecast origin [UTC, timezone-aware].
    hours
        Hours ahead (336 = 14 days).
    n_paths
        Monte Carlo paths.
    seed
        Seed of the Monte Carlo (same seed, same forecast).
    progress
        Called with the share done (a float from 0 to 1).
    cancel
        When set, stops with :class:`patients.census.ForecastCancelled`.
    save
        Keep the summary in the store (the default).

    Returns
    -------
    CensusForecast
        ``.paths`` (:data:`~patients.census.CENSUS_PATHS_SCHEMA`) and ``.summary``
        (:data:`~patients.census.CENSUS_FORECAST_SCHEMA`).

    Raises
    ------
    ValueError
        When ``origin`` has no time zone or the store holds less than a week of history before it.

    Examples
    --------
    >>> forecast = census_forecast_from_store(store, scenario, origin, hours=72)  # doctest: +SKIP
    >>> forecast.summary.filter(pl.col("unit_id") == "ICU")  # doctest: +SKIP
    """
    if origin.tzinfo is None:
        raise ValueError("origin must be timezone-aware (UTC)")

    def report(share: float) -> None:
        if progress is not None:
            progress(share)

    report(0.0)
    model = fit_census_model_from_store(store, scenario, origin)
    report(0.2)
    twins = load_twins(store, origin).to_frame(origin)
    report(0.3)
    forecast = census_forecast(
        model,
        twins,
        {unit.id: unit.beds for unit in scenario.hospital.units},
        origin,
        unit_kinds=unit_kinds(scenario),
        hours=hours,
        n_paths=n_paths,
        seed=seed,
        progress=lambda share: report(0.3 + 0.65 * share),
        cancel=cancel,
    )
    details = {
        **forecast.details,
        "model": "census Monte Carlo (hazard GLM stays, empirical routes, arrivals by service)",
        "arrival_models": _arrival_models(model),
        "training_days": TRAINING_DAYS,
        "library_gap_days": LIBRARY_GAP_DAYS,
        "scenario": scenario.name,
    }
    if save:
        store.save_forecast(CENSUS_FORECAST_NAME, origin, forecast.summary, details=details)
    report(1.0)
    return CensusForecast(
        origin=forecast.origin, paths=forecast.paths, summary=forecast.summary, details=details
    )


def _arrival_models(model: CensusModel) -> list[dict[str, Any]]:
    """The model each arrival stream was forecast with (for the forecast's details)."""
    if model.arrival_model is None:
        return []
    chosen = model.arrival_model.selection.filter(pl.col("selected"))
    return [
        {
            "entry_unit": row["entry_unit"],
            "service": row["service"],
            "model": row["model"],
            "arrivals_per_day": round(float(row["arrivals_per_day"]), 3),
            "note": row["note"],
        }
        for row in chosen.iter_rows(named=True)
    ]


def backtest_origins(
    first: datetime, last_data: datetime, horizon_hours: int, count: int, *, history_days: int = 21
) -> list[datetime]:
    """Up to ``count`` midnight origins for a backtest.

    The last origin is ``horizon_hours`` before the data end; they are a week apart (closer when the
    history is short), none with fewer than ``history_days`` of history before it (the baselines need
    two weeks of observed census, the census model one).

    Raises
    ------
    ValueError
        When the history is too short for one origin.
    """
    latest = (last_data - timedelta(hours=horizon_hours)).replace(hour=0, minute=0, second=0, microsecond=0)
    earliest = first + timedelta(days=history_days)
    if latest < earliest:
        raise ValueError(
            f"the store's history ({first:%Y-%m-%d} to {last_data:%Y-%m-%d}) is too short for a backtest: "
            f"{history_days} days of history plus the {horizon_hours} h horizon are needed"
        )
    span_days = (latest - earliest).days
    step_days = 7 if count <= 1 or span_days >= 7 * (count - 1) else max(1, span_days // (count - 1))
    origins = [latest - timedelta(days=step_days * number) for number in range(count)]
    return sorted(origin for origin in origins if origin >= earliest)


def census_backtest_from_store(
    store: Store,
    scenario: Scenario,
    *,
    origins: int = 8,
    horizon_days: int = 7,
    n_paths: int = 200,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
) -> CensusBacktest:
    """Rolling-origin backtest of the census forecast on the store's history, beside two baselines.

    At each origin the census model is fitted on the history before it, the twins are loaded as they
    were then, and the census by unit is forecast hourly for ``horizon_days``; the seasonal-naive and
    hour-of-week-mean baselines are computed from the census observed before the origin. Everything is
    scored against the census the store's events show (:func:`patients.census.observed_census`).

    Parameters
    ----------
    store
        Holds the history (at least three weeks plus the horizon).
    scenario
        The hospital (units, beds).
    origins
        Number of forecast origins (a week apart, ending one horizon before the last event).
    horizon_days
        Days forecast from each origin.
    n_paths
        Monte Carlo paths per origin.
    seed
        Seed of the Monte Carlo.
    progress
        Called with the share of origins done.

    Returns
    -------
    patients.census.backtest.CensusBacktest
    """
    if origins < 1 or horizon_days < 1:
        raise ValueError("origins and horizon_days must be at least 1")
    events = store.read_events(kinds=_ADT_KINDS)
    if events.height == 0:
        raise ValueError("the store holds no ADT events to backtest on")
    segments = segments_from_events(events, scenario)
    first = complete_from(segments)
    last_event = events["occurred_at"].max()
    assert first is not None and isinstance(last_event, datetime)
    hours = horizon_days * 24
    chosen = backtest_origins(first, last_event, hours, origins)
    units = tuple(unit.id for unit in scenario.hospital.units)
    beds = {unit.id: unit.beds for unit in scenario.hospital.units}
    kinds = unit_kinds(scenario)
    complete_hour = first.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    observed_start = max(min(chosen) - timedelta(weeks=BASELINE_WEEKS + 1), complete_hour)
    observed_hours = int((max(chosen) - observed_start).total_seconds() // 3600) + hours + 1
    observed = observed_census(segments, units, observed_start, observed_hours)
    frames = []
    for number, origin in enumerate(chosen):
        model = fit_census_model(segments, units, origin, arrival_calendar=ArrivalCalendar.of(scenario))
        twins = load_twins(store, origin).to_frame(origin)
        forecast = census_forecast(
            model,
            twins,
            beds,
            origin,
            unit_kinds=kinds,
            hours=hours,
            n_paths=n_paths,
            seed=seed,
            keep_paths=False,
        )
        scales = {unit: naive_scale(observed, origin, unit) for unit in units}
        ours = forecast.summary.select(
            pl.lit(MODELS[0]).alias("model"),
            pl.lit(origin).alias("origin"),
            "unit_id",
            "at",
            "horizon_hours",
            "mean",
            "p05",
            "p50",
            "p95",
            pl.lit(None, dtype=pl.Float64).alias("actual"),
            pl.col("unit_id").replace_strict(scales, return_dtype=pl.Float64).alias("scale"),
        ).cast(pl.Schema(BACKTEST_FORECASTS_SCHEMA))
        frames += [ours, baseline_forecasts(observed, origin, hours, units)]
        if progress is not None:
            progress((number + 1) / len(chosen))
    actual = observed.select("unit_id", "at", pl.col("census").cast(pl.Float64).alias("_actual"))
    forecasts = (
        pl.concat(frames)
        .join(actual, on=["unit_id", "at"], how="left")
        .with_columns(pl.col("_actual").alias("actual"))
        .drop("_actual")
        .filter(pl.col("actual").is_not_null())
    )
    return CensusBacktest(
        forecasts=forecasts,
        origins=chosen,
        settings={"horizon_days": horizon_days, "n_paths": n_paths, "seed": seed, "origins": len(chosen)},
    )
