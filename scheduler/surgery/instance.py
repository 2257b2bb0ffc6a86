"""From the hospital and its elective waiting list to an IHTC-2024 :class:`~scheduler.ihtc.Instance`.

The mapping (see ``docs/reference/surgical-plan.md``):

* surgeons are the scenario's surgical firms (one per service and theatre holding its sessions); a firm's
  daily minutes are its session's minutes, so each service stays within its block time;
* operating theaters are the elective theatres, open for the minutes of their service sessions;
* rooms are the bays of the surgical wards' elective beds, plus day-case trolley areas (one per sex and age
  group, never short of space) where day cases spend their surgery day;
* nurses are those on duty on the elective bays, from a roster when given, else from the staff pools'
  establishment; a nurse can absorb ``2 x patients_per_nurse`` workload units in a shift (a post-operative
  patient makes 3 units a shift on the day of surgery, 2 afterwards);
* occupants are elective patients already in a surgical ward bed at day 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from scenarios.schema import Scenario
from scenarios.timeline import beds_on
from scheduler.ihtc import Instance
from scheduler.ihtc.instance import (
    Nurse,
    Occupant,
    OperatingTheater,
    Room,
    Surgeon,
    SurgicalPatient,
    Weights,
    WorkingShift,
)
from scheduler.surgery.hospital import (
    Bay,
    SurgicalFirm,
    elective_bays,
    elective_beds_by_ward,
    surgical_firms,
    ward_nurses_on_duty,
)
from scheduler.surgery.waiting_list import AGE_GROUPS, SEXES, WAITING_LIST_SCHEMA, check_waiting_list

__all__ = [
    "DAY_CASE_AREA",
    "NURSE_ROSTER_SCHEMA",
    "OCCUPANTS_SCHEMA",
    "PlanWeights",
    "SurgicalInstance",
    "build_surgical_instance",
    "nurse_roster_from_assignments",
]

OCCUPANTS_SCHEMA: dict[str, pl.DataType] = {
    "patient_id": pl.String(),
    "ward": pl.String(),
    "sex": pl.String(),
    "age_group": pl.String(),
    "remaining_days": pl.Int64(),
}
"""Elective patients in a surgical ward bed at day 0: ward, sex (null = unknown), age group (null =
unknown) and days still to stay, counting day 0 [days, >= 1]."""

NURSE_ROSTER_SCHEMA: dict[str, pl.DataType] = {
    "nurse": pl.String(),
    "day": pl.Int64(),
    "shift": pl.String(),
}
"""Nurses rostered on the elective bays: one row per nurse, day of the plan and shift id."""

DAY_CASE_AREA = "DAY"
"""Prefix of the day-case trolley areas' room ids (``DAY/female/18_to_64``, ...)."""

WORKLOAD_PER_PATIENT = 2
"""Workload units a recovering patient makes in a shift; a nurse absorbs ``2 x patients_per_nurse``."""
WORKLOAD_DAY_OF_SURGERY = 3
"""Workload units in each shift of the day of surgery (post-operative observations)."""
_GENDER = {"female": "A", "male": "B"}


@dataclass(frozen=True)
class PlanWeights:
    """The hospital's price of each soft term of the plan (IHTC weights, per unit of each term).

    Attributes
    ----------
    bay_age_mix
        Per bay-day and age-group step between the youngest and oldest patient in the bay.
    nurse_skill_shortfall
        Per patient-shift with a nurse below the skill required.
    continuity_of_care
        Per distinct nurse a patient sees over the stay.
    nurse_excess_workload
        Per workload unit beyond a nurse's capacity in a shift.
    open_theatre
        Per theatre-day used; 0 because block sessions are staffed whether used or not.
    surgeon_transfer
        Per extra theatre a firm works in on a day (firms operate in their own theatre).
    delay_day
        Per day a case waits past its earliest day.
    unscheduled_optional
        Per optional case left off the plan.
    """

    bay_age_mix: int = 2
    nurse_skill_shortfall: int = 5
    continuity_of_care: int = 1
    nurse_excess_workload: int = 10
    open_theatre: int = 0
    surgeon_transfer: int = 50
    delay_day: int = 10
    unscheduled_optional: int = 200

    def to_ihtc(self) -> Weights:
        """The same weights as an IHTC :class:`~scheduler.ihtc.instance.Weights`."""
        return Weights(
            room_mixed_age=self.bay_age_mix,
            room_nurse_skill=self.nurse_skill_shortfall,
            continuity_of_care=self.continuity_of_care,
            nurse_excessive_workload=self.nurse_excess_workload,
            open_operating_theater=self.open_theatre,
            surgeon_transfer=self.surgeon_transfer,
            patient_delay=self.delay_day,
            unscheduled_optional=self.unscheduled_optional,
        )


@dataclass(frozen=True)
class SurgicalInstance:
    """An IHTC instance built from the hospital, with what is needed to read its plans back.

    Attributes
    ----------
    instance
        The IHTC-2024 instance.
    waiting_list
        The cases (:data:`~scheduler.surgery.waiting_list.WAITING_LIST_SCHEMA`), in instance order.
    start
        Local date of day 0.
    firms
        The surgical firms (IHTC surgeons).
    bays
        The ward bays (IHTC rooms other than the day-case areas).
    weights
        The prices of the soft terms.
    overflow_occupants
        Occupants that found no bed in the elective bays (left out of the instance).
    """

    instance: Instance
    waiting_list: pl.DataFrame
    start: date
    firms: tuple[SurgicalFirm, ...]
    bays: tuple[Bay, ...]
    weights: PlanWeights
    overflow_occupants: tuple[str, ...] = field(default=())

    @property
    def ward_of_room(self) -> dict[str, str]:
        """Ward of each room id (``DAY`` for the day-case areas)."""
        wards = {bay.id: bay.ward for bay in self.bays}
        for room in self.instance.rooms:
            wards.setdefault(room.id, DAY_CASE_AREA)
        return wards

    @property
    def theatre_of_firm(self) -> dict[str, str]:
        """Home theatre of each firm."""
        return {firm.id: firm.theatre for firm in self.firms}


def _stay_vectors(stay_days: int, shifts: int, day_case: bool) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if day_case:
        return (WORKLOAD_PER_PATIENT,) + (0,) * (shifts - 1), (0,) * shifts
    workload = [WORKLOAD_DAY_OF_SURGERY] * shifts + [WORKLOAD_PER_PATIENT] * (shifts * (stay_days - 1))
    skill = [1] * shifts + [0] * (shifts * (stay_days - 1))
    return tuple(workload), tuple(skill)


def _place_occupants(
    occupants: pl.DataFrame, bays: tuple[Bay, ...], days: int, shifts: int
) -> tuple[list[Occupant], list[str]]:
    """Put each occupant in a bay of their ward with a free bed and no patient of the other sex."""
    free = {bay.id: bay.beds for bay in bays}
    sex_of_bay: dict[str, str] = {}
    placed: list[Occupant] = []
    overflow: list[str] = []
    for row, occupant in enumerate(occupants.iter_rows(named=True)):
        sex = occupant["sex"] if occupant["sex"] in SEXES else SEXES[row % 2]
        age = occupant["age_group"] if occupant["age_group"] in AGE_GROUPS else AGE_GROUPS[1]
        stay = min(max(int(occupant["remaining_days"] or 1), 1), days)
        room = next(
            (
                bay.id
                for bay in bays
                if bay.ward == occupant["ward"] and free[bay.id] > 0 and sex_of_bay.get(bay.id, sex) == sex
            ),
            None,
        )
        if room is None:
            overflow.append(str(occupant["patient_id"]))
            continue
        free[room] -= 1
        sex_of_bay[room] = sex
        placed.append(
            Occupant(
                id=str(occupant["patient_id"]),
                gender=_GENDER[sex],
                age_group=age,
                length_of_stay_days=stay,
                workload_produced=(WORKLOAD_PER_PATIENT,) * (shifts * stay),
                skill_level_required=(0,) * (shifts * stay),
                room_id=room,
            )
        )
    return placed, overflow


def _nurses(
    scenario: Scenario,
    elective_beds: Mapping[str, int],
    days: int,
    roster: pl.DataFrame | None,
) -> list[Nurse]:
    shift_ids = [s.id for s in scenario.hospital.shifts]
    if roster is not None:
        missing = set(NURSE_ROSTER_SCHEMA) - set(roster.columns)
        if missing:
            raise ValueError(f"nurse roster lacks column(s) {sorted(missing)}")
        ratios = {}
        for shift_id in shift_ids:
            on_duty = ward_nurses_on_duty(scenario, elective_beds, shift_id, 0)
            ratios[shift_id] = min((ratio for _, _, ratio in on_duty), default=5.0)
        shifts_of: dict[str, list[WorkingShift]] = {}
        for row, (nurse, day, shift_id) in enumerate(roster.select(list(NURSE_ROSTER_SCHEMA)).iter_rows()):
            if shift_id not in ratios:
                raise ValueError(f"nurse roster row {row}: unknown shift '{shift_id}'")
            if 0 <= day < days:
                load = math.floor(WORKLOAD_PER_PATIENT * ratios[shift_id])
                shifts_of.setdefault(str(nurse), []).append(WorkingShift(int(day), shift_id, load))
        return [Nurse(nurse, 1, tuple(shifts)) for nurse, shifts in shifts_of.items()]
    working: dict[str, list[WorkingShift]] = {}
    for day in range(days):
        for shift_id in shift_ids:
            for pool, count, ratio in ward_nurses_on_duty(scenario, elective_beds, shift_id, day):
                load = math.floor(WORKLOAD_PER_PATIENT * ratio)
                for j in range(count):
                    working.setdefault(f"{pool}/{shift_id}/{j + 1}", []).append(
                        WorkingShift(day, shift_id, load)
                    )
    return [Nurse(nurse, 1, tuple(shifts)) for nurse, shifts in working.items()]


def nurse_roster_from_assignments(
    scenario: Scenario,
    assignments: pl.DataFrame,
    start: date,
    days: int,
    elective_beds: Mapping[str, int],
) -> tuple[pl.DataFrame, frozenset[int]]:
    """The nurses of a nurse roster on duty on the elective bays, and the plan days the roster covers.

    On each day and shift, a surgical ward's rostered nurses look after its emergency and elective
    patients alike; the elective bays get the share of them that elective beds are of the ward's beds,
    rounded up (as :func:`scheduler.surgery.hospital.ward_nurses_on_duty` shares the establishment), the
    first nurses by id.

    Parameters
    ----------
    scenario
        The hospital (bed overrides apply).
    assignments
        Worked shifts with columns ``nurse_id``, ``day`` (local date), ``shift`` and ``unit_id`` (e.g. the
        published roster plan's, ``scheduler.roster.from_scenario.ROSTER_ASSIGNMENTS_SCHEMA``).
    start
        Local date of day 0 of the plan.
    days
        Days in the plan.
    elective_beds
        Beds of each surgical ward offered to electives
        (:func:`scheduler.surgery.hospital.elective_beds_by_ward`).

    Returns
    -------
    (polars.DataFrame, frozenset of int)
        :data:`NURSE_ROSTER_SCHEMA` rows, and the days of the plan with at least one rostered shift on any
        unit (days outside the roster's horizon are not covered).
    """
    wards = {ward for ward, beds in elective_beds.items() if beds > 0}
    for column in ("nurse_id", "day", "shift", "unit_id"):
        if column not in assignments.columns:
            raise ValueError(f"nurse roster assignments lack column '{column}'")
    frame = assignments.select("nurse_id", "day", "shift", "unit_id").with_columns(
        (pl.col("day").cast(pl.Date) - pl.lit(start)).dt.total_days().cast(pl.Int64).alias("index")
    )
    frame = frame.filter(pl.col("index").is_between(0, days - 1))
    covered = frozenset(int(d) for d in frame.get_column("index").unique().to_list())
    on_duty: dict[tuple[str, int, str], list[str]] = {}
    for nurse, ward, day, shift_id in (
        frame.filter(pl.col("unit_id").is_in(sorted(wards)))
        .select("nurse_id", "unit_id", "index", "shift")
        .iter_rows()
    ):
        on_duty.setdefault((ward, day, shift_id), []).append(nurse)
    rows: list[tuple[str, int, str]] = []
    for (ward, day, shift_id), nurses in sorted(on_duty.items()):
        beds = beds_on(scenario, ward, day)
        share = min(1.0, elective_beds[ward] / beds) if beds > 0 else 0.0
        rows += [(n, day, shift_id) for n in sorted(nurses)[: math.ceil(len(nurses) * share - 1e-9)]]
    return pl.DataFrame(rows, schema=NURSE_ROSTER_SCHEMA, orient="row"), covered


def build_surgical_instance(
    scenario: Scenario,
    waiting_list: pl.DataFrame,
    start: date,
    days: int,
    *,
    holiday_days: Iterable[int] = (),
    occupants: pl.DataFrame | None = None,
    roster: pl.DataFrame | None = None,
    reserved_beds: Mapping[str, int] | None = None,
    bay_size: int = 4,
    weights: PlanWeights | None = None,
    name: str = "surgical-plan",
) -> SurgicalInstance:
    """Map the hospital and its waiting list to an IHTC-2024 instance.

    Parameters
    ----------
    scenario
        The hospital and its overrides.
    waiting_list
        Cases with :data:`~scheduler.surgery.waiting_list.WAITING_LIST_SCHEMA`.
    start
        Local date of day 0 (sets the weekday of each day, hence the sessions).
    days
        Days in the plan.
    holiday_days
        Days of the plan that are public holidays (no elective sessions).
    occupants
        Elective patients in a surgical ward bed at day 0 (:data:`OCCUPANTS_SCHEMA`).
    roster
        Nurses rostered on the elective bays (:data:`NURSE_ROSTER_SCHEMA`); the staff pools'
        establishment when absent.
    reserved_beds
        Beds per ward kept for emergencies; the expected emergency census when absent.
    bay_size
        Beds per bay [beds].
    weights
        Prices of the soft terms (:class:`PlanWeights` defaults when absent).
    name
        Name of the instance.

    Returns
    -------
    SurgicalInstance

    Raises
    ------
    WaitingListError
        When the list has a missing column, a bad value or a firm the scenario does not have.
    ValueError
        When the hospital has no elective bed or no surgical firm.
    """
    firms = surgical_firms(scenario, start, days, holiday_days)
    if not firms:
        raise ValueError("the scenario has no elective theatre session of a surgical service")
    check_waiting_list(waiting_list, days, firms)
    beds = elective_beds_by_ward(scenario, reserved_beds)
    bays = elective_bays(beds, bay_size)
    if not bays:
        raise ValueError("no elective bed is left on the surgical wards once emergency beds are reserved")
    shift_ids = tuple(s.id for s in scenario.hospital.shifts)
    k = len(shift_ids)
    weights = weights or PlanWeights()

    cases = waiting_list.select(list(WAITING_LIST_SCHEMA))
    day_case_count: dict[str, int] = {}
    for row in cases.iter_rows(named=True):
        if row["length_of_stay_days"] == 0:
            area = f"{DAY_CASE_AREA}/{row['sex']}/{row['age_group']}"
            day_case_count[area] = day_case_count.get(area, 0) + 1
    rooms = [Room(bay.id, bay.beds) for bay in bays] + [
        Room(area, count) for area, count in sorted(day_case_count.items())
    ]
    bay_ids = tuple(bay.id for bay in bays)
    area_ids = tuple(sorted(day_case_count))

    patients = []
    for row in cases.iter_rows(named=True):
        day_case = row["length_of_stay_days"] == 0
        stay = max(int(row["length_of_stay_days"]), 1)
        workload, skill = _stay_vectors(stay, k, day_case)
        own_area = f"{DAY_CASE_AREA}/{row['sex']}/{row['age_group']}"
        incompatible = bay_ids + tuple(a for a in area_ids if a != own_area) if day_case else area_ids
        patients.append(
            SurgicalPatient(
                id=row["case_id"],
                mandatory=bool(row["mandatory"]),
                gender=_GENDER[row["sex"]],
                age_group=row["age_group"],
                length_of_stay_days=stay,
                surgery_release_day=int(row["earliest_day"]),
                surgery_due_day=int(row["due_day"]) if row["mandatory"] else None,
                surgery_duration_minutes=int(row["duration_minutes"]),
                surgeon_id=row["surgeon"],
                incompatible_room_ids=incompatible,
                workload_produced=workload,
                skill_level_required=skill,
            )
        )

    placed: list[Occupant] = []
    overflow: list[str] = []
    if occupants is not None and occupants.height:
        missing = set(OCCUPANTS_SCHEMA) - set(occupants.columns)
        if missing:
            raise ValueError(f"occupants frame lacks column(s) {sorted(missing)}")
        placed, overflow = _place_occupants(occupants, bays, days, k)

    nurses = _nurses(scenario, beds, days, roster)
    if area_ids:
        for shift_id in shift_ids:
            nurses.append(
                Nurse(
                    f"{DAY_CASE_AREA}/{shift_id}",
                    1,
                    tuple(WorkingShift(day, shift_id, 10_000) for day in range(days)),
                )
            )
    theatre_minutes: dict[str, list[int]] = {}
    for firm in firms:
        row_minutes = theatre_minutes.setdefault(firm.theatre, [0] * days)
        for day, minutes in enumerate(firm.minutes_by_day):
            row_minutes[day] += minutes
    instance = Instance(
        name=name,
        days=days,
        skill_levels=2,
        shift_types=shift_ids,
        age_groups=AGE_GROUPS,
        weights=weights.to_ihtc(),
        occupants=tuple(placed),
        patients=tuple(patients),
        surgeons=tuple(Surgeon(firm.id, firm.minutes_by_day) for firm in firms),
        operating_theaters=tuple(
            OperatingTheater(theatre, tuple(minutes)) for theatre, minutes in theatre_minutes.items()
        ),
        rooms=tuple(rooms),
        nurses=tuple(nurses),
    )
    return SurgicalInstance(instance, cases, start, firms, bays, weights, tuple(overflow))
