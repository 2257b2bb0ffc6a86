"""Beds during a run: each unit's census, waiting list and counters, and the board that places patients.

A patient asks for a bed on a step of their route, which may be in any of several units (the five medical
wards); the first unit in the step's order with a free bed takes them. Otherwise the request waits on the
waiting list of every one of those units, ordered by priority then arrival, and the first of them to free a
bed takes the patient. A patient moving on keeps their current bed until the next one is theirs (bed
blocking), so a full ward backs up into critical care, the assessment unit and the ED.
"""

from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING

import numpy as np
import simpy
from numpy.typing import NDArray

from ops.sim.series import LevelLog
from scenarios.schema import UnitKind

if TYPE_CHECKING:
    from ops.sim.model import Patient

Priority = tuple[int, int, int]
"""(class, acuity rank, triage category): lower goes first; ties are served in order of request."""


class BedRequest:
    """A patient's request for a bed on one step of their route."""

    __slots__ = ("event", "patient", "requested_at", "unit")

    def __init__(self, patient: Patient, requested_at: float) -> None:
        self.patient = patient
        self.requested_at = requested_at
        self.unit: CareUnit | None = None
        """The unit that gave the bed (None while waiting)."""
        self.event: simpy.Event | None = None
        """Triggered when a bed is given; None when one was free at once."""


class CareUnit:
    """Runtime state of one unit during a run; built from the scenario, never stored on it.

    The census, the beds that can be filled and the patients blocked are logged at each change
    (:class:`~ops.sim.series.LevelLog`) and integrated in bulk by :meth:`compact` into hourly and per-shift
    totals.

    Parameters
    ----------
    index
        Position of the unit in the hospital's list.
    unit_id, kind
        The unit's id and kind.
    measure_from
        First minute of the measured window (counters ignore the warm-up).
    hours
        Simulated hours (length of the hourly series).
    shifts
        Nursing shifts of the run (length of the per-shift series).
    """

    __slots__ = (
        "beds_open",
        "blocked",
        "blocked_by_hour",
        "blocked_log",
        "capacity",
        "capacity_by_hour",
        "capacity_log",
        "census",
        "census_by_hour",
        "census_levels",
        "census_log",
        "census_times",
        "entries",
        "entries_waited",
        "exit_stay_minutes",
        "exits",
        "id",
        "index",
        "inside_at_start",
        "kind",
        "measure_from",
        "nurses",
        "nurses_by_shift",
        "occupants",
        "patient_minutes_by_shift",
        "patients_per_nurse",
        "patients_per_nurse_by_shift",
        "queue",
        "shortfall_minutes_by_shift",
        "staffed",
        "transfers_out",
        "wait_minutes",
        "window_stay_minutes",
    )

    def __init__(
        self, index: int, unit_id: str, kind: UnitKind, measure_from: float, hours: int, shifts: int
    ) -> None:
        self.index = index
        self.id = unit_id
        self.kind = kind
        self.measure_from = measure_from
        self.beds_open = 0
        self.capacity = 0
        """Beds that can take a patient now: open beds, less any closed for lack of nurses."""
        self.census = 0
        self.blocked = 0
        """Patients in a bed here who are waiting for a bed on their next step."""
        self.queue: list[tuple[int, int, int, int, BedRequest]] = []
        self.occupants: dict[int, tuple[Patient, float]] = {}
        """Patients in a bed here by id, with the minute they entered, in order of entry."""
        self.staffed = False
        self.nurses = 0.0
        self.patients_per_nurse = math.inf
        self.nurses_by_shift = np.zeros(shifts)
        self.patients_per_nurse_by_shift = np.full(shifts, np.inf)
        self.census_log = LevelLog()
        self.census_times = self.census_log.times
        self.census_levels = self.census_log.levels
        self.capacity_log = LevelLog()
        self.blocked_log = LevelLog()
        self.census_by_hour = np.zeros(hours)
        """Patient-minutes in each simulated hour (divided by 60 at the end: the hour's mean census)."""
        self.capacity_by_hour = np.zeros(hours)
        self.blocked_by_hour = np.zeros(hours)
        self.patient_minutes_by_shift = np.zeros(shifts)
        self.shortfall_minutes_by_shift = np.zeros(shifts)
        self.entries = 0
        self.exits = 0
        self.entries_waited = 0
        self.wait_minutes = 0.0
        self.exit_stay_minutes = 0.0
        self.window_stay_minutes = 0.0
        self.transfers_out = 0
        self.inside_at_start = 0

    # ---- patients in and out ----------------------------------------------------------------------
    def enter(self, patient: Patient, now: float, waited: float) -> None:
        """A patient takes a bed (``waited`` minutes after asking for it)."""
        census = self.census + 1
        self.census = census
        self.census_times.append(now)
        self.census_levels.append(census)
        self.occupants[patient.pid] = (patient, now)
        if now >= self.measure_from:
            self.entries += 1
            if waited > 0.0:
                self.wait_minutes += waited
                self.entries_waited += 1

    def leave(self, patient: Patient, now: float) -> None:
        """A patient gives their bed back."""
        census = self.census - 1
        self.census = census
        self.census_times.append(now)
        self.census_levels.append(census)
        entered = self.occupants.pop(patient.pid)[1]
        if now >= self.measure_from:
            self.exits += 1
            self.exit_stay_minutes += now - entered
            self.window_stay_minutes += now - (entered if entered > self.measure_from else self.measure_from)

    def place_at_start(self, patient: Patient, entered: float) -> None:
        """Put a patient of the start state in a bed (before the clock starts), ``entered`` minutes ago."""
        self.census += 1
        self.census_log.set(0.0, self.census)
        self.occupants[patient.pid] = (patient, entered)

    def block(self, change: int, now: float) -> None:
        """A patient here starts (+1) or stops (-1) waiting for a bed on their next step."""
        self.blocked += change
        self.blocked_log.set(now, self.blocked)

    # ---- beds and nurses --------------------------------------------------------------------------
    def set_capacity(self, capacity: int, now: float) -> None:
        """Beds that can be filled from now."""
        self.capacity = max(capacity, 0)
        self.capacity_log.set(now, self.capacity)

    def start_shift(self, shift: int) -> None:
        """Nurses on duty and ratio of shift number ``shift`` of the run."""
        self.nurses = self.nurses_by_shift.item(shift)
        self.patients_per_nurse = self.patients_per_nurse_by_shift.item(shift)

    def nurse_capacity(self) -> int:
        """Beds the nurses on duty can look after at the unit's ratio."""
        if not self.staffed:
            return self.beds_open
        return math.floor(self.nurses * self.patients_per_nurse + 1e-9)

    # ---- totals -----------------------------------------------------------------------------------
    def compact(self, until: float, shift_starts: NDArray[np.float64]) -> None:
        """Integrate the logs up to ``until`` into the hourly and per-shift totals, then restart them.

        Parameters
        ----------
        until
            Minute up to which to integrate (now).
        shift_starts
            Start of each shift of the run [minutes], the first at or before minute 0.
        """
        hours = self.census_by_hour.size
        census = self.census_log.arrays()
        for log, arrays, totals in (
            (self.census_log, census, self.census_by_hour),
            (self.capacity_log, None, self.capacity_by_hour),
            (self.blocked_log, None, self.blocked_by_hour),
        ):
            if len(log.times) > 1 or log.levels[0] != 0:
                first, areas = log.hourly_areas(until, hours, arrays)
                totals[first : first + areas.size] += areas
        if self.staffed:
            start, level, duration = self.census_log.segments(until, shift_starts, census)
            shift = np.searchsorted(shift_starts, start, side="right") - 1
            shifts = shift_starts.size
            needed = np.ceil(level / self.patients_per_nurse_by_shift[shift] - 1e-9)
            shortfall = np.maximum(needed - self.nurses_by_shift[shift], 0.0) * duration
            self.patient_minutes_by_shift += np.bincount(shift, weights=level * duration, minlength=shifts)
            self.shortfall_minutes_by_shift += np.bincount(shift, weights=shortfall, minlength=shifts)
        for log in (self.census_log, self.capacity_log, self.blocked_log):
            log.restart(until)

    def log_size(self) -> int:
        """Changes logged since the last compaction."""
        return len(self.census_log.times) + len(self.blocked_log.times)


class BedBoard:
    """Places patients in beds, keeps the waiting lists, and serves them when a bed frees up."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self._sequence = 0

    @staticmethod
    def free_unit(units: tuple[CareUnit, ...]) -> CareUnit | None:
        """The first of ``units`` with a free bed now."""
        for unit in units:
            if unit.census < unit.capacity:
                return unit
        return None

    def request(self, patient: Patient, units: tuple[CareUnit, ...], priority: Priority) -> BedRequest:
        """Ask for a bed in any of ``units``; granted at once when one is free, else queued on all of them."""
        now = self.env.now
        request = BedRequest(patient, now)
        for unit in units:
            if unit.census < unit.capacity:
                request.unit = unit
                unit.enter(patient, now, 0.0)
                return request
        request.event = self.env.event()
        self._sequence += 1
        entry = (priority[0], priority[1], priority[2], self._sequence, request)
        for unit in units:
            heapq.heappush(unit.queue, entry)
        return request

    def release(self, unit: CareUnit, patient: Patient) -> None:
        """A patient leaves ``unit``; the freed bed goes to the first patient waiting for it."""
        unit.leave(patient, self.env.now)
        if unit.queue:
            self.serve(unit)

    def serve(self, unit: CareUnit) -> None:
        """Give the unit's free beds to its waiting list, in priority order."""
        queue = unit.queue
        now = self.env.now
        while queue and unit.census < unit.capacity:
            request = heapq.heappop(queue)[4]
            if request.unit is not None:  # already given a bed by another unit
                continue
            request.unit = unit
            unit.enter(request.patient, now, now - request.requested_at)
            if request.event is not None:
                request.event.succeed(unit)

    def set_capacity(self, unit: CareUnit, capacity: int) -> None:
        """Change the beds a unit can fill (beds opened or closed, nurses on duty)."""
        if capacity == unit.capacity:
            return
        unit.set_capacity(capacity, self.env.now)
        if unit.queue:
            self.serve(unit)
