"""Start a hospital-model run from the hospital now: the live twins and the forecast arrivals.

This is what makes the model a twin. :func:`live_start_state` reads the store and builds a warm start:

- **from the twins** (:func:`ops.live.load_twins` at ``now``): every patient in their unit (ED, wards,
  critical care; a patient in recovery in their post-operative unit), with the time already spent there and,
  for admitted patients, their own distribution of the time left until they leave the hospital
  (the stay model, :func:`patients.los.remaining_stay_function`);
- **from the forecast** (:func:`ops.forecasting.fit_arrival_model_from_store`): ED attendances and each
  service's emergency admissions, hour by hour, replacing the scenario's expected demand (its dated
  overrides, such as a surge, still apply on top).

The models are the ones the census forecast uses, fitted once per day and kept in memory.
:func:`choose_start` decides between that warm start and a cold start (an empty hospital and a warm-up
period), which is used when asked for or when the store has no usable history.

Examples
--------
>>> begin = choose_start(store, baseline)  # doctest: +SKIP
>>> begin.description  # doctest: +SKIP
'warm start from the twins at 2025-01-01 00:00 UTC: 452 inpatients and 41 ED patients; ...'
>>> compare_scenarios(surge, baseline, 10, start=begin.start, options=begin.options())  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import polars as pl

from ops.forecasting import fit_census_model_from_store
from ops.live import latest_event_time, load_twins
from ops.sim.state import ARRIVAL_FORECAST_SCHEMA, SimulationOptions, StartState
from ops.store import Store
from ops.warm_start import WarmStart, start_state_from_twins
from patients.forecast.services import ServiceArrivalModel
from patients.los import remaining_stay_function
from scenarios import Scenario

DEFAULT_WARM_UP_DAYS = 21
"""Warm-up of a cold start when none is given [days]: long enough for the wards to fill."""

__all__ = [
    "DEFAULT_WARM_UP_DAYS",
    "NoLiveState",
    "RunStart",
    "arrival_forecast_for_simulation",
    "choose_start",
    "live_start_state",
]


class NoLiveState(ValueError):
    """The store cannot give a warm start (no events, or too little history to fit the models on)."""


@dataclass(frozen=True)
class RunStart:
    """How a run begins: from the twins (``start`` given) or cold (an empty hospital and a warm-up).

    Attributes
    ----------
    start
        The warm start, or ``None`` for a cold start.
    warm_up_days
        Warm-up of a cold start [days] (0 for a warm start).
    description
        One sentence saying which start it is: patients and time of the twins, or the warm-up and why.
    skipped
        Twins left out of a warm start, by reason.
    details
        How the start was built (JSON-friendly).
    """

    start: StartState | None
    warm_up_days: int
    description: str
    skipped: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def warm(self) -> bool:
        """True for a start from the twins."""
        return self.start is not None

    def options(self, base: SimulationOptions | None = None) -> SimulationOptions:
        """Simulation options for this start: ``base`` with the warm-up set (0 for a warm start)."""
        return replace(base or SimulationOptions(), warm_up_days=self.warm_up_days)


def arrival_forecast_for_simulation(
    model: ServiceArrivalModel, scenario: Scenario, start: datetime, hours: int
) -> pl.DataFrame:
    """The arrival forecast by stream in the hospital model's form (:data:`ops.sim.ARRIVAL_FORECAST_SCHEMA`).

    ``service = "ed"`` is every stream entering the scenario's ED (attendances, admitted or not); a service
    id is that service's ED stream (its emergency admissions, counted at their ED arrival, as the model
    counts them). Streams entering elsewhere (elective patients from theatre) are left out: the model
    takes electives from its theatre lists.

    Parameters
    ----------
    model
        Fitted arrival models by stream.
    scenario
        The hospital (its ED unit and services).
    start
        First hour [UTC, timezone-aware].
    hours
        Hours to cover.
    """
    forecast = model.forecast(start, hours)
    ed = forecast.filter(pl.col("entry_unit") == scenario.hospital.ed.unit)
    services = [service.id for service in scenario.hospital.services]
    attendances = ed.group_by("t").agg(pl.col("mean").sum().alias("arrivals_per_hour"))
    admissions = ed.filter(pl.col("service").is_in(services)).select(
        "t", "service", pl.col("mean").alias("arrivals_per_hour")
    )
    return (
        pl.concat(
            [
                attendances.select("t", pl.lit("ed").alias("service"), "arrivals_per_hour"),
                admissions,
            ]
        )
        .cast(pl.Schema(ARRIVAL_FORECAST_SCHEMA))
        .sort("t", "service")
    )


def live_start_state(
    store: Store,
    scenario: Scenario,
    now: datetime | None = None,
    *,
    horizon_days: int = 28,
    quantiles: int = 50,
) -> WarmStart:
    """The hospital model's warm start from the store: today's twins and the forecast arrivals.

    Parameters
    ----------
    store
        Events in (the twins and their history).
    scenario
        The hospital the run simulates.
    now
        Start of the run [UTC, timezone-aware]. Default: the newest event in the store (never later than
        the clock), so a history extract starts where it ends.
    horizon_days
        Days of arrival forecast to give the run [days].
    quantiles
        Quantiles of each twin's remaining-stay distribution.

    Returns
    -------
    ops.warm_start.WarmStart
        The start state (patients, ED patients, arrival forecast), the twins left out, and in ``details``
        what was used (twins time, patients, arrival streams and their models).

    Raises
    ------
    NoLiveState
        When the store holds no events, or too little history before ``now`` to fit the models.
    """
    if now is None:
        newest = latest_event_time(store)
        if newest is None:
            raise NoLiveState("the store holds no events")
        now = min(newest, datetime.now(UTC))
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    try:
        census_model = fit_census_model_from_store(store, scenario, now)
    except ValueError as error:
        raise NoLiveState(f"too little history before {now:%Y-%m-%d %H:%M} UTC: {error}") from None
    twins = load_twins(store, now).to_frame(now)
    remaining = remaining_stay_function(
        census_model.length_of_stay, scenario, now, quantiles=quantiles, twins=twins
    )
    arrival_model = census_model.arrival_model
    forecast = (
        arrival_forecast_for_simulation(arrival_model, scenario, now, horizon_days * 24 + 1)
        if arrival_model is not None
        else None
    )
    warm = start_state_from_twins(scenario, twins, now, remaining_stay=remaining, arrival_forecast=forecast)
    streams = arrival_model.streams if arrival_model is not None else ()
    details = {
        **warm.details,
        "arrival_streams": len(streams),
        "arrival_streams_modelled": sum(stream.model is not None for stream in streams),
        "arrival_models": {
            f"{stream.entry_unit}/{stream.service or 'not admitted'}": stream.model_name for stream in streams
        },
    }
    return WarmStart(warm.state, warm.skipped, details)


def choose_start(
    store: Store | None,
    scenario: Scenario,
    *,
    cold: bool = False,
    warm_up_days: int = DEFAULT_WARM_UP_DAYS,
    now: datetime | None = None,
    horizon_days: int = 28,
    compatible_with: Sequence[Scenario] = (),
) -> RunStart:
    """A warm start from the store's twins when it can give one, else a cold start with a warm-up.

    Parameters
    ----------
    store
        The store; ``None`` for none (cold start).
    scenario
        The hospital the start is built for (the baseline of a what-if).
    cold
        Ask for a cold start.
    warm_up_days
        Warm-up of a cold start [days]; never 0 for a fallback (an empty hospital is not a start).
    now
        Start of a warm run (default: the newest event in the store).
    horizon_days
        Days of arrival forecast for a warm run.
    compatible_with
        Other scenarios the same start must run in (a what-if): patients in a unit or under a service one
        of them lacks are left out (and counted).

    Returns
    -------
    RunStart
    """
    cold_days = max(warm_up_days, 1)
    if cold or store is None:
        reason = "asked for" if cold else "no store to read the twins from"
        return _cold(cold_days if not cold else warm_up_days, reason)
    try:
        warm = live_start_state(store, scenario, now, horizon_days=horizon_days)
    except NoLiveState as error:
        return _cold(cold_days, str(error))
    state, skipped = _compatible(warm.state, dict(warm.skipped), compatible_with)
    left_out = sum(skipped.values())
    at = state.now.astimezone(UTC)
    modelled = warm.details.get("arrival_streams_modelled", 0)
    streams = warm.details.get("arrival_streams", 0)
    description = (
        f"warm start from the twins at {at:%Y-%m-%d %H:%M} UTC: {len(state.patients)} inpatients and "
        f"{len(state.ed_patients)} ED patients"
        + (f" ({left_out} twins left out)" if left_out else "")
        + f"; arrivals forecast by service ({modelled} of {streams} streams by a fitted model)"
    )
    details = {**warm.details, "start": "warm", "skipped": skipped}
    return RunStart(state, 0, description, skipped, details)


def _cold(warm_up_days: int, reason: str) -> RunStart:
    warm_up = f"after a {warm_up_days}-day warm-up" if warm_up_days else "with no warm-up"
    description = f"cold start: an empty hospital {warm_up} ({reason})"
    return RunStart(
        None, warm_up_days, description, {}, {"start": "cold", "warm_up_days": warm_up_days, "why": reason}
    )


def _compatible(
    state: StartState, skipped: dict[str, int], scenarios: Sequence[Scenario]
) -> tuple[StartState, dict[str, int]]:
    """The start state without the patients some scenario cannot hold (unknown unit or service)."""
    if not scenarios:
        return state, skipped
    units = set.intersection(*({u.id for u in s.hospital.units} for s in scenarios))
    services = set.intersection(*({v.id for v in s.hospital.services} for s in scenarios))
    kept = []
    for patient in state.patients:
        known = patient.unit in units and patient.service in services
        known = known and all(unit in units for step in patient.remaining_steps for unit in step.units)
        if known:
            kept.append(patient)
        else:
            reason = "unit or service not in every scenario compared"
            skipped[reason] = skipped.get(reason, 0) + 1
    ed = [p for p in state.ed_patients if p.service is None or p.service in services]
    if len(ed) < len(state.ed_patients):
        reason = "ED patient's service not in every scenario compared"
        skipped[reason] = skipped.get(reason, 0) + len(state.ed_patients) - len(ed)
    return replace(state, patients=tuple(kept), ed_patients=tuple(ed)), skipped
