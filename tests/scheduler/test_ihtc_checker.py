"""The independent IHTC-2024 checker: reference costs, and one perturbation per hard rule."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from scheduler.ihtc.checker import evaluate
from scheduler.ihtc.instance import Instance, load_instance
from scheduler.ihtc.solution import (
    AdmissionPlan,
    NurseShiftAssignment,
    PatientAdmission,
    SolutionError,
    load_solution,
)

# Reference solution costs (../shared/data/README.md), all with zero violations.
REFERENCE_COSTS = {
    "test01": 3177,
    "test02": 1583,
    "test03": 10184,
    "test04": 2332,
    "test05": 15713,
    "test06": 18558,
    "test07": 17048,
    "test08": 24947,
    "test09": 20492,
    "test10": 49444,
    "i01": 3842,
    "i02": 1264,
    "i03": 10490,
    "i04": 1884,
    "i05": 12760,
    "i06": 10671,
    "i07": 4985,
    "i08": 6249,
    "i09": 6611,
    "i10": 20705,
}

# Cost split printed by the official validator in sol_test01.json ("costs" note).
TEST01_COST_BY_TERM = {
    "unscheduled_optional": 1200,
    "admission_delay_days": 660,
    "open_operating_theaters": 330,
    "age_mix": 35,
    "skill_shortfall": 43,
    "excess_workload": 24,
    "continuity_of_care": 885,
    "surgeon_transfers": 0,
}


def _read(shared_data: Path, name: str) -> tuple[Instance, AdmissionPlan]:
    folder = shared_data / "ihtc2024"
    return load_instance(folder / "instances" / f"{name}.json"), load_solution(
        folder / "solutions" / f"sol_{name}.json"
    )


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(REFERENCE_COSTS))
def test_reference_solution_cost_is_reproduced_exactly(shared_data: Path, name: str) -> None:
    instance, plan = _read(shared_data, name)
    evaluation = evaluate(instance, plan)
    assert evaluation.violations.total == 0, evaluation.violations.as_dict()
    assert evaluation.feasible
    assert evaluation.total_cost == REFERENCE_COSTS[name]


@pytest.mark.shared_data
def test_cost_split_matches_the_validator_on_test01(shared_data: Path) -> None:
    instance, plan = _read(shared_data, "test01")
    assert evaluate(instance, plan).cost_by_term == TEST01_COST_BY_TERM


# --- perturbations: each creates one kind of hard violation ----------------------------------------------
@pytest.fixture(scope="module")
def test01(shared_data: Path) -> tuple[Instance, AdmissionPlan]:
    return _read(shared_data, "test01")


def _replace_admission(plan: AdmissionPlan, patient_id: str, **changes: object) -> AdmissionPlan:
    admissions = tuple(
        dataclasses.replace(a, **changes) if a.patient_id == patient_id else a for a in plan.admissions
    )
    return dataclasses.replace(plan, admissions=admissions)


def _without_patient(plan: AdmissionPlan, patient_id: str) -> AdmissionPlan:
    return dataclasses.replace(
        plan,
        admissions=tuple(a for a in plan.admissions if a.patient_id != patient_id),
        unscheduled_patient_ids=(*plan.unscheduled_patient_ids, patient_id),
    )


def _only_violation(instance: Instance, plan: AdmissionPlan) -> dict[str, int]:
    return {name: count for name, count in evaluate(instance, plan).violations.as_dict().items() if count}


@pytest.mark.shared_data
def test_gender_mix_is_counted(test01: tuple[Instance, AdmissionPlan]) -> None:
    instance, plan = test01
    # Occupant a0 (gender A) is alone in r4 on days 0..3; a waiting patient of gender B joins on day 3.
    occupant = next(o for o in instance.occupants if o.id == "a0")
    assert occupant.gender == "A" and occupant.room_id == "r4"
    patient = next(
        p
        for p in instance.patients
        if p.gender == "B" and not p.mandatory and p.id not in plan.admission_by_patient
    )
    extra = PatientAdmission(patient.id, 3, "r4", "t0")
    changed = dataclasses.replace(
        plan,
        admissions=(*plan.admissions, extra),
        unscheduled_patient_ids=tuple(i for i in plan.unscheduled_patient_ids if i != patient.id),
    )
    before = evaluate(instance, plan).violations
    after = evaluate(instance, changed).violations
    assert after.gender_mix > before.gender_mix == 0


@pytest.mark.shared_data
def test_room_compatibility_is_counted(test01: tuple[Instance, AdmissionPlan]) -> None:
    instance, plan = test01
    admitted = plan.admission_by_patient
    patient = next(p for p in instance.patients if p.incompatible_room_ids and p.id in admitted)
    changed = _replace_admission(plan, patient.id, room_id=patient.incompatible_room_ids[0])
    assert evaluate(instance, changed).violations.room_compatibility == 1


@pytest.mark.shared_data
def test_surgeon_and_theater_overtime_are_counted(test01: tuple[Instance, AdmissionPlan]) -> None:
    instance, plan = test01
    # Move every admitted patient to one day in one theater: far beyond any surgeon's or theater's minutes.
    admissions = tuple(
        dataclasses.replace(a, admission_day=13, operating_theater_id="t0") for a in plan.admissions
    )
    violations = evaluate(instance, dataclasses.replace(plan, admissions=admissions)).violations
    total_minutes = sum(instance.patient_by_id[a.patient_id].surgery_duration_minutes for a in admissions)
    surgeon = instance.surgeons[0]
    assert len(instance.surgeons) == 1
    assert violations.surgeon_overtime_minutes == total_minutes - surgeon.max_surgery_minutes[13]
    theater = instance.operating_theater_by_id["t0"]
    assert violations.theater_overtime_minutes == total_minutes - theater.availability_minutes[13]


@pytest.mark.shared_data
def test_surgeon_overtime_on_an_absent_day_equals_the_minutes(test01: tuple[Instance, AdmissionPlan]) -> None:
    instance, plan = test01
    surgeon = instance.surgeons[0]
    absent_day = surgeon.max_surgery_minutes.index(0)
    admission = plan.admissions[0]
    minutes = instance.patient_by_id[admission.patient_id].surgery_duration_minutes
    changed = _replace_admission(plan, admission.patient_id, admission_day=absent_day)
    violations = evaluate(instance, changed).violations
    assert violations.surgeon_overtime_minutes == minutes


@pytest.mark.shared_data
def test_mandatory_unscheduled_is_counted(test01: tuple[Instance, AdmissionPlan]) -> None:
    instance, plan = test01
    mandatory = [p.id for p in instance.patients if p.mandatory][:2]
    changed = _without_patient(_without_patient(plan, mandatory[0]), mandatory[1])
    assert _only_violation(instance, changed) == {"mandatory_unscheduled": 2}


@pytest.mark.shared_data
def test_admission_window_is_counted(test01: tuple[Instance, AdmissionPlan]) -> None:
    instance, plan = test01
    admitted = plan.admission_by_patient
    patient = next(
        p for p in instance.patients if p.mandatory and p.surgery_release_day > 0 and p.id in admitted
    )
    early = _replace_admission(plan, patient.id, admission_day=patient.surgery_release_day - 1)
    assert evaluate(instance, early).violations.admission_window == 1
    assert patient.surgery_due_day is not None and patient.surgery_due_day < instance.days - 1
    late = _replace_admission(plan, patient.id, admission_day=patient.surgery_due_day + 1)
    assert evaluate(instance, late).violations.admission_window == 1


@pytest.mark.shared_data
def test_room_capacity_is_counted(test01: tuple[Instance, AdmissionPlan]) -> None:
    instance, plan = test01
    # Put every admitted patient of gender A into room r0: the excess over its beds, day by day.
    gender_a = {p.id for p in instance.patients if p.gender == "A"}
    admissions = tuple(
        dataclasses.replace(a, room_id="r0") if a.patient_id in gender_a else a for a in plan.admissions
    )
    changed = dataclasses.replace(plan, admissions=admissions)
    expected = 0
    for day in range(instance.days):
        present = sum(
            1
            for a in admissions
            if a.room_id == "r0"
            and a.admission_day
            <= day
            < a.admission_day + instance.patient_by_id[a.patient_id].length_of_stay_days
        )
        present += sum(1 for o in instance.occupants if o.room_id == "r0" and day < o.length_of_stay_days)
        expected += max(0, present - instance.room_by_id["r0"].capacity_beds)
    assert expected > 0
    assert evaluate(instance, changed).violations.room_capacity == expected


@pytest.mark.shared_data
def test_nurse_outside_roster_is_counted(test01: tuple[Instance, AdmissionPlan]) -> None:
    instance, plan = test01
    nurse = instance.nurses[0]
    rostered = {(ws.day, ws.shift) for ws in nurse.working_shifts}
    day, shift = next(
        (d, s) for d in range(instance.days) for s in instance.shift_types if (d, s) not in rostered
    )
    changed = dataclasses.replace(
        plan, nurse_assignments=(*plan.nurse_assignments, NurseShiftAssignment(nurse.id, day, shift, ("r0",)))
    )
    assert evaluate(instance, changed).violations.nurse_presence == 1


@pytest.mark.shared_data
def test_uncovered_room_shift_is_counted(test01: tuple[Instance, AdmissionPlan]) -> None:
    instance, plan = test01
    # Occupant a0 is in r4 on days 0..3: drop r4 from every assignment of day 1, early shift.
    assignments = tuple(
        dataclasses.replace(a, room_ids=tuple(r for r in a.room_ids if r != "r4"))
        if (a.day, a.shift) == (1, "early")
        else a
        for a in plan.nurse_assignments
    )
    changed = dataclasses.replace(plan, nurse_assignments=assignments)
    assert _only_violation(instance, changed) == {"uncovered_room_shifts": 1}


@pytest.mark.shared_data
def test_unknown_ids_are_rejected(test01: tuple[Instance, AdmissionPlan]) -> None:
    instance, plan = test01
    first = plan.admissions[0].patient_id
    with pytest.raises(SolutionError, match="unknown room 'r99'"):
        evaluate(instance, _replace_admission(plan, first, room_id="r99"))
    with pytest.raises(SolutionError, match="outside the horizon"):
        evaluate(instance, _replace_admission(plan, first, admission_day=instance.days))


@pytest.mark.shared_data
def test_empty_plan_costs_only_unscheduled_and_is_infeasible(test01: tuple[Instance, AdmissionPlan]) -> None:
    instance, _ = test01
    evaluation = evaluate(instance, AdmissionPlan((), ()))
    optional = sum(1 for p in instance.patients if not p.mandatory)
    mandatory = len(instance.patients) - optional
    assert evaluation.raw_costs.unscheduled_optional == optional
    assert evaluation.violations.mandatory_unscheduled == mandatory
    # occupants are still in bed and nobody covers them
    occupied_room_days = {(o.room_id, d) for o in instance.occupants for d in range(o.length_of_stay_days)}
    assert evaluation.violations.uncovered_room_shifts == 3 * len(occupied_room_days)
