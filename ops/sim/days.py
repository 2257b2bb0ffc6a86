"""The hospital on each day of a run, as :mod:`scenarios.timeline` describes it.

Answers are remembered per set of overrides in force, so that a 90-day run asks the timeline once per
distinct day rather than thousands of times.
"""

from __future__ import annotations

from scenarios.schema import Scenario, TheatreSession
from scenarios.timeline import beds_on, nurses_on_duty, theatre_session_on


class HospitalDays:
    """Beds, nurses on duty and theatre sessions by day of the run.

    Parameters
    ----------
    scenario
        The hospital and its dated overrides.
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._active: dict[int, tuple[int, ...]] = {}
        self._beds: dict[tuple[int, ...], dict[str, int]] = {}
        self._nurses: dict[tuple[str, str, tuple[int, ...]], int] = {}
        self._sessions: dict[tuple[str, int, tuple[int, ...]], TheatreSession | None] = {}

    def active(self, run_day: int) -> tuple[int, ...]:
        """Positions of the overrides in force on a day."""
        active = self._active.get(run_day)
        if active is None:
            active = tuple(i for i, o in enumerate(self.scenario.overrides) if o.active_on(run_day))
            self._active[run_day] = active
        return active

    def beds(self, run_day: int) -> dict[str, int]:
        """Beds open on each unit on a day (``timeline.beds_on``)."""
        key = self.active(run_day)
        beds = self._beds.get(key)
        if beds is None:
            beds = {u.id: beds_on(self.scenario, u.id, run_day) for u in self.scenario.hospital.units}
            self._beds[key] = beds
        return beds

    def nurses(self, staff_pool_id: str, shift_id: str, run_day: int) -> int:
        """Nurses of a pool on duty on a shift of a day (``timeline.nurses_on_duty``)."""
        key = (staff_pool_id, shift_id, self.active(run_day))
        nurses = self._nurses.get(key)
        if nurses is None:
            nurses = nurses_on_duty(self.scenario, staff_pool_id, shift_id, run_day)
            self._nurses[key] = nurses
        return nurses

    def session(self, theatre_id: str, run_day: int, weekday: int) -> TheatreSession | None:
        """A theatre's session on a day (``timeline.theatre_session_on``)."""
        key = (theatre_id, weekday, self.active(run_day))
        if key not in self._sessions:
            self._sessions[key] = theatre_session_on(self.scenario, theatre_id, run_day, weekday)
        return self._sessions[key]
