"""Warm start: the hospital model's start state built from the patient twins.

This is what makes the model a twin rather than a generic simulation: a run begins with today's patients,
each in their unit, with what is left of their route and a remaining stay drawn from their own
distribution, instead of an empty hospital and a warm-up period.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from ops.sim.distributions import RemainingStay
from ops.sim.state import EdPatientAtStart, InpatientAtStart, StartState
from scenarios import Scenario
from scenarios.schema import PathwayStep, UnitKind

DEFAULT_TRIAGE_CATEGORY = 3
"""Triage category of a patient in the ED whose category the feed did not carry (the commonest one)."""

RemainingStayOf = Callable[[Mapping[str, Any]], RemainingStay | None]
"""Gives a twin (a row of :data:`patients.twin.TWIN_SCHEMA` as a dict) its remaining-stay distribution."""


@dataclass(frozen=True)
class WarmStart:
    """A start state and what could not be placed in the model, with the reason.

    Attributes
    ----------
    state
        The start state for :func:`ops.sim.simulate`.
    skipped
        Count of twins left out, by reason (e.g. ``"unit 'X9' is not in the scenario"``).
    details
        How the start was built (twins read, patients placed, moved from recovery, arrival forecast...).
    """

    state: StartState
    skipped: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def start_state_from_twins(
    scenario: Scenario,
    twins: pl.DataFrame,
    now: datetime,
    *,
    remaining_stay: RemainingStayOf | None = None,
    arrival_forecast: pl.DataFrame | None = None,
) -> WarmStart:
    """Build the model's start state from a twins frame.

    Parameters
    ----------
    scenario
        The hospital the model runs (its units, services and pathways).
    twins
        Twins at ``now`` with :data:`patients.twin.TWIN_SCHEMA` (:meth:`TwinRegistry.to_frame`); stays
        that are not open (discharged, cancelled) are ignored.
    now
        Start of the run, timezone-aware.
    remaining_stay
        The twin's own distribution of the time left until it leaves the hospital (e.g. from the
        length-of-stay model); the model walks the rest of the route and cuts it where that time runs out.
        When absent or when it returns ``None``, the model draws the residual of the scenario's stay in
        that unit given the time already spent there, then the later steps in full.
    arrival_forecast
        Hourly arrival rates (:data:`ops.sim.state.ARRIVAL_FORECAST_SCHEMA`) replacing the scenario's.

    Returns
    -------
    WarmStart
        The start state, and the twins left out by reason (unknown unit or service, no unit). A twin in
        recovery (PACU) starts in the first unit of its service's likeliest elective route.

    Examples
    --------
    >>> warm = start_state_from_twins(scenario, registry.to_frame(now), now)  # doctest: +SKIP
    >>> simulate(scenario, warm.state, seed=1, horizon_days=14)  # doctest: +SKIP
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    missing = [
        name for name in ("encounter_id", "status", "unit", "unit_since", "service") if name not in twins
    ]
    if missing:
        raise ValueError(f"twins frame lacks column(s) {missing}; expected patients.twin.TWIN_SCHEMA")
    units = {unit.id: unit for unit in scenario.hospital.units}
    services = {service.id: service for service in scenario.hospital.services}
    skipped: Counter[str] = Counter()
    inpatients: list[InpatientAtStart] = []
    ed_patients: list[EdPatientAtStart] = []
    now_utc = now.astimezone(UTC)
    from_recovery = 0

    for twin in twins.filter(pl.col("status").is_in(["registered", "admitted"])).iter_rows(named=True):
        unit_id = twin["unit"]
        since = twin["unit_since"] or twin["admitted_at"] or twin["arrived_at"] or now_utc
        elapsed_hours = max(0.0, (now_utc - since).total_seconds() / 3600.0)
        unit = units.get(unit_id) if unit_id is not None else None
        if twin["status"] == "registered" or (unit is not None and unit.kind == UnitKind.ED):
            ed_patients.append(
                EdPatientAtStart(
                    patient_id=twin["encounter_id"],
                    triage_category=DEFAULT_TRIAGE_CATEGORY,
                    elapsed_hours=elapsed_hours,
                    awaiting_bed=twin["status"] == "admitted",
                    service=twin["service"] if twin["service"] in services else None,
                )
            )
            continue
        if unit is None:
            skipped["no unit" if unit_id is None else f"unit {unit_id!r} is not in the scenario"] += 1
            continue
        service_id = twin["service"]
        if unit.kind == UnitKind.PACU:
            # The model keeps no one in recovery at the start: an elective patient there is put in the
            # first post-operative unit of their service's likeliest elective route (their own remaining
            # stay still decides when they go home; a day case goes home from there within hours).
            first = _post_operative_route(scenario, service_id)
            if first is None:
                skipped["in recovery (PACU) under a service with no post-operative route"] += 1
                continue
            step: PathwayStep | None = first[0]
            later = first[1]
            unit_id = first[0].units[0]
            elapsed_hours = 0.0
            from_recovery += 1
        else:
            if service_id not in services:
                service_id = _service_of_unit(scenario, unit_id)
                if service_id is None:
                    skipped[f"service {twin['service']!r} is not in the scenario"] += 1
                    continue
            step, later = _route_from(scenario, service_id, unit_id)
        acuity = twin.get("acuity_band") or (step.acuity if step is not None else "low")
        inpatients.append(
            InpatientAtStart(
                patient_id=twin["encounter_id"],
                unit=unit_id,
                service=service_id,
                acuity=acuity,
                elapsed_hours=elapsed_hours,
                remaining_steps=later,
                length_of_stay=step.length_of_stay if step is not None else None,
                remaining_stay=remaining_stay(twin) if remaining_stay is not None else None,
            )
        )
    state = StartState(
        now=now_utc,
        patients=tuple(inpatients),
        ed_patients=tuple(ed_patients),
        arrival_forecast=arrival_forecast,
    )
    details: dict[str, Any] = {
        "now": now_utc.isoformat(),
        "inpatients": len(inpatients),
        "ed_patients": len(ed_patients),
        "moved_from_recovery": from_recovery,
        "own_remaining_stays": sum(p.remaining_stay is not None for p in inpatients),
        "arrival_forecast_hours": 0
        if arrival_forecast is None
        else int(arrival_forecast.get_column("t").n_unique()),
    }
    return WarmStart(state, dict(skipped), details)


def _post_operative_route(
    scenario: Scenario, service_id: str | None
) -> tuple[PathwayStep, tuple[PathwayStep, ...]] | None:
    """First step and later steps of the likeliest elective route of a service (``None`` when none)."""
    service = next((s for s in scenario.hospital.services if s.id == service_id), None)
    if service is None or service.surgery is None or not service.surgery.elective_pathways:
        return None
    pathway = max(service.surgery.elective_pathways, key=lambda p: p.probability)
    return pathway.steps[0], tuple(pathway.steps[1:])


def _service_of_unit(scenario: Scenario, unit_id: str) -> str | None:
    """The first service whose routes use the unit (for twins whose service the scenario does not know)."""
    for unit in scenario.hospital.units:
        if unit.id == unit_id and unit.services:
            return unit.services[0]
    for service in scenario.hospital.services:
        for pathway in _pathways(scenario, service.id):
            if any(unit_id in step.units for step in pathway):
                return service.id
    return None


def _pathways(scenario: Scenario, service_id: str) -> list[tuple[PathwayStep, ...]]:
    service = next(s for s in scenario.hospital.services if s.id == service_id)
    routes = [pathway.steps for pathway in service.pathways]
    if service.surgery is not None:
        routes += [pathway.steps for pathway in service.surgery.elective_pathways]
    return routes


def _route_from(
    scenario: Scenario, service_id: str, unit_id: str
) -> tuple[PathwayStep | None, tuple[PathwayStep, ...]]:
    """The step a patient of this service in this unit is on, and the steps still to come.

    The twin does not know which route its patient is on; the most likely one (the most probable pathway
    that passes through the unit) is taken, from its first step in that unit.
    """
    service = next(s for s in scenario.hospital.services if s.id == service_id)
    candidates = list(service.pathways)
    if service.surgery is not None:
        candidates += list(service.surgery.elective_pathways)
    for pathway in sorted(candidates, key=lambda p: -p.probability):
        for index, step in enumerate(pathway.steps):
            if unit_id in step.units:
                return step, tuple(pathway.steps[index + 1 :])
    return None, ()


__all__ = ["DEFAULT_TRIAGE_CATEGORY", "RemainingStayOf", "WarmStart", "start_state_from_twins"]
