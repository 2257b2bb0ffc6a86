"""Independent checker of IHTC-2024 admission plans, written from the problem statement only.

It counts every hard-constraint violation (H1-H9) and every soft cost term (S1-S8) of
``../shared/data/ihtc2024/PROBLEM.md`` (sections 6-8) by direct enumeration, without any code shared with the
solver, so that it can judge the solver's answers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, fields

from scheduler.ihtc.instance import Instance, Weights
from scheduler.ihtc.solution import AdmissionPlan, check_plan_references

__all__ = ["COST_TERM_WEIGHT", "Evaluation", "HardViolations", "SoftCosts", "evaluate"]


@dataclass(frozen=True)
class HardViolations:
    """Violation count of each hard constraint; a plan is feasible when all are zero.

    Attributes
    ----------
    gender_mix
        H1: per room and day, the smaller of the two gender counts.
    room_compatibility
        H2: admitted patients placed in a room they are incompatible with.
    surgeon_overtime_minutes
        H3: minutes of surgery beyond a surgeon's daily maximum [minutes].
    theater_overtime_minutes
        H4: minutes of surgery beyond an operating theater's daily availability [minutes].
    mandatory_unscheduled
        H5: mandatory patients not admitted.
    admission_window
        H6: admitted patients outside their release..due (or release..last day) window.
    room_capacity
        H7: persons beyond a room's beds, summed over rooms and days.
    nurse_presence
        H8: nurse shifts with rooms that are not in the nurse's roster (the official validator rejects
        such a file outright; here they are counted and the nurse covers nothing in that shift).
    uncovered_room_shifts
        H9: shifts of occupied rooms with no nurse covering them.
    """

    gender_mix: int
    room_compatibility: int
    surgeon_overtime_minutes: int
    theater_overtime_minutes: int
    mandatory_unscheduled: int
    admission_window: int
    room_capacity: int
    nurse_presence: int
    uncovered_room_shifts: int

    @property
    def total(self) -> int:
        """Sum of all violation counts ("Total violations" of the official validator)."""
        return sum(getattr(self, item.name) for item in fields(self))

    def as_dict(self) -> dict[str, int]:
        """Violation counts by constraint name."""
        return {item.name: getattr(self, item.name) for item in fields(self)}


@dataclass(frozen=True)
class SoftCosts:
    """Raw (unweighted) value of each soft cost term.

    Attributes
    ----------
    age_mix
        S1: spread of age-group positions per occupied room and day.
    skill_shortfall
        S2: skill levels missing per person and shift (required minus the covering nurse's level).
    continuity_of_care
        S3: distinct nurses seen by each person over the stay, summed.
    excess_workload
        S4: workload beyond each nurse's maximum per shift [workload units].
    open_operating_theaters
        S5: operating theater-days with at least one surgery.
    surgeon_transfers
        S6: extra operating theaters a surgeon works in on a day.
    admission_delay_days
        S7: days between release and admission, over admitted patients [days].
    unscheduled_optional
        S8: optional patients not admitted.
    """

    age_mix: int
    skill_shortfall: int
    continuity_of_care: int
    excess_workload: int
    open_operating_theaters: int
    surgeon_transfers: int
    admission_delay_days: int
    unscheduled_optional: int

    def as_dict(self) -> dict[str, int]:
        """Raw values by term name."""
        return {item.name: getattr(self, item.name) for item in fields(self)}


COST_TERM_WEIGHT: Mapping[str, str] = {
    "age_mix": "room_mixed_age",
    "skill_shortfall": "room_nurse_skill",
    "continuity_of_care": "continuity_of_care",
    "excess_workload": "nurse_excessive_workload",
    "open_operating_theaters": "open_operating_theater",
    "surgeon_transfers": "surgeon_transfer",
    "admission_delay_days": "patient_delay",
    "unscheduled_optional": "unscheduled_optional",
}
"""Name of the :class:`~scheduler.ihtc.instance.Weights` field that weighs each soft cost term."""


@dataclass(frozen=True)
class Evaluation:
    """Hard violations and soft costs of one plan.

    Attributes
    ----------
    violations
        Count per hard constraint.
    raw_costs
        Unweighted value per soft cost term.
    weights
        The instance's weights.
    """

    violations: HardViolations
    raw_costs: SoftCosts
    weights: Weights

    @property
    def cost_by_term(self) -> dict[str, int]:
        """Weighted cost per soft term (weight x raw value)."""
        return {
            term: raw * getattr(self.weights, COST_TERM_WEIGHT[term])
            for term, raw in self.raw_costs.as_dict().items()
        }

    @property
    def total_cost(self) -> int:
        """Objective: sum of the weighted soft costs (hard violations are not added)."""
        return sum(self.cost_by_term.values())

    @property
    def feasible(self) -> bool:
        """True when no hard constraint is violated."""
        return self.violations.total == 0


@dataclass(frozen=True)
class _Stay:
    """A person in a bed (occupant or admitted patient) as the cost rules see them."""

    person_id: str
    is_gender_a: bool
    age_position: int
    room_id: str
    first_day: int
    length_of_stay_days: int
    workload_produced: tuple[int, ...]
    skill_level_required: tuple[int, ...]


def evaluate(instance: Instance, plan: AdmissionPlan) -> Evaluation:
    """Count the hard violations and soft costs of a plan.

    Parameters
    ----------
    instance
        The instance.
    plan
        The plan to judge (for example read with :func:`~scheduler.ihtc.solution.load_solution`).

    Returns
    -------
    Evaluation
        Violation counts, raw and weighted costs, and the total cost.

    Raises
    ------
    SolutionError
        When the plan names an unknown patient, room, operating theater, nurse or shift, or an admission day
        outside the horizon (the official validator aborts on those too).

    Examples
    --------
    >>> evaluation = evaluate(instance, load_solution("sol_test01.json"))  # doctest: +SKIP
    >>> evaluation.total_cost, evaluation.feasible  # doctest: +SKIP
    (3177, True)
    """
    check_plan_references(instance, plan)
    days = instance.days
    shifts_per_day = len(instance.shift_types)
    shift_position = {name: k for k, name in enumerate(instance.shift_types)}
    age_position = {name: g for g, name in enumerate(instance.age_groups)}
    admissions = plan.admission_by_patient

    stays: list[_Stay] = [
        _Stay(
            person_id=occupant.id,
            is_gender_a=occupant.gender == "A",
            age_position=age_position[occupant.age_group],
            room_id=occupant.room_id,
            first_day=0,
            length_of_stay_days=occupant.length_of_stay_days,
            workload_produced=occupant.workload_produced,
            skill_level_required=occupant.skill_level_required,
        )
        for occupant in instance.occupants
    ]
    for patient in instance.patients:
        admission = admissions.get(patient.id)
        if admission is None:
            continue
        stays.append(
            _Stay(
                person_id=patient.id,
                is_gender_a=patient.gender == "A",
                age_position=age_position[patient.age_group],
                room_id=admission.room_id,
                first_day=admission.admission_day,
                length_of_stay_days=patient.length_of_stay_days,
                workload_produced=patient.workload_produced,
                skill_level_required=patient.skill_level_required,
            )
        )

    # Who is in which room on which day (stays are cut at the end of the horizon).
    present: dict[tuple[str, int], list[_Stay]] = defaultdict(list)
    for stay in stays:
        for day in range(stay.first_day, min(stay.first_day + stay.length_of_stay_days, days)):
            present[(stay.room_id, day)].append(stay)

    # Nurse coverage, read in file order: the last nurse read for a room-shift is "the" nurse (S2, S3),
    # every nurse listed gets the room's workload (S4).
    covering_nurse: dict[tuple[str, int], str] = {}
    rooms_of_nurse_shift: dict[tuple[str, int], list[str]] = defaultdict(list)
    rostered = {
        (nurse.id, ws.day, ws.shift): ws.max_load for nurse in instance.nurses for ws in nurse.working_shifts
    }
    nurse_presence = 0
    for assignment in plan.nurse_assignments:
        if not assignment.room_ids:
            continue
        if (assignment.nurse_id, assignment.day, assignment.shift) not in rostered:
            nurse_presence += 1
            continue
        global_shift = assignment.day * shifts_per_day + shift_position[assignment.shift]
        for room_id in assignment.room_ids:
            covering_nurse[(room_id, global_shift)] = assignment.nurse_id
            rooms_of_nurse_shift[(assignment.nurse_id, global_shift)].append(room_id)

    def workload(stay: _Stay, global_shift: int) -> int:
        return stay.workload_produced[global_shift - shifts_per_day * stay.first_day]

    def skill_required(stay: _Stay, global_shift: int) -> int:
        return stay.skill_level_required[global_shift - shifts_per_day * stay.first_day]

    # --- room-day rules: H1, H7, H9, S1 -------------------------------------------------------------------
    gender_mix = room_capacity = uncovered = age_mix = 0
    for (room_id, day), persons in present.items():
        gender_a = sum(1 for person in persons if person.is_gender_a)
        gender_mix += min(gender_a, len(persons) - gender_a)
        room_capacity += max(0, len(persons) - instance.room_by_id[room_id].capacity_beds)
        ages = [person.age_position for person in persons]
        age_mix += max(ages) - min(ages)
        for k in range(shifts_per_day):
            if (room_id, day * shifts_per_day + k) not in covering_nurse:
                uncovered += 1

    # --- S2 skill shortfall ------------------------------------------------------------------------------
    skill_shortfall = 0
    for (room_id, global_shift), nurse_id in covering_nurse.items():
        nurse_skill = instance.nurse_by_id[nurse_id].skill_level
        for person in present.get((room_id, global_shift // shifts_per_day), []):
            skill_shortfall += max(0, skill_required(person, global_shift) - nurse_skill)

    # --- S3 continuity of care ---------------------------------------------------------------------------
    continuity = 0
    for stay in stays:
        last_shift = shifts_per_day * min(stay.first_day + stay.length_of_stay_days, days)
        seen_by = {
            covering_nurse[(stay.room_id, global_shift)]
            for global_shift in range(shifts_per_day * stay.first_day, last_shift)
            if (stay.room_id, global_shift) in covering_nurse
        }
        continuity += len(seen_by)

    # --- S4 excess workload ------------------------------------------------------------------------------
    excess_workload = 0
    for (nurse_id, global_shift), room_ids in rooms_of_nurse_shift.items():
        day, k = divmod(global_shift, shifts_per_day)
        load = sum(
            workload(person, global_shift)
            for room_id in room_ids
            for person in present.get((room_id, day), [])
        )
        excess_workload += max(0, load - rostered[(nurse_id, day, instance.shift_types[k])])

    # --- patient rules: H2-H6, S5-S8 ---------------------------------------------------------------------
    room_compatibility = mandatory_unscheduled = admission_window = 0
    admission_delay = unscheduled_optional = 0
    surgeon_minutes: dict[tuple[str, int], int] = defaultdict(int)
    theater_minutes: dict[tuple[str, int], int] = defaultdict(int)
    theaters_of_surgeon_day: dict[tuple[str, int], set[str]] = defaultdict(set)
    for patient in instance.patients:
        admission = admissions.get(patient.id)
        if admission is None:
            if patient.mandatory:
                mandatory_unscheduled += 1
            else:
                unscheduled_optional += 1
            continue
        day = admission.admission_day
        if admission.room_id in patient.incompatible_room_ids:
            room_compatibility += 1
        last_day = patient.surgery_due_day if patient.mandatory else days - 1
        assert last_day is not None  # mandatory patients always have a due day
        if day < patient.surgery_release_day or day > last_day:
            admission_window += 1
        admission_delay += max(0, day - patient.surgery_release_day)
        surgeon_minutes[(patient.surgeon_id, day)] += patient.surgery_duration_minutes
        theater_minutes[(admission.operating_theater_id, day)] += patient.surgery_duration_minutes
        theaters_of_surgeon_day[(patient.surgeon_id, day)].add(admission.operating_theater_id)

    surgeon_overtime = sum(
        max(0, minutes - instance.surgeon_by_id[surgeon_id].max_surgery_minutes[day])
        for (surgeon_id, day), minutes in surgeon_minutes.items()
    )
    theater_overtime = sum(
        max(0, minutes - instance.operating_theater_by_id[theater_id].availability_minutes[day])
        for (theater_id, day), minutes in theater_minutes.items()
    )
    open_theaters = len(theater_minutes)
    surgeon_transfers = sum(max(0, len(theaters) - 1) for theaters in theaters_of_surgeon_day.values())

    return Evaluation(
        violations=HardViolations(
            gender_mix=gender_mix,
            room_compatibility=room_compatibility,
            surgeon_overtime_minutes=surgeon_overtime,
            theater_overtime_minutes=theater_overtime,
            mandatory_unscheduled=mandatory_unscheduled,
            admission_window=admission_window,
            room_capacity=room_capacity,
            nurse_presence=nurse_presence,
            uncovered_room_shifts=uncovered,
        ),
        raw_costs=SoftCosts(
            age_mix=age_mix,
            skill_shortfall=skill_shortfall,
            continuity_of_care=continuity,
            excess_workload=excess_workload,
            open_operating_theaters=open_theaters,
            surgeon_transfers=surgeon_transfers,
            admission_delay_days=admission_delay,
            unscheduled_optional=unscheduled_optional,
        ),
        weights=instance.weights,
    )
