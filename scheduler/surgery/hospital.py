"""The surgical side of a scenario's hospital as the admission planner sees it.

* **Surgical firms**: the scenario has no named surgeons, so each (service, theatre) pair holding that
  service's sessions stands for one consultant firm. The firm may operate on a day for as long as its session
  on that theatre lasts, so a service's firms together never exceed the service's block time.
* **Elective beds**: the wards named by the services' elective pathways, less the beds kept for the
  expected emergency census of those wards, split into bays.
* **Nurses on the elective bays**: each staff pool working on those wards contributes its establishment in
  proportion to the elective beds among the beds of its units.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from scenarios.schema import Scenario, UnitKind, mean_duration_hours
from scenarios.timeline import beds_on, nurses_on_duty, theatre_session_on

__all__ = [
    "Bay",
    "SurgicalFirm",
    "elective_bays",
    "elective_beds_by_ward",
    "expected_emergency_census",
    "surgical_firms",
    "surgical_wards",
    "ward_nurses_on_duty",
]

HOURS_PER_DAY = 24.0


@dataclass(frozen=True)
class SurgicalFirm:
    """A consultant firm: the surgeons of one service holding one theatre's sessions.

    Attributes
    ----------
    id
        ``"<service>@<theatre>"``.
    service, theatre
        The scenario's service and theatre ids.
    minutes_by_day
        Operating minutes available on each day of the horizon [minutes]; 0 when the firm has no session.
    """

    id: str
    service: str
    theatre: str
    minutes_by_day: tuple[int, ...]

    @property
    def total_minutes(self) -> int:
        """Operating minutes over the horizon [minutes]."""
        return sum(self.minutes_by_day)


def _weekday(start: date, day: int) -> int:
    return (start + timedelta(days=day)).weekday()


def surgical_firms(
    scenario: Scenario, start: date, days: int, holiday_days: Iterable[int] = ()
) -> tuple[SurgicalFirm, ...]:
    """The consultant firms of every surgical service, with their operating minutes per day.

    Parameters
    ----------
    scenario
        The hospital and its overrides (theatre block changes apply).
    start
        Local date of day 0 of the plan.
    days
        Days in the plan [days].
    holiday_days
        Days of the plan that are public holidays: no elective lists.

    Returns
    -------
    tuple of SurgicalFirm
        In theatre order, then service order; emergency theatres are left out.
    """
    closed = set(holiday_days)
    minutes: dict[tuple[str, str], list[int]] = {}
    for theatre in scenario.hospital.theatres:
        if theatre.emergency:
            continue
        for day in range(days):
            session = theatre_session_on(scenario, theatre.id, day, _weekday(start, day))
            if session is None or session.service is None or day in closed:
                continue
            service = scenario.hospital.service(session.service)
            if service.surgery is None:
                continue
            row = minutes.setdefault((session.service, theatre.id), [0] * days)
            row[day] += session.minutes
    return tuple(
        SurgicalFirm(f"{service}@{theatre}", service, theatre, tuple(row))
        for (service, theatre), row in minutes.items()
    )


def surgical_wards(scenario: Scenario) -> tuple[str, ...]:
    """Ward units named by any service's elective pathways, in the scenario's unit order."""
    named: set[str] = set()
    for service in scenario.hospital.services:
        if service.surgery is None:
            continue
        for pathway in service.surgery.elective_pathways:
            for step in pathway.steps:
                named.update(step.units)
    return tuple(u.id for u in scenario.hospital.units if u.id in named and u.kind == UnitKind.WARD)


def expected_emergency_census(scenario: Scenario, unit_id: str) -> float:
    """Expected emergency inpatients in a unit in steady state (Little's law) [patients].

    Emergency admissions per day come from the ED (attendances times the triage mix's admission rate, shared
    between services by ``emergency_share``); each pathway step naming the unit adds its probability times
    its mean length of stay, split evenly between the units the step names.
    """
    hospital = scenario.hospital
    admitted_per_day = hospital.ed.attendances_per_day * sum(
        t.share * t.admit_probability for t in hospital.ed.triage
    )
    share_total = sum(s.emergency_share for s in hospital.services)
    census = 0.0
    for service in hospital.services:
        if service.emergency_share <= 0:
            continue
        per_day = admitted_per_day * service.emergency_share / share_total
        for pathway in service.pathways:
            for step in pathway.steps:
                if unit_id in step.units:
                    stay_days = mean_duration_hours(step.length_of_stay) / HOURS_PER_DAY
                    census += per_day * pathway.probability * stay_days / len(step.units)
    return census


def elective_beds_by_ward(
    scenario: Scenario, reserved_beds: Mapping[str, int] | None = None, day: int = 0
) -> dict[str, int]:
    """Beds of each surgical ward offered to elective admissions [beds].

    Parameters
    ----------
    scenario
        The hospital (bed overrides in force on ``day`` apply).
    reserved_beds
        Beds kept for emergency admissions per ward; by default the expected emergency census, rounded up.
    day
        Day of the run whose bed numbers are used.
    """
    beds = {}
    for ward in surgical_wards(scenario):
        reserve = (
            reserved_beds.get(ward, 0)
            if reserved_beds is not None
            else math.ceil(expected_emergency_census(scenario, ward))
        )
        beds[ward] = max(beds_on(scenario, ward, day) - reserve, 0)
    return beds


@dataclass(frozen=True)
class Bay:
    """A bay (room) of a ward: the unit the admission planner puts patients in."""

    id: str
    ward: str
    beds: int


def elective_bays(elective_beds: Mapping[str, int], bay_size: int = 4) -> tuple[Bay, ...]:
    """Split each ward's elective beds into bays of ``bay_size`` beds (the last one may be smaller).

    Bays are named ``<ward>/B1``, ``<ward>/B2``, ...
    """
    if bay_size < 1:
        raise ValueError(f"bay_size must be >= 1, got {bay_size}")
    bays = []
    for ward, beds in elective_beds.items():
        number = 1
        left = beds
        while left > 0:
            size = min(bay_size, left)
            bays.append(Bay(f"{ward}/B{number}", ward, size))
            left -= size
            number += 1
    return tuple(bays)


def ward_nurses_on_duty(
    scenario: Scenario, elective_beds: Mapping[str, int], shift_id: str, day: int
) -> tuple[tuple[str, int, float], ...]:
    """Nurses on duty on the elective bays in one shift of one day.

    Each staff pool working on a surgical ward gives its establishment on that shift (nurse overrides
    apply) in proportion to the elective beds among all beds of its units, rounded up.

    Returns
    -------
    tuple of (staff pool id, nurses [count], patients per nurse)
        One entry per pool with at least one nurse; ``patients per nurse`` is the pool's elective wards'
        smallest ratio on that shift.
    """
    hospital = scenario.hospital
    on_duty = []
    for pool in hospital.staff_pools:
        wards = [u for u in pool.units if elective_beds.get(u, 0) > 0]
        if not wards:
            continue
        pool_beds = sum(beds_on(scenario, u, day) for u in pool.units)
        if pool_beds <= 0:
            continue
        share = sum(elective_beds[u] for u in wards) / pool_beds
        nurses = math.ceil(nurses_on_duty(scenario, pool.id, shift_id, day) * share - 1e-9)
        ratio = min(hospital.unit(u).patients_per_nurse[shift_id] for u in wards)
        if nurses > 0:
            on_duty.append((pool.id, nurses, ratio))
    return tuple(on_duty)
