"""What the hospital looks like on a given day of a run, once a scenario's dated overrides apply.

Day 0 is the run's start; ``weekday`` is Monday = 0. These are pure functions of the scenario, so the
simulation, the synthetic history and the optimisers all read overrides the same way.
"""

from __future__ import annotations

from scenarios.schema import (
    WEEKDAYS,
    ArrivalsOverride,
    BedsOverride,
    NursesOverride,
    Scenario,
    TheatreBlockOverride,
    TheatreSession,
)


def beds_on(scenario: Scenario, unit_id: str, day: int) -> int:
    """Beds open in a unit on a day of the run [count, never below zero]."""
    beds = scenario.hospital.unit(unit_id).beds
    for override in scenario.overrides:
        if isinstance(override, BedsOverride) and override.unit == unit_id and override.active_on(day):
            beds += override.change
    return max(beds, 0)


def arrivals_factor(scenario: Scenario, service_id: str, day: int) -> float:
    """Multiplier on demand for a service (or ``"ed"`` for ED attendances) on a day of the run."""
    factor = 1.0
    for override in scenario.overrides:
        if (
            isinstance(override, ArrivalsOverride)
            and override.service == service_id
            and override.active_on(day)
        ):
            factor *= override.factor
    return factor


def nurses_on_duty(scenario: Scenario, staff_pool_id: str, shift_id: str, day: int) -> int:
    """Funded nurses of a pool on a shift on a day of the run [count, never below zero]."""
    pool = next(p for p in scenario.hospital.staff_pools if p.id == staff_pool_id)
    nurses = pool.establishment.get(shift_id, 0)
    for override in scenario.overrides:
        if (
            isinstance(override, NursesOverride)
            and override.staff_pool == staff_pool_id
            and override.shift == shift_id
            and override.active_on(day)
        ):
            nurses += override.change
    return max(nurses, 0)


def theatre_session_on(scenario: Scenario, theatre_id: str, day: int, weekday: int) -> TheatreSession | None:
    """A theatre's session on a day of the run (``None`` when closed).

    Parameters
    ----------
    day
        Day of the run (for the overrides' periods).
    weekday
        Day of the week of that day, Monday = 0 (for the weekly session pattern).
    """
    theatre = next(t for t in scenario.hospital.theatres if t.id == theatre_id)
    session = theatre.sessions.on(weekday)
    for override in scenario.overrides:
        if (
            isinstance(override, TheatreBlockOverride)
            and override.theatre == theatre_id
            and override.weekday == WEEKDAYS[weekday]
            and override.active_on(day)
        ):
            if override.close:
                session = None
                continue
            start = override.start or (session.start if session else "08:00")
            end = override.end or (session.end if session else "17:00")
            session = TheatreSession(start=start, end=end, service=override.service)
    return session
