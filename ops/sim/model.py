"""The hospital model: a SimPy discrete-event simulation of the ED, inpatient units, theatres and nurses.

:func:`simulate` is a pure function of (scenario, start state, seed): it builds the runtime state (beds,
waiting lists, counters) from the scenario, draws the run's demand from named random streams, runs the
clock and returns a :class:`~ops.sim.results.SimulationResult`. Nothing is written onto the scenario.

Flows (see ``docs/background/hospital-model.md``):

* ED: attendances arrive (hour of day x weekday x season x holidays x overrides, or a forecast); ambulances
  are diverted away while boarding is at the diversion threshold; patients wait for a trolley by triage
  category, are treated, then go home or are admitted to a service and a route; admitted patients board in
  the ED (keeping their trolley) until a bed is free on their first step, or are transferred out when that
  unit is a loss unit.
* Inpatient units: a stay per step of the route; moving on needs a bed on the next step, kept waiting in the
  current bed (bed blocking); the last stay ends at a discharge hour drawn from the discharge profile.
* Theatres: elective lists from block sessions (or a surgical plan), a case is cancelled when no
  post-operative bed is free at its start or when the session is over; cases run over into overtime; PACU
  bays are needed after each case (a full PACU holds the theatre); day cases go home; emergency cases queue
  for the emergency theatres.
* Nurses: each shift, the staff pools' nurses on duty are split over their units by open beds; the units'
  ratios give the nurses needed; a shortfall is met by agency nurses or closes beds, by policy.
"""

from __future__ import annotations

import contextlib
import gc
import math
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import polars as pl
import simpy

from ops.sim.beds import BedBoard, CareUnit
from ops.sim.calendar import SimulationCalendar, as_utc
from ops.sim.days import HospitalDays
from ops.sim.demand import (
    Attendances,
    ElectiveCases,
    EmergencyOperations,
    TheatreList,
    discharge_minutes_of_day,
    ed_attendances,
    emergency_operations,
    theatre_lists,
)
from ops.sim.distributions import (
    categorical,
    duration_minutes,
    mean_minutes,
    remaining_stay_minutes,
    residual_minutes,
)
from ops.sim.results import (
    ED_HOURLY_SCHEMA,
    EVENT_LOG_SCHEMA,
    NURSING_SCHEMA,
    OCCUPANCY_SCHEMA,
    THEATRE_SCHEMA,
    UNIT_FLOW_SCHEMA,
    PatientFlow,
    SimulationResult,
)
from ops.sim.series import LevelLog, hourly_sums
from ops.sim.state import SimulationOptions, StartState
from ops.sim.streams import RandomStreams
from scenarios.schema import PathwayStep, Scenario, UnitKind

ProcessGenerator = Generator[simpy.Event, Any, None]

_ACUITY_RANK = {"high": 0, "medium": 1, "low_medium": 2, "low": 3}
# Who gets a freed bed first: patients leaving PACU (theatres back up otherwise), then step-downs out of
# critical care, then the ED, then moves between wards.
_FROM_PACU, _FROM_CRITICAL_CARE, _FROM_ED, _FROM_WARD = 0, 1, 2, 3
_NO_CATEGORY = 9
_INPATIENT_KINDS = frozenset({UnitKind.WARD, UnitKind.ICU, UnitKind.STEP_DOWN, UnitKind.ASSESSMENT})
_CRITICAL_CARE = frozenset({UnitKind.ICU, UnitKind.STEP_DOWN})
_WINDOW_OPENS, _DAY_STARTS, _SHIFT_STARTS = 1, 2, 3
_COMPACT_AFTER_CHANGES = 200_000


@dataclass(frozen=True)
class StepPlan:
    """One step of a route, resolved to the runtime units that can take the patient."""

    units: tuple[CareUnit, ...]
    acuity_rank: int
    transfer_out: bool
    """The step's first unit is a loss unit (``SimulationOptions.transfer_out_when_full``)."""


class Patient:
    """A patient in the run (only what the model needs to move them)."""

    __slots__ = (
        "arrived",
        "category",
        "discharge_minute_of_day",
        "pid",
        "stays",
        "step",
        "steps",
        "unit",
        "waiting",
    )

    def __init__(
        self,
        pid: int,
        arrived: float,
        category: int,
        steps: tuple[StepPlan, ...],
        stays: list[float],
        discharge_minute_of_day: float,
    ) -> None:
        self.pid = pid
        self.arrived = arrived
        self.category = category
        self.steps = steps
        self.stays = stays
        self.discharge_minute_of_day = discharge_minute_of_day
        self.unit: CareUnit | None = None
        """Inpatient unit whose bed the patient holds (None in the ED, theatre or PACU)."""
        self.step = 0
        """Step of the route the patient is on."""
        self.waiting = False
        """Waiting in their bed for a bed on the next step."""


class _HospitalRun:
    """One run of the model: the SimPy environment and every piece of runtime state."""

    def __init__(
        self,
        scenario: Scenario,
        calendar: SimulationCalendar,
        streams: RandomStreams,
        options: SimulationOptions,
        start: StartState | None,
    ) -> None:
        self.scenario = scenario
        self.hospital = hospital = scenario.hospital
        self.calendar = calendar
        self.streams = streams
        self.options = options
        self.env = simpy.Environment()
        self.board = BedBoard(self.env)
        self.measure_from = measure_from = calendar.measure_from
        self.patients_per_nurse = {u.id: dict(u.patients_per_nurse) for u in hospital.units}
        hours = calendar.hours
        self.shift_table = _shift_table(scenario, calendar)
        self.shift_starts = np.array([start for start, _, _ in self.shift_table], dtype=np.float64)
        if self.shift_starts.size == 0:
            self.shift_starts = np.zeros(1)
        self.edges = np.union1d(np.arange(60.0, calendar.end, 60.0), self.shift_starts[self.shift_starts > 0])
        shifts = self.shift_starts.size
        self.units = [
            CareUnit(i, u.id, u.kind, measure_from, hours, shifts) for i, u in enumerate(hospital.units)
        ]
        self.unit_by_id = {u.id: u for u in self.units}
        self.days = HospitalDays(scenario)
        self._plan_nurses()
        unknown = options.transfer_out_when_full - set(self.unit_by_id)
        if unknown:
            raise ValueError(f"transfer_out_when_full names unknown unit(s) {sorted(unknown)}")
        self.ed_unit = self.unit_by_id[hospital.ed.unit]
        pacu = [u for u in self.units if u.kind == UnitKind.PACU]
        self.pacu = pacu[0] if pacu else None
        self.close_beds = hospital.policies.nurse_shortage == "close_beds"
        self.target_minutes = float(hospital.ed.target_minutes)
        self.diversion_threshold = hospital.ed.diversion_boarding_threshold
        self.discharge_profile = options.discharge_profile
        self._next_pid = 0

        # routes resolved to runtime units, by (elective, service index, pathway index)
        self.routes: dict[tuple[bool, int, int], tuple[StepPlan, ...]] = {}
        for s, service in enumerate(hospital.services):
            for p, pathway in enumerate(service.pathways):
                self.routes[(False, s, p)] = self._plan(pathway.steps)
            if service.surgery is not None:
                for p, pathway in enumerate(service.surgery.elective_pathways):
                    self.routes[(True, s, p)] = self._plan(pathway.steps)

        # ED counters by simulated hour (warm-up included; sliced at the end)
        self.ed_arrivals = [0] * hours
        self.ed_diverted = [0] * hours
        self.ed_seen = [0] * hours
        self.ed_wait_to_be_seen = [0.0] * hours
        self.ed_departures = [0] * hours
        self.ed_within_target = [0] * hours
        self.ed_time_in_department = [0.0] * hours
        self.ed_admitted = [0] * hours
        self.ed_boarding_minutes = [0.0] * hours
        self.ed_boarding_by_hour = np.zeros(hours)
        """Patient-minutes boarding in each hour."""
        self.ed_diversion_by_hour = np.zeros(hours)
        self.boarding = 0
        self.diverting = False
        self.boarding_log = LevelLog()

        # patient accounting over the whole run
        self.arrived_elective = self.arrived_start_state = 0
        self.left_ed_discharge = self.left_transfer_out = self.left_inpatient_discharge = 0
        self.left_day_case_home = self.left_elective_cancelled = 0
        self.on_table: dict[int, str] = {}
        """Patients in theatre now (patient id -> theatre), the only patients not in a unit's bed."""
        self.ambulances_diverted = 0
        self.log: list[tuple[float, int, str, str]] | None = [] if options.event_log else None
        self.labels: dict[int, str] = {}

        self.theatre_rows: list[dict[str, Any]] = []
        self._emergency_queue: deque[tuple[int, float]] = deque()
        """Emergency operations waiting for a theatre: (operation, minute requested)."""
        self._idle_theatres: list[tuple[bool, simpy.Event]] = []
        """Sessions waiting for emergency cases: (emergency theatre, event that wakes the session)."""
        self._operation_duration: list[float] = []
        self._operations = EmergencyOperations(
            np.empty(0), np.empty(0, dtype=np.intp), np.empty(0), np.empty(0)
        )
        self._operation_mean: list[float] = []
        self._recovering: dict[int, Patient] = {}
        """Emergency cases recovering in PACU (inpatients whose own bed is not modelled), by operation."""
        self._start_processes: list[Callable[[], ProcessGenerator]] = []
        self._load_start_state(start)

    # ---- set-up -----------------------------------------------------------------------------------
    def _plan(self, steps: Iterable[PathwayStep]) -> tuple[StepPlan, ...]:
        return tuple(
            StepPlan(
                units=tuple(self.unit_by_id[u] for u in step.units),
                acuity_rank=_ACUITY_RANK[step.acuity],
                transfer_out=step.units[0] in self.options.transfer_out_when_full,
            )
            for step in steps
        )

    def _new_patient_id(self) -> int:
        self._next_pid += 1
        return self._next_pid

    def _note(self, pid: int, event: str, place: str) -> None:
        if self.log is not None:
            self.log.append((self.env.now, pid, event, place))

    def _load_start_state(self, start: StartState | None) -> None:
        """Put the start state's patients in their beds and trolleys (a warm start)."""
        if start is None:
            return
        hospital = self.hospital
        generator = self.streams["start_state"]
        profile = hospital.policies.discharge_hourly_profile
        for inpatient in start.patients:
            where = f"start state: patient {inpatient.patient_id}"
            unit = self.unit_by_id.get(inpatient.unit)
            if unit is None:
                raise ValueError(f"{where} is on unknown unit '{inpatient.unit}'")
            if unit.kind in (UnitKind.ED, UnitKind.PACU):
                raise ValueError(
                    f"{where} is on unit '{inpatient.unit}' of kind {unit.kind.value}; give ED patients as "
                    "ed_patients"
                )
            if inpatient.service not in {s.id for s in hospital.services}:
                raise ValueError(f"{where} is under unknown service '{inpatient.service}'")
            if inpatient.acuity not in _ACUITY_RANK:
                raise ValueError(f"{where} has unknown acuity '{inpatient.acuity}'")
            uniforms = generator.random(2 + len(inpatient.remaining_steps))
            elapsed = max(inpatient.elapsed_hours, 0.0) * 60.0
            step = self._current_step(inpatient.unit, inpatient.service, inpatient.acuity)
            distribution = inpatient.length_of_stay or (step.length_of_stay if step is not None else None)
            later = [
                float(duration_minutes(step.length_of_stay, np.array([u]))[0])
                for step, u in zip(inpatient.remaining_steps, uniforms[2:], strict=True)
            ]
            if inpatient.remaining_stay is not None:
                # The twin's distribution is the time left until it leaves the hospital: the route is
                # walked with the scenario's stays and cut where that time runs out.
                remaining = remaining_stay_minutes(inpatient.remaining_stay, float(uniforms[0]), generator)
                here = (
                    residual_minutes(distribution, elapsed, float(generator.random()))
                    if distribution is not None
                    else remaining
                )
                inpatient_stays = route_within(remaining, [here, *later])
            else:
                if distribution is None:
                    raise ValueError(
                        f"{where}: no length-of-stay distribution for unit '{inpatient.unit}' (no pathway "
                        "step uses it); give the patient's length_of_stay or remaining_stay"
                    )
                inpatient_stays = [residual_minutes(distribution, elapsed, float(uniforms[0])), *later]
            steps_left = inpatient.remaining_steps[: len(inpatient_stays) - 1]
            # the patient can be moved (a ward closing) to the other units of the step they are on
            others = tuple(self.unit_by_id[u] for u in step.units if u != unit.id) if step is not None else ()
            current = StepPlan((unit, *others), _ACUITY_RANK[inpatient.acuity], False)
            pid = self._new_patient_id()
            patient = Patient(
                pid,
                -elapsed,
                _NO_CATEGORY,
                (current, *self._plan(steps_left)),
                inpatient_stays,
                float(discharge_minutes_of_day(profile, uniforms[1:2])[0]),
            )
            self.labels[pid] = inpatient.patient_id
            self.arrived_start_state += 1
            unit.place_at_start(patient, -elapsed)
            patient.unit = unit
            self._start_processes.append(partial(self._stay_from_start, patient, unit))

        triage = {t.category: (i, t) for i, t in enumerate(hospital.ed.triage)}
        shares = np.array([s.emergency_share for s in hospital.services])
        for waiting in start.ed_patients:
            where = f"start state: ED patient {waiting.patient_id}"
            if waiting.triage_category not in triage:
                raise ValueError(f"{where} has unknown triage category {waiting.triage_category}")
            c, category = triage[waiting.triage_category]
            uniforms = generator.random(5)
            elapsed = max(waiting.elapsed_hours, 0.0) * 60.0
            admit = waiting.awaiting_bed or bool(uniforms[0] < category.admit_probability)
            if waiting.service is not None:
                ids = [svc.id for svc in hospital.services]
                if waiting.service not in ids:
                    raise ValueError(f"{where} has unknown service '{waiting.service}'")
                s = ids.index(waiting.service)
            else:
                s = int(categorical(shares, uniforms[1:2])[0])
            service = hospital.services[s]
            steps: tuple[StepPlan, ...] = ()
            stays: list[float] = []
            if admit and service.pathways:
                route = int(
                    categorical(np.array([p.probability for p in service.pathways]), uniforms[2:3])[0]
                )
                steps = self.routes[(False, s, route)]
                stays = [
                    float(duration_minutes(step.length_of_stay, np.array([u]))[0])
                    for step, u in zip(
                        service.pathways[route].steps, generator.random(len(steps)), strict=True
                    )
                ]
            treatment_left = (
                0.0
                if waiting.awaiting_bed
                else residual_minutes(category.treatment, elapsed, float(uniforms[3]))
            )
            pid = self._new_patient_id()
            patient = Patient(
                pid, -elapsed, c + 1, steps, stays, float(discharge_minutes_of_day(profile, uniforms[4:5])[0])
            )
            self.labels[pid] = waiting.patient_id
            self.arrived_start_state += 1
            self.ed_unit.place_at_start(patient, -elapsed)
            self._start_processes.append(partial(self._ed_patient_from_start, patient, treatment_left))

    def _current_step(self, unit_id: str, service_id: str, acuity: str) -> PathwayStep | None:
        """The scenario's pathway step a start-state patient is most likely on.

        One of their service's steps on this unit (same acuity first), else any service's step on it, else
        None.
        """
        service = self.hospital.service(service_id)
        routes = list(service.pathways) + (list(service.surgery.elective_pathways) if service.surgery else [])
        candidates = [step for pathway in routes for step in pathway.steps if unit_id in step.units]
        if not candidates:
            candidates = [
                step
                for other in self.hospital.services
                for pathway in other.pathways
                for step in pathway.steps
                if unit_id in step.units
            ]
        same_acuity = [step for step in candidates if step.acuity == acuity]
        chosen = same_acuity or candidates
        return chosen[0] if chosen else None

    # ---- ED ---------------------------------------------------------------------------------------
    def _boarding_change(self, change: int) -> None:
        self.boarding += change
        self.diverting = self.boarding >= self.diversion_threshold
        self.boarding_log.set(self.env.now, self.boarding)

    def _ed_departure(self, patient: Patient, admitted_at: float | None) -> None:
        now = self.env.now
        hour = int(now // 60.0)
        in_department = now - patient.arrived
        self.ed_departures[hour] += 1
        self.ed_time_in_department[hour] += in_department
        if in_department <= self.target_minutes:
            self.ed_within_target[hour] += 1
        if admitted_at is not None:
            self.ed_admitted[hour] += 1
            self.ed_boarding_minutes[hour] += now - admitted_at

    def _arrivals(self, attendances: Attendances) -> ProcessGenerator:
        """Bring each attendance to the ED door; divert ambulances while the ED is on diversion."""
        env = self.env
        routes = self.routes
        services = attendances.service.tolist()
        pathways = attendances.pathway.tolist()
        self._attendance_route = [
            routes[(False, s, p)] if s >= 0 else () for s, p in zip(services, pathways, strict=True)
        ]
        self._attendance_category = (attendances.category + 1).tolist()
        self._attendance_treatment = attendances.treatment_minutes.tolist()
        self._attendance_stays = attendances.length_of_stay.tolist()
        self._attendance_discharge = attendances.discharge_minute_of_day.tolist()
        ambulance = attendances.ambulance.tolist()
        process = env.process
        timeout = env.timeout
        attendance = self._attendance
        last = 0.0
        for n, minute in enumerate(attendances.minute.tolist()):
            yield timeout(minute - last)
            last = minute
            if ambulance[n] and self.diverting:
                self.ambulances_diverted += 1
                self.ed_diverted[int(minute // 60.0)] += 1
                if self.log is not None:
                    self._note(0, "ambulance_diverted", self.ed_unit.id)
                continue
            process(attendance(n, minute))

    def _attendance(self, n: int, now: float) -> ProcessGenerator:
        """An ED attendance: a trolley by triage category, treatment, then home or admission."""
        env = self.env
        self._next_pid += 1
        pid = self._next_pid
        steps = self._attendance_route[n]
        category = self._attendance_category[n]
        patient = Patient(pid, now, category, steps, self._attendance_stays[n], self._attendance_discharge[n])
        ed = self.ed_unit
        hour = int(now // 60.0)
        self.ed_arrivals[hour] += 1
        if self.log is not None:
            self._note(pid, "arrival", ed.id)
        if ed.census < ed.capacity and not ed.queue:
            ed.enter(patient, now, 0.0)
            self.ed_seen[hour] += 1
        else:
            request = self.board.request(patient, (ed,), (0, 0, category))
            if request.event is not None:
                yield request.event
            seen = env.now
            hour = int(seen // 60.0)
            self.ed_seen[hour] += 1
            self.ed_wait_to_be_seen[hour] += seen - now
        if self.log is not None:
            self._note(pid, "seen", ed.id)
        yield env.timeout(self._attendance_treatment[n])
        if steps:
            yield from self._admit_from_ed(patient)
            return
        # home from the ED (the commonest path, written out in full)
        left = env.now
        ed.leave(patient, left)
        if ed.queue:
            self.board.serve(ed)
        hour = int(left // 60.0)
        in_department = left - now
        self.ed_departures[hour] += 1
        self.ed_time_in_department[hour] += in_department
        if in_department <= self.target_minutes:
            self.ed_within_target[hour] += 1
        self.left_ed_discharge += 1
        if self.log is not None:
            self._note(pid, "ed_discharge", ed.id)

    def _ed_patient_from_start(self, patient: Patient, treatment_left: float) -> ProcessGenerator:
        """A start-state ED patient: finish treatment, then home or admission."""
        if treatment_left > 0.0:
            yield self.env.timeout(treatment_left)
        if patient.steps:
            yield from self._admit_from_ed(patient)
        else:
            self._leave_ed_home(patient)

    def _leave_ed_home(self, patient: Patient) -> None:
        ed = self.ed_unit
        self.board.release(ed, patient)
        self._ed_departure(patient, None)
        self.left_ed_discharge += 1
        if self.log is not None:
            self._note(patient.pid, "ed_discharge", ed.id)

    def _admit_from_ed(self, patient: Patient) -> ProcessGenerator:
        """Decision to admit: board in the ED (keeping the trolley) until a bed on the first step is free."""
        env = self.env
        decided = env.now
        first = patient.steps[0]
        if self.log is not None:
            self._note(patient.pid, "decision_to_admit", self.ed_unit.id)
        if first.transfer_out and self.board.free_unit(first.units) is None:
            unit = first.units[0]
            if decided >= self.measure_from:
                unit.transfers_out += 1
            self.board.release(self.ed_unit, patient)
            self._ed_departure(patient, decided)
            self.left_transfer_out += 1
            if self.log is not None:
                self._note(patient.pid, "transfer_out", unit.id)
            return
        self._boarding_change(+1)
        request = self.board.request(patient, first.units, (_FROM_ED, first.acuity_rank, patient.category))
        if request.event is not None:
            yield request.event
        bed = request.unit
        assert bed is not None
        self._boarding_change(-1)
        self.board.release(self.ed_unit, patient)
        self._ed_departure(patient, decided)
        if self.log is not None:
            self._note(patient.pid, "admission", bed.id)
        yield from self._stay(patient, bed, 0)

    # ---- inpatient stays --------------------------------------------------------------------------
    def _stay_from_start(self, patient: Patient, unit: CareUnit) -> ProcessGenerator:
        # A start state can hold more patients than a unit has beds (escalation beds, a closure from day
        # 0); some may have been moved before this process starts, so the bed is wherever they are now.
        yield from self._stay(patient, patient.unit or unit, 0)

    def _stay(self, patient: Patient, unit: CareUnit, step: int) -> ProcessGenerator:
        """Stay on each remaining step of the route, moving on when the next bed is free, then go home.

        The patient's unit is read from ``patient.unit`` after each wait: a closing ward may have moved them.
        """
        env = self.env
        board = self.board
        steps = patient.steps
        stays = patient.stays
        last = len(steps) - 1
        patient.unit = unit
        patient.step = step
        while step < last:
            yield env.timeout(stays[step])
            unit = patient.unit
            following = steps[step + 1]
            patient.waiting = True
            unit.block(+1, env.now)
            source = _FROM_CRITICAL_CARE if unit.kind in _CRITICAL_CARE else _FROM_WARD
            request = board.request(patient, following.units, (source, following.acuity_rank, _NO_CATEGORY))
            if request.event is not None:
                yield request.event
            unit.block(-1, env.now)
            board.release(unit, patient)
            assert request.unit is not None
            unit = request.unit
            step += 1
            patient.unit = unit
            patient.step = step
            patient.waiting = False
            if self.log is not None:
                self._note(patient.pid, "transfer", unit.id)
        stay = stays[step]
        if self.discharge_profile:
            stay += self._discharge_shift(env.now + stay, patient.discharge_minute_of_day, stay)
        if stay > 0.0:
            yield env.timeout(stay)
        unit = patient.unit
        board.release(unit, patient)
        patient.unit = None
        self.left_inpatient_discharge += 1
        if self.log is not None:
            self._note(patient.pid, "discharge", unit.id)

    def _move_out_of_closed_beds(self) -> None:
        """Move patients out of beds that have closed (a ward closure) into free beds their step allows.

        Patients are moved newest first; those who cannot be moved now (no free bed on their step, or
        waiting to move on anyway) stay, and are tried again at the next shift or day. Beds closed for lack of
        nurses do not move anyone: nurses look after the patients already there.
        """
        now = self.env.now
        for unit in self.units:
            excess = unit.census - unit.beds_open
            if excess <= 0 or unit.kind not in _INPATIENT_KINDS:
                continue
            for patient, _ in reversed(list(unit.occupants.values())):
                if excess == 0:
                    break
                if patient.waiting or patient.unit is not unit or not patient.steps:
                    continue
                target = self.board.free_unit(
                    tuple(u for u in patient.steps[patient.step].units if u is not unit)
                )
                if target is None:
                    continue
                self.board.release(unit, patient)
                target.enter(patient, now, 0.0)
                patient.unit = target
                excess -= 1
                if self.log is not None:
                    self._note(patient.pid, "transfer", target.id)

    def _discharge_shift(self, ready: float, discharge_minute_of_day: float, stay: float) -> float:
        """Minutes to move a discharge from when the patient is ready to the patient's discharge time of day.

        The discharge happens at the occurrence of the patient's discharge time of day (drawn from the
        discharge profile) nearest to the end of their stay, never before they reached the unit: discharges
        follow the profile while the length of stay keeps its mean.
        """
        shift = (discharge_minute_of_day - self.calendar.local_minute_of_day(ready)) % 1440.0
        if shift > 720.0 and stay + shift - 1440.0 >= 0.0:
            shift -= 1440.0
        return shift

    # ---- theatres ---------------------------------------------------------------------------------
    def _theatre_days(self, sessions: list[TheatreList], cases: ElectiveCases) -> ProcessGenerator:
        """Open each theatre session at its start time."""
        env = self.env
        for session in sessions:
            if session.start > env.now:
                yield env.timeout(session.start - env.now)
            env.process(self._session(session, cases))

    def _session(self, session: TheatreList, cases: ElectiveCases) -> ProcessGenerator:
        """Run one theatre session: its elective list in order, then emergency cases."""
        env = self.env
        performed = cancelled_no_bed = cancelled_no_time = 0
        operating = in_session = 0.0
        emergency_done = 0
        emergency_wait = 0.0
        board = self.board
        place = f"theatre:{session.theatre}"
        for case in session.cases:
            now = env.now
            pid = self._new_patient_id()
            self.arrived_elective += 1
            day_case = bool(cases.day_case[case])
            service = int(cases.service[case])
            steps = () if day_case else self.routes[(True, service, int(cases.pathway[case]))]
            if session.closed or now >= session.end:
                cancelled_no_time += 1
                self.left_elective_cancelled += 1
                self._note(pid, "cancelled_no_time", place)
                continue
            if steps and board.free_unit(steps[0].units) is None:
                cancelled_no_bed += 1
                self.left_elective_cancelled += 1
                self._note(pid, "cancelled_no_bed", place)
                continue
            patient = Patient(
                pid,
                now,
                _NO_CATEGORY,
                steps,
                cases.length_of_stay[case].tolist(),
                float(cases.discharge_minute_of_day[case]),
            )
            self.on_table[pid] = session.theatre
            self._note(pid, "operation_start", place)
            duration = float(cases.duration_minutes[case])
            yield env.timeout(duration)
            performed += 1
            operating += duration
            in_session += max(min(env.now, session.end) - max(now, session.start), 0.0)
            yield from self._to_recovery(patient)
            env.process(self._recover(patient, float(cases.recovery_minutes[case]), day_case))

        # Emergency cases: the emergency theatres take them during their session and carry on past its end
        # while any are waiting (the on-call team); elective theatres fill the rest of their session with
        # cases expected to finish in time.
        queue = self._emergency_queue
        while not session.closed:
            now = env.now
            if not queue:
                if now >= session.end:
                    break
                wake = env.event()
                self._idle_theatres.append((session.emergency, wake))
                env.timeout(session.end - now).callbacks.append(partial(_wake, wake))
                yield wake
                continue
            operation = queue[0][0]
            if not session.emergency and now + self._operation_mean[operation] > session.end:
                self._wake_idle_theatre()  # not enough time left here: let another theatre take it
                break
            _, requested = queue.popleft()
            emergency_wait += now - requested
            duration = self._operation_duration[operation]
            yield env.timeout(duration)
            emergency_done += 1
            operating += duration
            in_session += max(min(env.now, session.end) - max(now, session.start), 0.0)
            pacu = self.pacu
            if pacu is not None:
                recovering = Patient(-operation - 1, now, 0, (), [], 0.0)
                self._recovering[operation] = recovering
                request = board.request(recovering, (pacu,), (0, 0, 0))
                if request.event is not None:
                    yield request.event
                env.process(self._emergency_recovery(operation))
        if session.run_day >= 0:
            self.theatre_rows.append(
                {
                    "theatre": session.theatre,
                    "day": session.run_day,
                    "service": session.service,
                    "emergency": session.emergency,
                    "session_minutes": 0.0 if session.closed else session.end - session.start,
                    "cases_booked": len(session.cases),
                    "cases_unbooked": session.unbooked,
                    "cases_performed": performed,
                    "cancelled_no_bed": cancelled_no_bed,
                    "cancelled_no_time": cancelled_no_time,
                    "operating_minutes": operating,
                    "operating_minutes_in_session": in_session,
                    "overtime_minutes": 0.0 if session.closed else max(env.now - session.end, 0.0),
                    "emergency_cases": emergency_done,
                    "emergency_wait_minutes": emergency_wait,
                }
            )

    def _to_recovery(self, patient: Patient) -> ProcessGenerator:
        """Move a patient from the table to a PACU bay; the theatre waits while PACU is full."""
        if self.pacu is None:
            return
        request = self.board.request(patient, (self.pacu,), (0, 0, 0))
        if request.event is not None:
            yield request.event
        del self.on_table[patient.pid]

    def _recover(self, patient: Patient, recovery: float, day_case: bool) -> ProcessGenerator:
        """Recovery in PACU, then home (day case) or to a post-operative bed (waiting in PACU for one)."""
        env = self.env
        board = self.board
        if recovery > 0.0:
            yield env.timeout(recovery)
        pacu = self.pacu
        if pacu is None:  # recovered next to the theatre
            del self.on_table[patient.pid]
        if day_case or not patient.steps:
            if pacu is not None:
                board.release(pacu, patient)
            self.left_day_case_home += 1
            self._note(patient.pid, "day_case_home", pacu.id if pacu is not None else "theatre")
            return
        first = patient.steps[0]
        if pacu is not None:
            pacu.block(+1, env.now)
        request = board.request(patient, first.units, (_FROM_PACU, first.acuity_rank, _NO_CATEGORY))
        if request.event is not None:
            yield request.event
        if pacu is not None:
            pacu.block(-1, env.now)
            board.release(pacu, patient)
        assert request.unit is not None
        self._note(patient.pid, "admission", request.unit.id)
        yield from self._stay(patient, request.unit, 0)

    def _emergency_recovery(self, operation: int) -> ProcessGenerator:
        recovery = float(self._operations.recovery_minutes[operation])
        if recovery > 0.0:
            yield self.env.timeout(recovery)
        assert self.pacu is not None
        self.board.release(self.pacu, self._recovering.pop(operation))

    def _emergency_requests(self, operations: EmergencyOperations) -> ProcessGenerator:
        """Queue each emergency operation when it is requested and wake an idle theatre for it."""
        env = self.env
        last = 0.0
        for operation, minute in enumerate(operations.minute.tolist()):
            yield env.timeout(minute - last)
            last = minute
            self._emergency_queue.append((operation, minute))
            self._wake_idle_theatre()

    def _wake_idle_theatre(self) -> None:
        """Wake one theatre waiting in its session for emergency cases, an emergency theatre first."""
        idle = self._idle_theatres
        idle[:] = [(emergency, wake) for emergency, wake in idle if not wake.triggered]  # sessions ended
        if not idle:
            return
        chosen = next((i for i, (emergency, _) in enumerate(idle) if emergency), 0)
        _, wake = idle.pop(chosen)
        wake.succeed()

    # ---- the clock: days and shifts ---------------------------------------------------------------
    def _capacity(self, unit: CareUnit) -> int:
        if self.close_beds and unit.staffed:
            return min(unit.beds_open, unit.nurse_capacity())
        return unit.beds_open

    def _open_beds(self, run_day: int) -> None:
        """Open the day's beds on each unit."""
        beds = self.days.beds(run_day)
        for unit in self.units:
            unit.beds_open = beds[unit.id]
            self.board.set_capacity(unit, self._capacity(unit))

    def _plan_nurses(self) -> None:
        """Nurses on duty on each unit for every shift of the run.

        Each staff pool's nurses on duty (``timeline.nurses_on_duty``) are split over its units in proportion
        to their open beds that day.
        """
        hospital = self.hospital
        for k, (_, run_day, shift_index) in enumerate(self.shift_table):
            shift = hospital.shifts[shift_index]
            beds_today = self.days.beds(run_day)
            for pool in hospital.staff_pools:
                on_duty = self.days.nurses(pool.id, shift.id, run_day)
                total = sum(beds_today[u] for u in pool.units)
                for unit_id in pool.units:
                    unit = self.unit_by_id[unit_id]
                    share = beds_today[unit_id] / total if total > 0 else 1.0 / len(pool.units)
                    unit.staffed = True
                    unit.nurses_by_shift[k] += on_duty * share
                    unit.patients_per_nurse_by_shift[k] = self.patients_per_nurse[unit_id][shift.id]
        for unit in self.units:
            if unit.staffed:
                unit.start_shift(0)

    def _staff_shift(self, shift: int) -> None:
        """Start shift number ``shift`` of the run: its nurses on duty, and the beds they can staff."""
        for unit in self.units:
            if unit.staffed:
                unit.start_shift(shift)
                self.board.set_capacity(unit, self._capacity(unit))

    def _open_window(self) -> None:
        for unit in self.units:
            unit.inside_at_start = unit.census

    def _compact(self, until: float) -> None:
        """Integrate the level logs into hourly and per-shift totals (keeps memory bounded)."""
        for unit in self.units:
            unit.compact(until, self.shift_starts)
        start, level, duration = self.boarding_log.segments(until, self.edges)
        hours = self.calendar.hours
        self.ed_boarding_by_hour += hourly_sums(start, level * duration, hours)
        diverting = (level >= self.diversion_threshold).astype(np.float64)
        self.ed_diversion_by_hour += hourly_sums(start, diverting * duration, hours)
        self.boarding_log.restart(until)

    def _clock(self, timetable: list[tuple[float, int, int]]) -> ProcessGenerator:
        env = self.env
        for minute, kind, value in timetable:
            if minute > env.now:
                yield env.timeout(minute - env.now)
            if kind == _WINDOW_OPENS:
                self._open_window()
            elif kind == _DAY_STARTS:
                self._open_beds(value)
                self._move_out_of_closed_beds()
                if sum(unit.log_size() for unit in self.units) > _COMPACT_AFTER_CHANGES:
                    self._compact(env.now)
            else:
                self._staff_shift(value)
                self._move_out_of_closed_beds()

    def _timetable(self) -> list[tuple[float, int, int]]:
        """Clock events (minute, kind, day or shift number) after minute 0."""
        calendar = self.calendar
        events: list[tuple[float, int, int]] = []
        if calendar.measure_from > 0:
            events.append((calendar.measure_from, _WINDOW_OPENS, 0))
        for d in calendar.days():
            midnight = calendar.minute_at(d, "00:00")
            if 0.0 < midnight < calendar.end:
                events.append((midnight, _DAY_STARTS, d))
        for k, (start, _, _) in enumerate(self.shift_table):
            if start > 0.0:
                events.append((start, _SHIFT_STARTS, k))
        events.sort(key=lambda e: (e[0], e[1]))
        return events

    # ---- run --------------------------------------------------------------------------------------
    def run(self, start: StartState | None) -> SimulationResult:
        env = self.env
        calendar = self.calendar
        options = self.options
        forecast = start.arrival_forecast if start is not None else None
        attendances = ed_attendances(self.scenario, calendar, self.streams, options.ambulance_share, forecast)
        self._operations = emergency_operations(self.scenario, calendar, self.streams)
        service_mean = [
            mean_minutes(svc.surgery.duration) if svc.surgery is not None else 0.0
            for svc in self.hospital.services
        ]
        self._operation_mean = [service_mean[s] for s in self._operations.service.tolist()]
        self._operation_duration = self._operations.duration_minutes.tolist()
        sessions, cases = theatre_lists(
            self.scenario, calendar, self.streams, options.surgical_plan, self.days
        )

        timetable = self._timetable()
        self._open_beds(calendar.first_day)
        if self.shift_table:
            self._staff_shift(0)
        self._move_out_of_closed_beds()
        if calendar.measure_from == 0.0:
            self._open_window()
        for make in self._start_processes:
            env.process(make())
        env.process(self._clock(timetable))
        env.process(self._arrivals(attendances))
        env.process(self._emergency_requests(self._operations))
        env.process(self._theatre_days(sessions, cases))
        with _relaxed_garbage_collection():
            env.run(until=calendar.end)

        end = calendar.end
        self._compact(end)
        return self._result(end)

    def _nursing_frame(self, end: float) -> pl.DataFrame:
        """One row per staffed unit and shift starting in the run (:data:`NURSING_SCHEMA`)."""
        starts = self.shift_starts
        in_run = [k for k, (start, _, _) in enumerate(self.shift_table) if self.measure_from <= start < end]
        staffed = [unit for unit in self.units if unit.staffed]
        agency = 0.0 if self.close_beds else 1.0
        shift_ids = [self.hospital.shifts[self.shift_table[k][2]].id for k in in_run]
        days = [self.shift_table[k][1] for k in in_run]
        index = np.array(in_run, dtype=np.intp)
        shortfall = (
            np.concatenate([u.shortfall_minutes_by_shift[index] for u in staffed]) / 60.0
            if staffed
            else np.zeros(0)
        )
        return pl.DataFrame(
            {
                "unit": [unit.id for unit in staffed for _ in in_run],
                "day": days * len(staffed),
                "shift": shift_ids * len(staffed),
                "t": pl.concat([_utc_times(self.calendar, starts[index])] * len(staffed)) if staffed else [],
                "nurses_on_duty": np.concatenate([u.nurses_by_shift[index] for u in staffed])
                if staffed
                else [],
                "patient_hours": (
                    np.concatenate([u.patient_minutes_by_shift[index] for u in staffed]) / 60.0
                    if staffed
                    else []
                ),
                "shortfall_nurse_hours": shortfall,
                "agency_nurse_hours": shortfall * agency,
            },
            schema=NURSING_SCHEMA,
        )

    def _result(self, end: float) -> SimulationResult:
        calendar = self.calendar
        first_hour = calendar.warm_up_days * 24
        hours = calendar.hours
        window = slice(first_hour, hours)
        n_hours = hours - first_hour
        unit_ids = [u.id for u in self.units]
        hour_starts = pl.datetime_range(
            calendar.utc(first_hour * 60.0),
            calendar.utc((hours - 1) * 60.0),
            interval="1h",
            time_unit="us",
            time_zone="UTC",
            eager=True,
        )
        occupancy = pl.DataFrame(
            {
                "unit": pl.Series(unit_ids, dtype=pl.String).gather(
                    np.repeat(np.arange(len(unit_ids)), n_hours)
                ),
                "t": pl.concat([hour_starts] * len(unit_ids)) if unit_ids else hour_starts.clear(),
                "beds_open": np.concatenate([u.capacity_by_hour[window] for u in self.units]) / 60.0,
                "occupied": np.concatenate([u.census_by_hour[window] for u in self.units]) / 60.0,
                "waiting_to_move": np.concatenate([u.blocked_by_hour[window] for u in self.units]) / 60.0,
            },
            schema=OCCUPANCY_SCHEMA,
        )
        ed = pl.DataFrame(
            {
                "t": hour_starts,
                "arrivals": self.ed_arrivals[window],
                "ambulances_diverted": self.ed_diverted[window],
                "seen": self.ed_seen[window],
                "wait_to_be_seen_minutes": self.ed_wait_to_be_seen[window],
                "departures": self.ed_departures[window],
                "departures_within_target": self.ed_within_target[window],
                "time_in_department_minutes": self.ed_time_in_department[window],
                "admitted": self.ed_admitted[window],
                "boarding_minutes": self.ed_boarding_minutes[window],
                "boarding": self.ed_boarding_by_hour[window] / 60.0,
                "diversion_minutes": self.ed_diversion_by_hour[window],
            },
            schema=ED_HOURLY_SCHEMA,
        )
        nursing = self._nursing_frame(end)
        theatres = pl.DataFrame(self.theatre_rows, schema=THEATRE_SCHEMA).sort("day", "theatre")
        measure_from = self.measure_from
        flow_rows = []
        for unit in self.units:
            window_stay = unit.window_stay_minutes + sum(
                end - max(entered, measure_from) for _, entered in unit.occupants.values()
            )
            flow_rows.append(
                {
                    "unit": unit.id,
                    "kind": unit.kind.value,
                    "window_hours": (end - measure_from) / 60.0,
                    "inside_at_start": unit.inside_at_start,
                    "entries": unit.entries,
                    "exits": unit.exits,
                    "inside_at_end": unit.census,
                    "census_patient_hours": math.fsum(unit.census_by_hour[window]) / 60.0,
                    "window_stay_hours": window_stay / 60.0,
                    "exit_stay_hours": unit.exit_stay_minutes / 60.0,
                    "entries_waited": unit.entries_waited,
                    "bed_wait_hours": unit.wait_minutes / 60.0,
                    "transfers_out": unit.transfers_out,
                    "blocked_patient_hours": math.fsum(unit.blocked_by_hour[window]) / 60.0,
                }
            )
        unit_flow = pl.DataFrame(flow_rows, schema=UNIT_FLOW_SCHEMA)
        inside: dict[str, int] = {}
        for unit in self.units:
            patients = sum(1 for pid in unit.occupants if pid > 0)  # negative ids: emergency cases in PACU
            if patients:
                inside[unit.id] = patients
        for theatre in self.on_table.values():
            key = f"theatre:{theatre}"
            inside[key] = inside.get(key, 0) + 1
        flow = PatientFlow(
            arrived={
                "ed": sum(self.ed_arrivals),
                "elective": self.arrived_elective,
                "start_state": self.arrived_start_state,
            },
            left={
                "ed_discharge": self.left_ed_discharge,
                "transfer_out": self.left_transfer_out,
                "inpatient_discharge": self.left_inpatient_discharge,
                "day_case_home": self.left_day_case_home,
                "elective_cancelled": self.left_elective_cancelled,
            },
            inside=inside,
            ambulances_diverted=self.ambulances_diverted,
        )
        event_log = None
        if self.log is not None:
            event_log = pl.DataFrame(
                [
                    (calendar.utc(minute), self.labels.get(pid, f"P{pid}") if pid > 0 else "", event, place)
                    for minute, pid, event, place in self.log
                ],
                schema=EVENT_LOG_SCHEMA,
                orient="row",
            )
        return SimulationResult(
            scenario=self.scenario.name,
            scenario_digest=self.scenario.digest(),
            start=calendar.run_start,
            horizon_days=calendar.horizon_days,
            warm_up_days=calendar.warm_up_days,
            nurse_shortage_policy=self.hospital.policies.nurse_shortage,
            costs=self.hospital.costs,
            occupancy=occupancy,
            ed=ed,
            nursing=nursing,
            theatres=theatres,
            unit_flow=unit_flow,
            flow=flow,
            event_log=event_log,
            simpy_events=_events_scheduled(self.env),
            inpatient_units=tuple(u.id for u in self.units if u.kind in _INPATIENT_KINDS),
        )


def route_within(total: float, stays: list[float]) -> list[float]:
    """Stays on the steps of a route cut to last ``total`` in all [minutes].

    The steps are taken in order with their own stays until ``total`` runs out: the step where it does is
    the last one, shortened to what is left; when the route ends first, its last step is lengthened.

    Examples
    --------
    >>> route_within(10.0, [4.0, 20.0, 5.0])
    [4.0, 6.0]
    >>> route_within(40.0, [4.0, 20.0, 5.0])
    [4.0, 20.0, 16.0]
    """
    kept: list[float] = []
    used = 0.0
    for number, stay in enumerate(stays):
        if used + stay >= total or number == len(stays) - 1:
            kept.append(max(total - used, 0.0))
            return kept
        kept.append(stay)
        used += stay
    return [max(total, 0.0)]


def _wake(wake: simpy.Event, _: simpy.Event) -> None:
    """Timeout callback ending a theatre's wait for emergency cases at the end of its session."""
    if not wake.triggered:
        wake.succeed()


def _shift_table(scenario: Scenario, calendar: SimulationCalendar) -> list[tuple[float, int, int]]:
    """Nursing shifts of the run as (start minute, day, shift index), in order.

    The first is the shift already on at minute 0 (it started at or before it). Empty when the hospital has
    no staff pools.
    """
    hospital = scenario.hospital
    if not hospital.staff_pools:
        return []
    starts = [
        (calendar.minute_at(d, shift.start), d, i)
        for d in range(calendar.first_day - 1, calendar.last_day + 1)
        for i, shift in enumerate(hospital.shifts)
    ]
    starts.sort()
    current = max((s for s in starts if s[0] <= 0.0), default=starts[0])
    return [current] + [s for s in starts if 0.0 < s[0] < calendar.end]


def _utc_times(calendar: SimulationCalendar, minutes: Iterable[float]) -> pl.Series:
    """UTC datetimes of simulation minutes, as a polars series (no Python datetimes)."""
    origin = np.datetime64(calendar.origin.replace(tzinfo=None), "us")
    offsets = np.round(np.asarray(list(minutes), dtype=np.float64) * 60e6).astype("timedelta64[us]")
    return pl.Series(origin + offsets).dt.replace_time_zone("UTC")


@contextlib.contextmanager
def _relaxed_garbage_collection() -> Iterator[None]:
    """Collect garbage less often while the clock runs.

    A run allocates many short-lived SimPy events and generators; the default thresholds make the cyclic
    collector scan them thousands of times for little gain (about a sixth of the run time). The previous
    thresholds are restored afterwards.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], 50_000), thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def _events_scheduled(env: simpy.Environment) -> int:
    """SimPy events scheduled so far (SimPy numbers each scheduled event from a counter)."""
    counter = getattr(env, "_eid", None)
    return int(next(counter)) if counter is not None else 0


def simulate(
    scenario: Scenario,
    start: StartState | None = None,
    seed: int | np.random.SeedSequence = 0,
    horizon_days: int | None = None,
    options: SimulationOptions | None = None,
) -> SimulationResult:
    """Run the hospital model once.

    Parameters
    ----------
    scenario
        The hospital and its what-if overrides; it is read, never changed.
    start
        The hospital now (a warm start from the patient twins). ``None`` starts from an empty hospital at
        ``options.start``, after ``options.warm_up_days`` of warm-up.
    seed
        Seed of the run's random streams (an integer or a ``SeedSequence``); the same seed gives the same
        result in any process.
    horizon_days
        Days to simulate from the start; the scenario's ``horizon_days`` when ``None``.
    options
        How to run (see :class:`~ops.sim.state.SimulationOptions`).

    Returns
    -------
    SimulationResult
        Frames of hourly occupancy, ED, nursing, theatre sessions and flow per unit, and the patient flow.

    Examples
    --------
    >>> from scenarios import load_scenario, scenario_path
    >>> result = simulate(load_scenario(scenario_path("baseline")), seed=1, horizon_days=1)
    >>> result.flow.total_arrived == result.flow.total_left + result.flow.total_inside
    True
    """
    options = options or SimulationOptions()
    horizon = scenario.horizon_days if horizon_days is None else horizon_days
    if start is not None and options.warm_up_days > 0:
        raise ValueError("a warm start (start state) and a warm-up period exclude each other")
    run_start = as_utc(start.now) if start is not None else as_utc(options.start)
    calendar = SimulationCalendar(
        run_start, scenario.hospital.timezone, options.warm_up_days, horizon, scenario.hospital.seasonality
    )
    run = _HospitalRun(scenario, calendar, RandomStreams(seed), options, start)
    return run.run(start)


__all__ = ["Patient", "StepPlan", "simulate"]
