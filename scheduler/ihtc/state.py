"""The solver's working plan (positions, not ids) and the ward occupancy it implies."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from scheduler.ihtc.solution import AdmissionPlan, NurseShiftAssignment, PatientAdmission
from scheduler.ihtc.tables import NO_NURSE, ProblemTables

__all__ = ["NOT_ADMITTED", "Occupancy", "PlanState", "measure_occupancy", "nurse_loads"]

NOT_ADMITTED = -1
"""``admission_day`` of a patient who is not admitted."""


@dataclass
class PlanState:
    """A mutable plan by position: per patient day/room/theater, per room and shift the covering nurse.

    Every room-shift of a rostered shift carries a nurse (also empty rooms, whose nurse costs nothing), so
    that moving a patient into a room never leaves them uncovered.
    """

    admission_day: list[int]
    room: list[int]
    theater: list[int]
    nurse_of: list[list[int]]
    """``nurse_of[r][σ]``: nurse covering room r in global shift σ, or ``NO_NURSE``."""
    room_version: list[int]
    """Version of each room's nurses: whoever changes ``nurse_of[r]`` gives room r a new, larger number
    (caches of nurse-dependent costs are keyed by it)."""

    @classmethod
    def empty(cls, tables: ProblemTables) -> PlanState:
        """A plan that admits nobody and covers no room."""
        patients = tables.patient_count
        return cls(
            admission_day=[NOT_ADMITTED] * patients,
            room=[-1] * patients,
            theater=[-1] * patients,
            nurse_of=[[NO_NURSE] * tables.shift_count for _ in range(tables.room_count)],
            room_version=[0] * tables.room_count,
        )

    def copy(self) -> PlanState:
        """An independent copy."""
        return PlanState(
            admission_day=list(self.admission_day),
            room=list(self.room),
            theater=list(self.theater),
            nurse_of=[list(row) for row in self.nurse_of],
            room_version=list(self.room_version),
        )

    def admitted(self, patient: int) -> bool:
        """True when the patient is admitted."""
        return self.admission_day[patient] != NOT_ADMITTED

    def to_plan(self, tables: ProblemTables, occupancy: Occupancy | None = None) -> AdmissionPlan:
        """The plan with instance ids; nurses are listed only for occupied room-shifts.

        Parameters
        ----------
        tables
            Tables of the instance.
        occupancy
            Occupancy of this plan, when already measured.

        Returns
        -------
        AdmissionPlan
            The plan in the competition's terms.
        """
        instance = tables.instance
        occupancy = occupancy or measure_occupancy(tables, self)
        admissions = tuple(
            PatientAdmission(
                patient_id=instance.patients[p].id,
                admission_day=self.admission_day[p],
                room_id=instance.rooms[self.room[p]].id,
                operating_theater_id=instance.operating_theaters[self.theater[p]].id,
            )
            for p in range(tables.patient_count)
            if self.admitted(p)
        )
        unscheduled = tuple(
            instance.patients[p].id for p in range(tables.patient_count) if not self.admitted(p)
        )
        rooms_by_nurse_shift: dict[tuple[int, int], list[str]] = {}
        for r in range(tables.room_count):
            for sigma in range(tables.shift_count):
                nurse = self.nurse_of[r][sigma]
                if nurse != NO_NURSE and occupancy.count[r][sigma // tables.shifts_per_day] > 0:
                    rooms_by_nurse_shift.setdefault((nurse, sigma), []).append(instance.rooms[r].id)
        assignments = []
        for nurse, sigma in sorted(rooms_by_nurse_shift):
            day, k = divmod(sigma, tables.shifts_per_day)
            assignments.append(
                NurseShiftAssignment(
                    nurse_id=instance.nurses[nurse].id,
                    day=day,
                    shift=instance.shift_types[k],
                    room_ids=tuple(rooms_by_nurse_shift[(nurse, sigma)]),
                )
            )
        return AdmissionPlan(admissions, tuple(assignments), unscheduled)

    @classmethod
    def from_plan(cls, tables: ProblemTables, plan: AdmissionPlan) -> PlanState:
        """The working form of a plan (for a warm start); nurse shifts outside the roster are dropped."""
        instance = tables.instance
        state = cls.empty(tables)
        patient_index = {p.id: i for i, p in enumerate(instance.patients)}
        room_index = {r.id: i for i, r in enumerate(instance.rooms)}
        theater_index = {t.id: i for i, t in enumerate(instance.operating_theaters)}
        nurse_index = {n.id: i for i, n in enumerate(instance.nurses)}
        shift_index = {name: k for k, name in enumerate(instance.shift_types)}
        for admission in plan.admissions:
            p = patient_index[admission.patient_id]
            state.admission_day[p] = admission.admission_day
            state.room[p] = room_index[admission.room_id]
            state.theater[p] = theater_index[admission.operating_theater_id]
        for assignment in plan.nurse_assignments:
            nurse = nurse_index[assignment.nurse_id]
            sigma = assignment.day * tables.shifts_per_day + shift_index[assignment.shift]
            if tables.nurse_max_load[nurse][sigma] < 0:
                continue
            for room_id in assignment.room_ids:
                state.nurse_of[room_index[room_id]][sigma] = nurse
        return state


@dataclass
class Occupancy:
    """Who is in which room: counts per room and day, workload and required skills per room and shift.

    Persons are numbered occupants first (0..O-1), then patients (O + p).
    """

    count: list[list[int]]
    gender_a: list[list[int]]
    gender_b: list[list[int]]
    age_min: list[list[int]]
    """Youngest age-group position per room-day (``age_group_count`` when empty)."""
    age_max: list[list[int]]
    """Oldest age-group position per room-day (-1 when empty)."""
    load: list[list[int]]
    """Workload per room and shift."""
    skill_needs: list[list[list[int]]]
    """Required skill level of each person present, per room and shift."""
    persons: list[list[list[int]]]
    """Persons present per room and day."""


def _add_person(
    occupancy: Occupancy,
    tables: ProblemTables,
    person: int,
    room: int,
    first_day: int,
    length_of_stay: int,
    gender_a: bool,
    age: int,
    workload: tuple[int, ...],
    skill: tuple[int, ...],
) -> None:
    shifts_per_day = tables.shifts_per_day
    for day in range(first_day, min(first_day + length_of_stay, tables.days)):
        occupancy.count[room][day] += 1
        if gender_a:
            occupancy.gender_a[room][day] += 1
        else:
            occupancy.gender_b[room][day] += 1
        occupancy.age_min[room][day] = min(occupancy.age_min[room][day], age)
        occupancy.age_max[room][day] = max(occupancy.age_max[room][day], age)
        occupancy.persons[room][day].append(person)
        for k in range(shifts_per_day):
            sigma = day * shifts_per_day + k
            entry = sigma - shifts_per_day * first_day
            occupancy.load[room][sigma] += workload[entry]
            occupancy.skill_needs[room][sigma].append(skill[entry])


def measure_occupancy(
    tables: ProblemTables, state: PlanState, left_out: Collection[int] = frozenset()
) -> Occupancy:
    """Occupancy of the ward under a plan, leaving out some patients (those a neighbourhood will move).

    Parameters
    ----------
    tables
        Tables of the instance.
    state
        The plan.
    left_out
        Patient positions to ignore.

    Returns
    -------
    Occupancy
        Counts, genders, ages, workload and skill needs per room and day/shift (occupants included).
    """
    rooms, days, shifts = tables.room_count, tables.days, tables.shift_count
    occupancy = Occupancy(
        count=[[0] * days for _ in range(rooms)],
        gender_a=[[0] * days for _ in range(rooms)],
        gender_b=[[0] * days for _ in range(rooms)],
        age_min=[[tables.age_group_count] * days for _ in range(rooms)],
        age_max=[[-1] * days for _ in range(rooms)],
        load=[[0] * shifts for _ in range(rooms)],
        skill_needs=[[[] for _ in range(shifts)] for _ in range(rooms)],
        persons=[[[] for _ in range(days)] for _ in range(rooms)],
    )
    occupant_count = len(tables.occupant_room)
    for o in range(occupant_count):
        _add_person(
            occupancy,
            tables,
            o,
            tables.occupant_room[o],
            0,
            tables.occupant_length_of_stay[o],
            tables.occupant_gender_a[o],
            tables.occupant_age[o],
            tables.occupant_workload[o],
            tables.occupant_skill_required[o],
        )
    for p in range(tables.patient_count):
        if not state.admitted(p) or p in left_out:
            continue
        _add_person(
            occupancy,
            tables,
            occupant_count + p,
            state.room[p],
            state.admission_day[p],
            tables.patient_length_of_stay[p],
            tables.patient_gender_a[p],
            tables.patient_age[p],
            tables.patient_workload[p],
            tables.patient_skill_required[p],
        )
    return occupancy


def nurse_loads(tables: ProblemTables, state: PlanState, occupancy: Occupancy) -> list[list[int]]:
    """Workload each nurse carries in each shift under the plan: ``loads[n][σ]``."""
    loads = [[0] * tables.shift_count for _ in range(tables.nurse_count)]
    for r in range(tables.room_count):
        for sigma in range(tables.shift_count):
            nurse = state.nurse_of[r][sigma]
            if nurse != NO_NURSE:
                loads[nurse][sigma] += occupancy.load[r][sigma]
    return loads
