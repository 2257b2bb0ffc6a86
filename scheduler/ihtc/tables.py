"""Index-based tables of an instance for the solver (ids become positions, lists become arrays).

Only the solver uses these tables; the checker reads the instance directly, so that the two stay independent.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.ihtc.instance import Instance

__all__ = ["NO_NURSE", "ProblemTables", "build_tables"]

NO_NURSE = -1
"""Marker for a room-shift that no nurse covers."""


@dataclass(frozen=True)
class ProblemTables:
    """The instance as integer tables; ``σ = day * shifts_per_day + k`` is the global shift index.

    Patients (``patient_*``) are the surgical patients in instance order; occupants (``occupant_*``) follow
    the same naming. Stays are truncated at the horizon when used.
    """

    instance: Instance
    days: int
    shifts_per_day: int
    shift_count: int
    # patients
    patient_count: int
    patient_mandatory: tuple[bool, ...]
    patient_gender_a: tuple[bool, ...]
    patient_age: tuple[int, ...]
    patient_length_of_stay: tuple[int, ...]
    patient_release_day: tuple[int, ...]
    patient_last_day: tuple[int, ...]
    patient_surgery_minutes: tuple[int, ...]
    patient_surgeon: tuple[int, ...]
    patient_compatible_rooms: tuple[tuple[int, ...], ...]
    patient_workload: tuple[tuple[int, ...], ...]
    patient_skill_required: tuple[tuple[int, ...], ...]
    # occupants
    occupant_gender_a: tuple[bool, ...]
    occupant_age: tuple[int, ...]
    occupant_length_of_stay: tuple[int, ...]
    occupant_room: tuple[int, ...]
    occupant_workload: tuple[tuple[int, ...], ...]
    occupant_skill_required: tuple[tuple[int, ...], ...]
    # resources
    room_count: int
    room_capacity: tuple[int, ...]
    theater_count: int
    theater_minutes: tuple[tuple[int, ...], ...]
    surgeon_count: int
    surgeon_minutes: tuple[tuple[int, ...], ...]
    nurse_count: int
    nurse_skill: tuple[int, ...]
    nurse_max_load: tuple[tuple[int, ...], ...]
    """``nurse_max_load[n][σ]``: the nurse's maximum load in shift σ, or -1 when she is not rostered."""
    nurses_on_shift: tuple[tuple[int, ...], ...]
    """``nurses_on_shift[σ]``: the nurses rostered in shift σ."""
    age_group_count: int

    def patient_stay_days(self, patient: int, admission_day: int) -> range:
        """Days of the horizon a patient admitted on ``admission_day`` spends in bed."""
        return range(admission_day, min(admission_day + self.patient_length_of_stay[patient], self.days))

    def occupant_stay_days(self, occupant: int) -> range:
        """Days of the horizon an occupant spends in bed."""
        return range(0, min(self.occupant_length_of_stay[occupant], self.days))


def build_tables(instance: Instance) -> ProblemTables:
    """Turn an instance into :class:`ProblemTables`.

    Parameters
    ----------
    instance
        A validated instance.

    Returns
    -------
    ProblemTables
        Integer tables indexed by position in the instance's lists.
    """
    days = instance.days
    shifts_per_day = len(instance.shift_types)
    shift_count = days * shifts_per_day
    room_index = {room.id: r for r, room in enumerate(instance.rooms)}
    surgeon_index = {surgeon.id: s for s, surgeon in enumerate(instance.surgeons)}
    age_index = {name: g for g, name in enumerate(instance.age_groups)}
    shift_index = {name: k for k, name in enumerate(instance.shift_types)}
    max_load = [[-1] * shift_count for _ in instance.nurses]
    for n, nurse in enumerate(instance.nurses):
        for working_shift in nurse.working_shifts:
            max_load[n][working_shift.day * shifts_per_day + shift_index[working_shift.shift]] = (
                working_shift.max_load
            )
    nurses_on_shift = tuple(
        tuple(n for n in range(len(instance.nurses)) if max_load[n][sigma] >= 0)
        for sigma in range(shift_count)
    )
    patients = instance.patients
    return ProblemTables(
        instance=instance,
        days=days,
        shifts_per_day=shifts_per_day,
        shift_count=shift_count,
        patient_count=len(patients),
        patient_mandatory=tuple(p.mandatory for p in patients),
        patient_gender_a=tuple(p.gender == "A" for p in patients),
        patient_age=tuple(age_index[p.age_group] for p in patients),
        patient_length_of_stay=tuple(p.length_of_stay_days for p in patients),
        patient_release_day=tuple(p.surgery_release_day for p in patients),
        patient_last_day=tuple(
            p.surgery_due_day if p.mandatory and p.surgery_due_day is not None else days - 1 for p in patients
        ),
        patient_surgery_minutes=tuple(p.surgery_duration_minutes for p in patients),
        patient_surgeon=tuple(surgeon_index[p.surgeon_id] for p in patients),
        patient_compatible_rooms=tuple(
            tuple(r for r, room in enumerate(instance.rooms) if room.id not in set(p.incompatible_room_ids))
            for p in patients
        ),
        patient_workload=tuple(p.workload_produced for p in patients),
        patient_skill_required=tuple(p.skill_level_required for p in patients),
        occupant_gender_a=tuple(o.gender == "A" for o in instance.occupants),
        occupant_age=tuple(age_index[o.age_group] for o in instance.occupants),
        occupant_length_of_stay=tuple(o.length_of_stay_days for o in instance.occupants),
        occupant_room=tuple(room_index[o.room_id] for o in instance.occupants),
        occupant_workload=tuple(o.workload_produced for o in instance.occupants),
        occupant_skill_required=tuple(o.skill_level_required for o in instance.occupants),
        room_count=len(instance.rooms),
        room_capacity=tuple(room.capacity_beds for room in instance.rooms),
        theater_count=len(instance.operating_theaters),
        theater_minutes=tuple(t.availability_minutes for t in instance.operating_theaters),
        surgeon_count=len(instance.surgeons),
        surgeon_minutes=tuple(s.max_surgery_minutes for s in instance.surgeons),
        nurse_count=len(instance.nurses),
        nurse_skill=tuple(nurse.skill_level for nurse in instance.nurses),
        nurse_max_load=tuple(tuple(row) for row in max_load),
        nurses_on_shift=nurses_on_shift,
        age_group_count=len(instance.age_groups),
    )
